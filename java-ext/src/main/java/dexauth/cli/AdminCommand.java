package dexauth.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.util.concurrent.Callable;

@Command(name = "admin", mixinStandardHelpOptions = true, description = "The super-admin created at bootstrap.",
        subcommands = {AdminCommand.Passwd.class})
final class AdminCommand {
    @Command(name = "passwd", mixinStandardHelpOptions = true,
            description = "Change the super-admin's password (current one, then the new one twice).")
    static final class Passwd implements Callable<Integer> {
        @Mixin Session session;
        @Option(names = "--password-stdin", description = "Current and new password on stdin, one per line.")
        boolean stdin;

        @Override
        public Integer call() {
            String email = session.cfg().users.superadminEmail;
            if (email == null) throw new UserError("users.superadminEmail is not set in the configuration file");
            return PasswdCommand.change(session, email, stdin);
        }
    }
}
