package dexauth.cli;

import dexauth.dex.PasswordHasher;
import dexauth.dex.TokenClient;
import dexauth.pki.TrustStores;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.net.URI;
import java.nio.file.Path;
import java.util.concurrent.Callable;

@Command(name = "login", mixinStandardHelpOptions = true,
        description = {"Log in to Dex and keep the token: later commands act with your own rights.",
                "The password is asked at a hidden prompt (or read with --password-stdin); the",
                "token is stored with mode 0600 in ~/.config/authctl/ (or $AUTHCTL_HOME)."})
final class LoginCommand implements Callable<Integer> {
    @Option(names = "--config", description = "authctl configuration file.") Path config;
    @Option(names = "--email", required = true, description = "Your email (Dex login name).") String email;
    @Option(names = "--password-stdin", description = "Read the password from stdin.") boolean stdin;

    @Override
    public Integer call() throws Exception {
        CliConfig cfg = CliConfig.load(config);
        char[] pw = Passwords.existing(stdin, "Password for " + email);
        try {
            TokenClient client = new TokenClient(URI.create(cfg.dex.issuer), TrustStores.trusting(Path.of(cfg.dex.caFile)));
            TokenClient.Tokens t = client.passwordGrant(cfg.dex.clientId, cfg.dex.audienceClientId, email, pw);
            Session.saveToken(email, t.idToken(), t.expiresIn());
            System.out.println("logged in as " + email + " (token valid " + t.expiresIn() / 60 + " min)");
            return 0;
        } catch (TokenClient.LoginRefused e) {
            throw new UserError(e.getMessage(), 4);
        } finally {
            PasswordHasher.wipe(pw);
        }
    }
}
