package dexauth.cli;

import dexauth.rbac.Role;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.util.concurrent.Callable;

@Command(name = "role", mixinStandardHelpOptions = true,
        description = {"Grant or revoke a role, for a local user (by email) or an external IdP group.",
                "Roles: cluster-admin (everything), solution-admin (workloads in namespaces labelled",
                "dexauth.io/solution=true), read-only (reads, never Secrets)."},
        subcommands = {RoleCommand.Grant.class, RoleCommand.Revoke.class})
final class RoleCommand {

    static final class Target {
        @Parameters(index = "0", arity = "0..1", paramLabel = "EMAIL", description = "A local user's email.")
        String email;
        @Option(names = "--group", description = "A group of an upstream IdP, instead of a user (needs --idp).")
        String group;
        @Option(names = "--idp", paramLabel = "NAME",
                description = "The IdP whose group it is (see `authctl idp list`): a grant never reaches a group of"
                        + " the same name from another IdP.")
        String idp;
    }

    static int change(Session session, Target target, Role role, boolean revoke) {
        if ((target.email == null) == (target.group == null)) {
            throw new UserError("give either a user's EMAIL or --group GROUP");
        }
        if (target.group == null && target.idp != null) {
            throw new UserError("--idp names the IdP of a --group; a local user is given by EMAIL alone");
        }
        if (target.group != null) {
            dexauth.users.UserService.checkGroup(target.group); // a name that can never be granted is said first
            if (target.idp == null) {
                throw new UserError("give the IdP of group " + target.group + " with --idp NAME (see `authctl idp list`):"
                        + " groups are per IdP, a grant never reaches a group of the same name from another IdP");
            }
            dexauth.users.UserService.checkIdp(target.idp);
        }
        UserCommand.run(session, s -> {
            if (target.group != null) s.grantGroup(target.idp, target.group, role, revoke);
            else s.grant(target.email, role, revoke);
            return null;
        });
        System.out.println((revoke ? "revoked " : "granted ") + role.title() + (revoke ? " from " : " to ")
                + (target.group != null ? "group " + target.group + " of IdP " + target.idp : target.email));
        return ExitCode.OK.code;
    }

    @Command(name = "grant", mixinStandardHelpOptions = true, description = "Grant a role.",
            footer = {"", "Examples:", "  authctl role grant jane@example.com solution-admin",
                    "  authctl role grant --group ops-team --idp corp-ldap read-only"})
    static final class Grant implements Callable<Integer> {
        @Mixin Session session;
        @Mixin Target target;
        @Parameters(index = "1", arity = "0..1", paramLabel = "ROLE",
                description = "cluster-admin, solution-admin or read-only.") String roleText;

        @Override
        public Integer call() {
            return change(session, target, roleOf(target, roleText), false);
        }
    }

    @Command(name = "revoke", mixinStandardHelpOptions = true, description = "Revoke a role.")
    static final class Revoke implements Callable<Integer> {
        @Mixin Session session;
        @Mixin Target target;
        @Parameters(index = "1", arity = "0..1", paramLabel = "ROLE") String roleText;

        @Override
        public Integer call() {
            return change(session, target, roleOf(target, roleText), true);
        }
    }

    /** With --group the role is the only positional argument. */
    static Role roleOf(Target target, String second) {
        String text = second;
        if (target.group != null && second == null) {
            text = target.email;
            target.email = null;
        }
        if (text == null) throw new UserError("missing ROLE: one of " + Role.ids());
        return Role.parse(text);
    }
}
