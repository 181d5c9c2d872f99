package dexauth.cli;

import dexauth.pki.TrustStores;
import dexauth.salt.SaltApi;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

@Command(name = "salt", description = "Talk to the cluster's salt-api.",
        subcommands = {SaltCommand.Ping.class})
final class SaltCommand {

    /** Options shared by every salt-api command. */
    static final class Connection {
        @Option(names = "--config", description = "authctl configuration file.")
        Path config;

        @Option(names = "--password-stdin",
                description = "Read the salt-api password from stdin (otherwise: hidden prompt; not needed for eauth auto).")
        boolean passwordStdin;

        SaltApi open() {
            return SaltCommand.open(CliConfig.load(config), passwordStdin);
        }
    }

    /** Logs in to salt-api as the configuration says; the password comes from stdin or a hidden prompt. */
    static SaltApi open(CliConfig cfg, boolean passwordStdin) {
        return open(cfg, passwordStdin, "--password-stdin");
    }

    static SaltApi open(CliConfig cfg, boolean passwordStdin, String stdinOption) {
        if (cfg.saltApi.url == null || cfg.saltApi.url.isBlank()) {
            throw new UserError("saltApi.url is not set in the configuration file: set pillar dexauth:salt_api:url"
                    + " and apply dexauth.cli, or edit the file");
        }
        char[] password;
        if (passwordStdin) password = Passwords.line("salt-api password");
        else if ("auto".equals(cfg.saltApi.eauth)) password = "unused-by-eauth-auto".toCharArray();
        else password = Passwords.prompt("salt-api password for " + cfg.saltApi.username, stdinOption);
        try {
            return SaltApi.connect(URI.create(cfg.saltApi.url), cfg.saltApi.username, password, cfg.saltApi.eauth,
                    TrustStores.trusting(cfg.saltApi.caFile == null || cfg.saltApi.caFile.isBlank() ? null : Path.of(cfg.saltApi.caFile)));
        } catch (IOException e) {
            throw new UserError(e.getMessage());
        } catch (RuntimeException e) {
            throw new UserError("cannot log in to salt-api at " + cfg.saltApi.url + ": " + Errors.describe(e), ExitCode.SALT_API);
        } finally {
            java.util.Arrays.fill(password, '\0');
        }
    }

    @Command(name = "ping", mixinStandardHelpOptions = true,
            description = "Log in to salt-api, ping the minions and print those that respond.")
    static final class Ping implements Runnable {
        @CommandLine.Mixin
        Connection connection;

        @Option(names = "--target", defaultValue = "*", description = "Minion glob (default: ${DEFAULT-VALUE}).")
        String target;

        @Override
        public void run() {
            try (SaltApi api = connection.open()) {
                Map<String, Boolean> answers = api.ping(target);
                if (answers.isEmpty()) throw new UserError("no minion matching '" + target + "' responded", ExitCode.NOT_FOUND);
                answers.forEach((minion, ok) -> System.out.println(minion + (ok ? "  responding" : "  NOT responding")));
                List<String> up = api.minionsUp();
                System.out.println("master sees " + up.size() + " minion(s) up: " + String.join(", ", up));
            }
        }
    }
}
