package dexauth.cli;

import dexauth.dex.DexApi;
import dexauth.dex.PasswordHasher;
import dexauth.users.UserService;
import io.fabric8.kubernetes.client.KubernetesClient;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.util.concurrent.Callable;

@Command(name = "passwd", mixinStandardHelpOptions = true,
        description = {"Change your own password: the current one, then the new one twice.",
                "Clears 'must change password', so your roles apply from now on. Works from any",
                "machine with the configuration file (issuer, CA): through the account service.",
                "With --password-stdin: current password on the first line, new one on the second."})
final class PasswdCommand implements Callable<Integer> {
    @Mixin Session session;
    @Option(names = "--email", description = "Whose password (default: the logged-in user).") String email;
    @Option(names = "--password-stdin", description = "Read current and new password from stdin.") boolean stdin;

    @Override
    public Integer call() {
        String who = email != null ? email : session.login().user();
        return change(session, who, stdin);
    }

    static int change(Session session, String who, boolean stdin) {
        UserService.checkEmail(who);
        char[] old = Passwords.existing(stdin, "Current password for " + who);
        char[] fresh = Passwords.newPassword(stdin, "New password");
        try {
            if (session.breakGlass) {
                // Root on the bootstrap node: the user proves the current password to Dex; the
                // must-change flag and bindings are updated with the admin kubeconfig.
                try (KubernetesClient kube = session.adminKube(); DexApi dex = session.dex()) {
                    session.users(kube, dex, who).changeOwnPassword(who, old, fresh);
                }
            } else {
                // Anywhere: log in with the current password (a must-change user has no session yet),
                // let the account service change it, then log in again: the change ended every session.
                String token = session.logInAs(who, old).idToken();
                session.accountApi(token).changeOwnPassword(old, fresh);
                session.logInAs(who, fresh);
            }
            System.out.println("password changed for " + who);
            return ExitCode.OK.code;
        } finally {
            PasswordHasher.wipe(old);
            PasswordHasher.wipe(fresh);
        }
    }
}
