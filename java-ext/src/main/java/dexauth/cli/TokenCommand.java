package dexauth.cli;

import dexauth.kubectl.TokenCache;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.concurrent.Callable;

@Command(name = "token", mixinStandardHelpOptions = true,
        description = {"Log in to Dex with an email and password and print an ID token for kubectl.",
                "The token's audience is the apiserver's client, so: kubectl --token \"$(authctl token ...)\"."},
        footer = {"", "Example:", "  authctl token --email admin@cluster.local --password-stdin < password-file"})
final class TokenCommand implements Callable<Integer> {
    @Option(names = "--config", description = "authctl configuration file.")
    Path config;

    @Option(names = "--email", required = true, description = "The user's email (Dex login name).")
    String email;

    @Option(names = "--password-stdin", description = "Read the password from stdin instead of a hidden prompt.")
    boolean passwordStdin;

    @Override
    public Integer call() {
        CliConfig cfg = CliConfig.load(config);
        // The same login as `authctl login` (password grant, verified token), but nothing is kept.
        TokenCache.Entry e = Session.operatorLogin(cfg).loginOnce(Session.withEmail(email, passwordStdin));
        System.out.println(e.idToken());
        return ExitCode.OK.code;
    }
}
