package dexauth.cli;

import dexauth.errors.DomainException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** Entry point of {@code authctl}: the operator CLI and the engine Salt calls. */
@Command(name = "authctl",
        mixinStandardHelpOptions = true,
        versionProvider = VersionCommand.Provider.class,
        description = {
                "Manage user authentication (Dex OIDC) of a Salt-managed Kubernetes cluster.",
                "",
                "Configuration is read from --config, $AUTHCTL_CONFIG or /etc/dexauth/authctl.yaml.",
                "Secrets are never taken from the command line: they are prompted for (hidden) or read from stdin."
        },
        subcommands = {VersionCommand.class, LoginCommand.class, PasswdCommand.class, UserCommand.class,
                RoleCommand.class, IdpCommand.class, AdminCommand.class, TokenCommand.class,
                KubeconfigCommand.class, CredentialCommand.class, WhoamiCommand.class, LogoutCommand.class, ServeCommand.class, GuardCommand.class,
                SaltCommand.class, EngineCommand.class,
                CommandLine.HelpCommand.class},
        footer = {"", "Examples:",
                "  authctl version            show the versions of authctl and the Dex it targets",
                "  authctl salt ping          check salt-api and list the responding minions",
                "  authctl kubeconfig --merge      add a context to ~/.kube/config: kubectl logs you in by itself",
                "  authctl whoami             your Kubernetes username and groups",
                "  authctl token --email E    log in and print an ID token for kubectl --token",
                "  authctl login --email E    log in; later commands act with your rights",
                "  authctl user add E --role solution-admin    create a user",
                "  authctl passwd             change your own password",
                "  authctl idp add ldap corp --host ldap.example.com ...    connect an LDAP directory"})
public final class Main implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }

    private static String[] concat(String[]... parts) {
        return java.util.Arrays.stream(parts).flatMap(java.util.Arrays::stream).toArray(String[]::new);
    }

    public static CommandLine commandLine() {
        // Descriptions are written as lines of up to 100 columns; picocli's 80 would re-wrap them.
        CommandLine cl = new CommandLine(new Main()).setUsageHelpWidth(100);
        cl.getCommandSpec().usageMessage().footer(concat(cl.getCommandSpec().usageMessage().footer(),
                new String[] {"", "Exit codes (every command):"}, ExitCode.table()));
        // A failure prints one clear line (no stack trace) and exits non-zero.
        cl.setExecutionExceptionHandler((ex, line, parse) -> {
            line.getErr().println("authctl: " + Errors.describe(ex));
            if (ex instanceof UserError ue) return ue.exitCode();
            return ex instanceof DomainException de ? ExitCode.of(de).code : ExitCode.FAILED.code;
        });
        return cl;
    }
}
