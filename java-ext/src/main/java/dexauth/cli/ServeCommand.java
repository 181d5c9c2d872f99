package dexauth.cli;

import dexauth.account.AccountService;
import dexauth.account.ServiceConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

@Command(name = "serve", mixinStandardHelpOptions = true,
        description = {"Run the account service: the web console and the JSON API that `authctl` uses without root.",
                "The chart runs it in its own Deployment; its settings file is rendered from pillar",
                "(dexauth:account) and the console client's secret comes from the environment.",
                "It stops on SIGTERM."})
final class ServeCommand implements Callable<Integer> {
    @Option(names = "--config", required = true, description = "The service's settings file (service.yaml).")
    Path config;

    @Override
    public Integer call() throws InterruptedException {
        return untilStopped(AccountService.start(ServiceConfig.load(config)), "account-service-stop");
    }

    /** Keeps a long-running service (the account service, the login guard) until SIGTERM, then closes it. */
    static int untilStopped(AutoCloseable service, String stopThread) throws InterruptedException {
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                service.close();
            } catch (Exception e) {
                System.err.println(stopThread + ": " + e.getClass().getSimpleName());
            }
            stopped.countDown();
        }, stopThread));
        stopped.await();
        return ExitCode.OK.code;
    }
}
