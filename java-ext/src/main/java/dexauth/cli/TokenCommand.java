package dexauth.cli;

import dexauth.dex.PasswordHasher;
import dexauth.dex.TokenClient;
import dexauth.pki.TrustStores;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.net.URI;
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
    public Integer call() throws Exception {
        CliConfig cfg = CliConfig.load(config);
        if (cfg.dex.issuer == null || cfg.dex.caFile == null) {
            throw new UserError("dex.issuer and dex.caFile must be set in the configuration file"
                    + " (written by the dexauth.cli Salt state)");
        }
        char[] password = Passwords.existing(passwordStdin, "Password for " + email);
        try {
            TokenClient client = new TokenClient(URI.create(cfg.dex.issuer), TrustStores.trusting(Path.of(cfg.dex.caFile)));
            TokenClient.Tokens tokens = client.passwordGrant(cfg.dex.clientId, cfg.dex.audienceClientId, email, password);
            System.out.println(tokens.idToken());
            return ExitCode.OK.code;
        } finally {
            PasswordHasher.wipe(password);
        }
    }
}
