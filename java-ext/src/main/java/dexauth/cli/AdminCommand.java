package dexauth.cli;

import dexauth.dex.DexApi;
import dexauth.dex.PasswordHasher;
import dexauth.users.UserService;
import io.fabric8.kubernetes.client.KubernetesClient;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.util.concurrent.Callable;

@Command(name = "admin", mixinStandardHelpOptions = true, description = "The super-admin created at bootstrap.",
        subcommands = {AdminCommand.Passwd.class, AdminCommand.Reset.class})
final class AdminCommand {
    @Command(name = "passwd", mixinStandardHelpOptions = true,
            description = "Change the super-admin's password (current one, then the new one twice).")
    static final class Passwd implements Callable<Integer> {
        @Mixin Session session;
        @Option(names = "--password-stdin", description = "Current and new password on stdin, one per line.")
        boolean stdin;

        @Override
        public Integer call() {
            return PasswdCommand.change(session, superadminEmail(session), stdin);
        }
    }

    @Command(name = "reset", mixinStandardHelpOptions = true,
            description = {"Give the super-admin a new one-time password, shown once (root on the bootstrap node,",
                    "with --break-glass). It must be changed before any role applies; its sessions end.",
                    "Also recreates a super-admin that Dex or the cluster lost."},
            footer = {"", "Example:", "  authctl admin reset --break-glass"})
    static final class Reset implements Callable<Integer> {
        @Mixin Session session;

        @Override
        public Integer call() {
            if (!session.breakGlass) {
                throw new UserError("admin reset needs --break-glass: it is the way back in when nobody knows the"
                        + " super-admin's password (root on the bootstrap node)");
            }
            String email = superadminEmail(session);
            try (KubernetesClient kube = session.adminKube(); DexApi dex = session.dex()) {
                UserService users = session.users(kube, dex, Session.BREAK_GLASS_ACTOR);
                char[] password = users.resetSuperAdmin(email, null);
                // The login guard's lockout of the super-admin ends too: the new password works at once.
                session.unlock(kube, email, null);
                try {
                    users.superAdminShown(email);
                    System.out.println("New one-time password of the super-admin " + email + " (shown once):");
                    System.out.println(new String(password));
                    System.out.println("Change it now: authctl passwd --email " + email);
                } finally {
                    PasswordHasher.wipe(password);
                }
            }
            return ExitCode.OK.code;
        }
    }

    private static String superadminEmail(Session session) {
        String email = session.cfg().users.superadminEmail;
        if (email == null) throw new UserError("users.superadminEmail is not set in the configuration file");
        return email;
    }
}
