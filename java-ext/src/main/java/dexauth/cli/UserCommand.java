package dexauth.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dexauth.dex.DexApi;
import dexauth.dex.PasswordHasher;
import dexauth.errors.Causes;
import dexauth.errors.Invalid;
import dexauth.rbac.Role;
import dexauth.users.UserService;
import io.fabric8.kubernetes.client.KubernetesClient;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.function.Function;

@Command(name = "user", mixinStandardHelpOptions = true,
        description = {"Manage local users (Dex's password store) and their roles.",
                "Roles: cluster-admin, solution-admin, read-only (see docs/roles.md).",
                "A new or reset user must change its password (authctl passwd) before any role applies.",
                "Commands act with your own rights (authctl login); root on the bootstrap node may",
                "use --break-glass."},
        subcommands = {UserCommand.Add.class, UserCommand.ListUsers.class, UserCommand.Show.class,
                UserCommand.Passwd.class, UserCommand.Unlock.class, UserCommand.Delete.class, ImportCommand.class})
final class UserCommand {

    /**
     * Runs {@code body} through the account service as the logged-in person, or directly as root
     * with --break-glass. Domain errors reach Main, which maps them to exit codes (ExitCode).
     */
    static <T> T run(Session session, Function<UserOps, T> body) {
        try (UserOps ops = session.userOps()) {
            return body.apply(ops);
        }
    }

    /** The messages of a failure's cause chain (kept for the IdP commands; see {@link Causes}). */
    static String rootMessage(Throwable e) {
        return Causes.messages(e);
    }

    @Command(name = "add", mixinStandardHelpOptions = true, description = "Create a user (must change the password at first use).",
            footer = {"", "Examples:", "  authctl user add jane@example.com --role solution-admin",
                    "  printf '%%s\\n' \"$PW\" | authctl user add bot@example.com --role read-only --password-stdin"})
    static final class Add implements Callable<Integer> {
        @Mixin Session session;
        @Parameters(index = "0", description = "The user's email (login name).") String email;
        @Option(names = "--username", description = "Display name (default: the email's name part).") String username;
        @Option(names = "--role", description = "Role to grant (repeatable): ${COMPLETION-CANDIDATES}.",
                converter = RoleConverter.class) List<Role> roles = List.of();
        @Option(names = "--password-stdin", description = "Read the password from stdin.") boolean stdin;

        @Override
        public Integer call() {
            UserService.checkUserEmail(email);
            char[] pw = Passwords.newPassword(stdin, "Password for " + email);
            try {
                Set<Role> set = roles.isEmpty() ? EnumSet.noneOf(Role.class) : EnumSet.copyOf(roles);
                run(session, s -> {
                    s.add(email, username, set, pw);
                    return null;
                });
                System.out.println("created " + email + " (roles: " + (set.isEmpty() ? "none" : set.stream()
                        .map(Role::title).toList()) + "); the password must be changed at first use: authctl passwd");
                return ExitCode.OK.code;
            } finally {
                PasswordHasher.wipe(pw);
            }
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "List users, their roles and state.")
    static final class ListUsers implements Callable<Integer> {
        @Mixin Session session;
        @Option(names = {"-o", "--output"}, defaultValue = "table", description = "table, json or yaml.") String output;

        @Override
        public Integer call() throws Exception {
            List<UserService.Row> rows = run(session, UserOps::list);
            print(rows, output);
            return ExitCode.OK.code;
        }
    }

    static void print(List<UserService.Row> rows, String output) throws Exception {
        switch (output) {
            case "json" -> System.out.println(new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
                    .writeValueAsString(rows));
            case "yaml" -> System.out.print(new ObjectMapper(new YAMLFactory()).writeValueAsString(rows));
            case "table" -> {
                String fmt = "%-32s %-14s %-30s %-12s %-22s %s%n";
                System.out.printf(fmt, "EMAIL", "USERNAME", "ROLES", "MUST-CHANGE", "CREATED", "DRIFT");
                for (UserService.Row r : rows) {
                    System.out.printf(fmt, r.email(), r.username(), r.roles().isEmpty() ? "-" : r.roles(),
                            r.mustChange() ? "yes" : "no", r.createdAt().isEmpty() ? "-" : r.createdAt(),
                            r.drift().isEmpty() ? "" : "DRIFT: " + r.drift());
                }
            }
            default -> throw new UserError("unknown output format '" + output + "': use table, json or yaml");
        }
    }

    @Command(name = "show", mixinStandardHelpOptions = true, description = "Show one user.")
    static final class Show implements Callable<Integer> {
        @Mixin Session session;
        @Parameters(index = "0") String email;
        @Option(names = {"-o", "--output"}, defaultValue = "yaml", description = "table, json or yaml.") String output;

        @Override
        public Integer call() throws Exception {
            UserService.Row row = run(session, s -> s.show(email));
            print(List.of(row), output);
            return ExitCode.OK.code;
        }
    }

    @Command(name = "passwd", mixinStandardHelpOptions = true,
            description = "Reset a user's password (admin); the user must change it at next use.")
    static final class Passwd implements Callable<Integer> {
        @Mixin Session session;
        @Parameters(index = "0") String email;
        @Option(names = "--password-stdin", description = "Read the new password from stdin.") boolean stdin;

        @Override
        public Integer call() {
            UserService.checkUserEmail(email);
            char[] pw = Passwords.newPassword(stdin, "New password for " + email);
            try {
                run(session, s -> {
                    s.resetPassword(email, pw);
                    return null;
                });
                System.out.println("password of " + email + " reset; roles are suspended until they run authctl passwd");
                return ExitCode.OK.code;
            } finally {
                PasswordHasher.wipe(pw);
            }
        }
    }

    @Command(name = "unlock", mixinStandardHelpOptions = true,
            description = {"End the login guard's lockout of an account (after too many failed logins) and forget its",
                    "failures. Kubernetes decides on your identity (delete leases in the namespace: Cluster Admin)."},
            footer = {"", "Examples:", "  authctl user unlock jane@example.com",
                    "  authctl user unlock alice --idp corp    (the login name a user of the LDAP/AD IdP corp types)"})
    static final class Unlock implements Callable<Integer> {
        @Mixin Session session;
        @Parameters(index = "0", description = "A local user's email, or with --idp the login name typed at that IdP.")
        String email;
        @Option(names = "--idp", description = "The LDAP or AD IdP of a directory user (default: a local user).") String idp;

        @Override
        public Integer call() {
            dexauth.loginguard.AccountKey.named(email, idp); // bad input refused before any login or call
            boolean was = run(session, s -> s.unlock(email, idp));
            System.out.println(was ? "unlocked " + email + "; its failed logins are forgotten"
                    : email + " was not locked (no failed logins recorded)");
            return ExitCode.OK.code;
        }
    }

    @Command(name = "delete", mixinStandardHelpOptions = true,
            description = "Delete a user, its role bindings and its refresh tokens.")
    static final class Delete implements Callable<Integer> {
        @Mixin Session session;
        @Parameters(index = "0") String email;

        @Override
        public Integer call() {
            run(session, s -> {
                s.delete(email);
                return null;
            });
            System.out.println("deleted " + email);
            return ExitCode.OK.code;
        }
    }

    static final class RoleConverter implements picocli.CommandLine.ITypeConverter<Role> {
        @Override
        public Role convert(String value) {
            try {
                return Role.parse(value);
            } catch (Invalid e) {
                throw new picocli.CommandLine.TypeConversionException(e.getMessage());
            }
        }
    }
}
