package dexauth.cli;

import dexauth.kubectl.TokenCache;
import dexauth.kubectl.WorkstationLogin;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.concurrent.Callable;

@Command(name = "login", mixinStandardHelpOptions = true,
        description = {"Log in to Dex and keep the session: later commands act with your own rights.",
                "The password is asked at a hidden prompt (or read with --password-stdin). The tokens",
                "are kept with mode 0600 in ~/.config/authctl/ (or $AUTHCTL_HOME); the short-lived ID",
                "token is refreshed silently until the session ends (password change, `authctl logout`)."})
final class LoginCommand implements Callable<Integer> {
    @Option(names = "--config", description = "authctl configuration file.") Path config;
    @Option(names = "--email", required = true, description = "Your email (Dex login name).") String email;
    @Option(names = "--password-stdin", description = "Read the password from stdin.") boolean stdin;

    @Override
    public Integer call() {
        CliConfig cfg = CliConfig.load(config);
        WorkstationLogin.Interaction io = Session.withEmail(email, stdin);
        TokenCache.Entry e = Session.operatorLogin(cfg).logIn(io); // a refusal exits 4 through ExitCode
        System.out.println("logged in as " + e.user() + " (session kept until you log out or your password changes)");
        return 0;
    }
}
