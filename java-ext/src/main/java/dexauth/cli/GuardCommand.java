package dexauth.cli;

import dexauth.loginguard.proxy.GuardConfig;
import dexauth.loginguard.proxy.GuardProxy;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.concurrent.Callable;

@Command(name = "guard", mixinStandardHelpOptions = true,
        description = {"Run the login guard: the HTTPS endpoint of Dex's pod, in front of Dex (bound to 127.0.0.1).",
                "It locks an account after too many failed logins (counters in Kubernetes Leases, shared by",
                "every replica), limits failures per client address and answers every password attempt after",
                "the same time. The chart runs it beside Dex; its settings (guard.yaml) come from pillar",
                "dexauth:login_guard. It stops on SIGTERM."})
final class GuardCommand implements Callable<Integer> {
    @Option(names = "--config", required = true, description = "The guard's settings file (guard.yaml).")
    Path config;

    @Override
    public Integer call() throws Exception {
        return ServeCommand.untilStopped(GuardProxy.start(GuardConfig.load(config)), "login-guard-stop");
    }
}
