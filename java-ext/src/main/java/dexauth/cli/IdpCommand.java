package dexauth.cli;

import dexauth.errors.Conflict;
import dexauth.errors.Invalid;
import dexauth.errors.NotFound;
import dexauth.idp.IdpCatalog;
import dexauth.idp.IdpSettings;
import dexauth.idp.IdpSpec;
import dexauth.idp.ProbeReport;
import dexauth.idp.ad.ActiveDirectory;
import dexauth.idp.github.Github;
import dexauth.idp.gitlab.Gitlab;
import dexauth.idp.ldap.DirectorySettings;
import dexauth.idp.ldap.Ldap;
import dexauth.idp.oidc.Oidc;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.lang.reflect.Field;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.function.Supplier;

/**
 * {@code authctl idp}: parses options into a kind's settings, calls the IdP use-cases
 * ({@link dexauth.idp.IdpAdmin}) and says in command-line terms what went wrong. Each option is
 * named after the setting it fills (its field name), so a setting named in a domain message or
 * check hint is shown as its option ({@link #option}).
 */
@Command(name = "idp", mixinStandardHelpOptions = true,
        description = {"Connect the cluster to upstream identity providers: LDAP, Active Directory, OIDC, GitLab, GitHub.",
                "The local user store always stays available beside them.",
                "",
                "Settings are desired state in pillar (dexauth_idps.sls, written through salt-api); each bind password",
                "or client secret is a Kubernetes Secret Dex reads from its environment. After a change the Dex states",
                "are re-applied through salt-api, unless --no-apply.",
                "Directory groups map to roles with `authctl role grant --group GROUP ROLE`."},
        subcommands = {IdpCommand.Add.class, IdpCommand.ListIdps.class, IdpCommand.Show.class, IdpCommand.Test.class,
                IdpCommand.Remove.class, IdpCommand.Apply.class},
        footer = {"", "Examples:",
                "  authctl idp add ldap corp --host ldap.example.com --ca-file ca.pem \\",
                "      --bind-dn cn=dex,dc=example,dc=com --user-base-dn ou=people,dc=example,dc=com --test-user jdoe",
                "  authctl idp add ad corp --domain example.com --host dc1.example.com --ca-file ca.pem \\",
                "      --bind-dn 'CN=dex,CN=Users,DC=example,DC=com'",
                "  authctl idp test corp --user jdoe",
                "  authctl role grant --group developers read-only"})
final class IdpCommand {
    /** Options of every idp command: who acts (Session) and how to reach salt-api. */
    static final class Common {
        @Mixin Session session;

        @Option(names = "--salt-password-stdin",
                description = "Read the salt-api password from stdin, after any secret (eauth auto needs none).")
        boolean saltPasswordStdin;
    }

    /** Options of commands that change the IdPs. */
    static final class Change {
        @Option(names = "--no-apply", description = "Save the desired state only; apply later with `authctl idp apply`.")
        boolean noApply;
    }

    // ------------------------------------------------------------------ add

    @Command(name = "add", mixinStandardHelpOptions = true,
            description = {"Add (or with --replace, change) an IdP. The connection is checked first (DNS, TCP, TLS,",
                    "bind, base DNs, and --test-user's groups); a failed check saves nothing unless --force."},
            subcommands = {AddLdap.class, AddAd.class, AddOidc.class, AddGitlab.class, AddGithub.class})
    static final class Add {
    }

    /** Options every `add` shares. */
    static final class AddOptions {
        @Parameters(index = "0", paramLabel = "NAME",
                description = "IdP name: lowercase letters, digits, '-' (the Dex connector id, e.g. corp-ldap).")
        String name;
        @Option(names = "--display-name", description = "Name on the login page (default: NAME).")
        String displayName;
        @Option(names = "--replace", description = "Replace an IdP of this name instead of refusing.")
        boolean replace;
        @Option(names = "--force", description = "Save and apply even if the checks fail.")
        boolean force;
        @Mixin Change change;
        @Mixin Common common;
    }

    /** Options of LDAP and Active Directory, named after the {@link DirectorySettings} they fill. */
    static final class DirectoryOptions {
        @Option(names = "--host", required = true, description = "Directory server host name or address.")
        String host;
        @Option(names = "--port", description = "Port (default: 636 for LDAPS, 389 with --starttls or --insecure-no-tls).")
        Integer port;
        @Option(names = "--starttls", description = "Plain LDAP upgraded with StartTLS, instead of LDAPS.")
        boolean startTls;
        @Option(names = "--insecure-no-tls",
                description = "Plain LDAP without TLS: passwords cross the network in clear. Only for tests.")
        boolean noTls;
        @Option(names = "--ca-file", description = "PEM CA certificate(s) that signed the server's certificate (default: system CAs).")
        Path ca;
        @Option(names = "--bind-dn", description = "Service account DN Dex binds as to search (none: anonymous).")
        String bindDN;
        @Option(names = "--bind-password-stdin", description = "Read the bind password from stdin (default: hidden prompt).")
        boolean bindPasswordStdin;
        @Option(names = "--user-base-dn", description = "Where users are searched.")
        String userBaseDN;
        @Option(names = "--user-filter", description = "LDAP filter users must match.")
        String userFilter;
        @Option(names = "--login-attribute", description = "Attribute people type as their login.")
        String usernameAttr;
        @Option(names = "--id-attribute", description = "Attribute that identifies a user for good.")
        String idAttr;
        @Option(names = "--email-attribute", description = "Attribute holding the email (the Kubernetes username).")
        String emailAttr;
        @Option(names = "--email-suffix", description = "Build emails as <name attribute>@SUFFIX instead.")
        String emailSuffix;
        @Option(names = "--name-attribute", description = "Attribute holding the display name.")
        String nameAttr;
        @Option(names = "--group-base-dn", description = "Where groups are searched (default: the user base DN).")
        String groupBaseDN;
        @Option(names = "--group-filter", description = "LDAP filter groups must match.")
        String groupFilter;
        @Option(names = "--group-match", split = ",", paramLabel = "USER_ATTR=GROUP_ATTR",
                description = "A group holds a member when its GROUP_ATTR equals the user's USER_ATTR (DN = the user's DN),"
                        + " e.g. DN=member or uid=memberUid. Repeatable.")
        List<String> groupMatchers;
        @Option(names = "--member-attribute", paramLabel = "ATTR",
                description = "Shorthand for --group-match DN=ATTR: the group attribute listing its members' DNs"
                        + " (member, uniqueMember).")
        String memberAttr;
        @Option(names = "--group-name-attribute", description = "Attribute holding the group name.")
        String groupNameAttr;
        @Option(names = "--no-groups", description = "Do not search groups.")
        boolean noGroups;
        @Option(names = "--test-user", description = "Also check that this login is found, and show its groups.")
        String testUser;

        /** The operator's overrides on top of a kind's presets. */
        DirectorySettings over(DirectorySettings s) throws IOException {
            if (startTls && noTls) throw new UserError("--starttls and --insecure-no-tls exclude each other");
            if (groupMatchers != null && memberAttr != null) throw new UserError("give --group-match or --member-attribute, not both");
            s.host = host;
            s.port = port;
            s.tls = noTls ? DirectorySettings.Tls.NONE : startTls ? DirectorySettings.Tls.STARTTLS : DirectorySettings.Tls.LDAPS;
            if (ca != null) s.ca = readCa(ca);
            s.bindDN = bindDN;
            if (userBaseDN != null) s.userBaseDN = userBaseDN;
            if (userFilter != null) s.userFilter = userFilter;
            if (usernameAttr != null) s.usernameAttr = usernameAttr;
            if (idAttr != null) s.idAttr = idAttr;
            if (emailAttr != null) s.emailAttr = emailAttr;
            if (emailSuffix != null) s.emailSuffix = emailSuffix;
            if (nameAttr != null) s.nameAttr = nameAttr;
            if (groupBaseDN != null) s.groupBaseDN = groupBaseDN;
            if (groupFilter != null) s.groupFilter = groupFilter;
            if (groupMatchers != null) s.groupMatchers = groupMatchers;
            if (memberAttr != null) s.groupMatchers = List.of("DN=" + memberAttr);
            if (groupNameAttr != null) s.groupNameAttr = groupNameAttr;
            s.noGroups = noGroups;
            return s;
        }

        int add(AddOptions add, DirectorySettings settings) {
            IdpSpec spec = spec(add, settings);
            char[] secret = spec.hasSecret()
                    ? Passwords.existing(bindPasswordStdin, "bind password for " + bindDN, "--bind-password-stdin") : null;
            return save(add, spec, secret, testUser);
        }
    }

    @Command(name = "ldap", mixinStandardHelpOptions = true,
            description = {"Add an LDAP directory (OpenLDAP presets: inetOrgPerson users logging in with uid,",
                    "groupOfNames/groupOfUniqueNames/posixGroup groups)."},
            footer = {"", "Example:",
                    "  authctl idp add ldap corp --host ldap.example.com --ca-file /etc/ssl/corp-ca.pem \\",
                    "      --bind-dn cn=dex,ou=services,dc=example,dc=com --user-base-dn ou=people,dc=example,dc=com \\",
                    "      --group-base-dn ou=groups,dc=example,dc=com --test-user jdoe"})
    static final class AddLdap implements Callable<Integer> {
        @Mixin AddOptions add;
        @Mixin DirectoryOptions dir;

        @Override
        public Integer call() throws IOException {
            return dir.add(add, dir.over(Ldap.settings()));
        }
    }

    @Command(name = "ad", mixinStandardHelpOptions = true,
            description = {"Add an Active Directory domain. Presets: base DNs from --domain, login with",
                    "userPrincipalName (--login-attribute sAMAccountName for the short name), groups with nested",
                    "membership (--no-nested-groups for direct only). Every preset can be overridden."},
            footer = {"", "Example:",
                    "  authctl idp add ad corp --domain example.com --host dc1.example.com --ca-file corp-ca.pem \\",
                    "      --bind-dn 'CN=svc-dex,CN=Users,DC=example,DC=com' --test-user jdoe@example.com"})
    static final class AddAd implements Callable<Integer> {
        @Mixin AddOptions add;
        @Mixin DirectoryOptions dir;
        @Option(names = "--domain", required = true, description = "AD DNS domain, e.g. example.com.")
        String domain;
        @Option(names = "--no-nested-groups", description = "Only direct group membership.")
        boolean noNested;

        @Override
        public Integer call() throws IOException {
            return dir.add(add, dir.over(settings(() -> ActiveDirectory.settings(domain, !noNested))));
        }
    }

    /** Options of the OAuth2 IdPs. */
    static final class OAuthOptions {
        @Option(names = "--client-id", required = true, description = "Client id registered at the provider.")
        String clientId;
        @Option(names = "--client-secret-stdin", description = "Read the client secret from stdin (default: hidden prompt).")
        boolean secretStdin;
        @Option(names = "--ca-file", description = "PEM CA certificate(s) of the provider (default: system CAs).")
        Path ca;

        String caPem() throws IOException { return ca == null ? null : readCa(ca); }

        int add(AddOptions add, IdpSettings settings) {
            IdpSpec spec = spec(add, settings);
            return save(add, spec, Passwords.existing(secretStdin, "client secret for " + clientId, "--client-secret-stdin"), null);
        }
    }

    @Command(name = "oidc", mixinStandardHelpOptions = true,
            description = {"Add an OpenID Connect provider (Keycloak, another Dex, Azure AD...). Register",
                    "<dex issuer>/callback as its redirect URI."},
            footer = {"", "Example:",
                    "  authctl idp add oidc keycloak --issuer https://sso.example.com/realms/corp --client-id k8s \\",
                    "      --groups-claim groups"})
    static final class AddOidc implements Callable<Integer> {
        @Mixin AddOptions add;
        @Mixin OAuthOptions oauth;
        @Option(names = "--issuer", required = true, description = "The provider's issuer URL (https).")
        String issuer;
        @Option(names = "--scope", split = ",", description = "Scopes to ask (default: openid,profile,email).")
        List<String> scopes;
        @Option(names = "--groups-claim", description = "Claim with the user's groups; trusts the provider's groups.")
        String groupsClaim;
        @Option(names = "--insecure-skip-email-verified",
                description = "Accept tokens without an email_verified claim (Azure AD): trust the provider's emails as verified.")
        boolean skipEmailVerified;

        @Override
        public Integer call() throws IOException {
            return oauth.add(add, new Oidc.Settings(issuer, oauth.clientId, scopes, groupsClaim, skipEmailVerified, oauth.caPem()));
        }
    }

    @Command(name = "gitlab", mixinStandardHelpOptions = true,
            description = {"Add GitLab (gitlab.com or self-managed) as an OAuth2 provider. Register",
                    "<dex issuer>/callback as the application's redirect URI, scopes read_user openid."})
    static final class AddGitlab implements Callable<Integer> {
        @Mixin AddOptions add;
        @Mixin OAuthOptions oauth;
        @Option(names = "--base-url", defaultValue = Gitlab.DEFAULT_URL, description = "GitLab URL (default: ${DEFAULT-VALUE}).")
        String baseUrl;
        @Option(names = "--group", split = ",", description = "Only members of these GitLab groups may log in (required,"
                + " unless --allow-any-account).")
        List<String> groups;
        @Option(names = "--allow-any-account", description = "Let every account of the GitLab log in (no --group).")
        boolean allowAnyAccount;

        @Override
        public Integer call() throws IOException {
            return oauth.add(add, new Gitlab.Settings(baseUrl, oauth.clientId, groups, oauth.caPem(), allowAnyAccount));
        }
    }

    @Command(name = "github", mixinStandardHelpOptions = true,
            description = {"Add GitHub as an OAuth2 provider. Register <dex issuer>/callback as the OAuth app's callback URL."})
    static final class AddGithub implements Callable<Integer> {
        @Mixin AddOptions add;
        @Mixin OAuthOptions oauth;
        @Option(names = "--org", split = ",", description = "Only members of these organisations may log in (required,"
                + " unless --allow-any-account).")
        List<String> orgs;
        @Option(names = "--allow-any-account", description = "Let every GitHub account log in (no --org).")
        boolean allowAnyAccount;
        @Option(names = "--host-name", description = "GitHub Enterprise host name (default: github.com).")
        String hostName;

        @Override
        public Integer call() throws IOException {
            return oauth.add(add, new Github.Settings(oauth.clientId, orgs, hostName, oauth.caPem(), allowAnyAccount));
        }
    }

    /** The IdP from the options; a wrong setting is named as the option that enters it. */
    static IdpSpec spec(AddOptions add, IdpSettings settings) {
        return settings(() -> IdpSpec.of(add.name, add.displayName, settings));
    }

    /** Runs {@code make} on settings given as options: Invalid names the option or the connector setting. */
    static <T> T settings(Supplier<T> make) {
        try {
            return make.get();
        } catch (Invalid e) {
            String field = e.field();
            int config = field.indexOf(":config:");
            if (config >= 0) throw new UserError("setting " + field.substring(config + 8) + ": " + e.getMessage());
            if (field.startsWith(IdpSpec.PILLAR_KEY)) throw new UserError(e.getMessage());
            throw new UserError(option(field) + " " + e.getMessage());
        }
    }

    /** Checks, then saves and applies; a failed check saves nothing unless --force. */
    static int save(AddOptions add, IdpSpec spec, char[] secret, String testUser) {
        try {
            ProbeReport report = spec.check(() -> secret, testUser);
            print(spec, report);
            if (!report.ok() && !add.force) {
                throw new UserError("check failed (" + report.failure().step() + "); nothing was saved."
                        + " Fix it, or use --force to save anyway", ExitCode.CHECK_FAILED);
            }
            if (!report.ok()) System.out.println("check failed (" + report.failure().step() + "); saving anyway (--force)");
            try (IdpWorkflow flow = IdpWorkflow.open(add.common)) {
                var admin = flow.admin();
                Map<String, IdpSpec> idps;
                try {
                    idps = saved(() -> admin.save(spec, secret, add.replace));
                } catch (Conflict e) {
                    throw new UserError(e.getMessage() + "; use --replace to change it", ExitCode.CONFLICT);
                }
                System.out.println("saved " + spec.name() + ": pillar " + IdpCatalog.PILLAR_FILE
                        + (spec.hasSecret() ? ", Secret " + admin.namespace() + "/" + spec.secretName() : ""));
                return flow.applyUnless(add.change.noApply, idps);
            }
        } finally {
            if (secret != null) Arrays.fill(secret, '\0');
        }
    }

    static String readCa(Path file) throws IOException {
        if (!Files.isReadable(file)) throw new UserError("CA file " + file + " not found or not readable");
        String pem = Files.readString(file, StandardCharsets.US_ASCII);
        if (!pem.contains("-----BEGIN CERTIFICATE-----")) throw new UserError("CA file " + file + " holds no PEM certificate");
        return pem;
    }

    static void print(IdpSpec spec, ProbeReport report) {
        System.out.println("Checking " + spec.kind().id() + " IdP " + spec.name() + ":");
        report.lines(IdpCommand::option).forEach(System.out::println);
    }

    /**
     * Runs a use-case on the saved IdPs: a wrong pillar file is fixed on the Salt master, and an
     * IdP that is not there is looked up in the list.
     */
    static <T> T saved(Supplier<T> call) {
        try {
            return call.get();
        } catch (Invalid e) {
            throw new UserError("pillar key " + e.field() + ": " + e.getMessage() + "; fix " + IdpCatalog.PILLAR_FILE
                    + " on the Salt master", ExitCode.INVALID);
        } catch (NotFound e) {
            throw new UserError(e.getMessage() + " (see `authctl idp list`)", ExitCode.NOT_FOUND);
        }
    }

    /** The option that enters {@code setting} in any `idp add`, e.g. --user-base-dn for userBaseDN. */
    static String option(String setting) {
        return Options.BY_SETTING.getOrDefault(setting, setting);
    }

    /** Built once, when first needed: the options of every `idp add` by the name of the field they fill. */
    private static final class Options {
        static final Map<String, String> BY_SETTING = build();

        private static Map<String, String> build() {
            Map<String, String> out = new HashMap<>();
            for (CommandLine kind : new CommandLine(new Add()).getSubcommands().values()) {
                for (OptionSpec o : kind.getCommandSpec().options()) {
                    if (o.userObject() instanceof Field f) out.putIfAbsent(f.getName(), o.longestName());
                }
            }
            return Map.copyOf(out);
        }
    }

    // ------------------------------------------------------------------ list, show, test, remove, apply

    @Command(name = "list", mixinStandardHelpOptions = true, description = "List the IdPs (the local store is always there).")
    static final class ListIdps implements Callable<Integer> {
        @Mixin Common common;

        @Override
        public Integer call() {
            try (IdpWorkflow flow = IdpWorkflow.openSaltOnly(common)) {
                System.out.printf("%-20s %-7s %-30s %s%n", "NAME", "TYPE", "LOGIN PAGE", "SERVER");
                System.out.printf("%-20s %-7s %-30s %s%n", "local", "local", "Email (local users)", "-");
                for (IdpSpec s : saved(flow.admin()::list).values()) {
                    System.out.printf("%-20s %-7s %-30s %s%n", s.name(), s.kind().id(), s.displayName(), s.server());
                }
            }
            return 0;
        }
    }

    @Command(name = "show", mixinStandardHelpOptions = true, description = "Show an IdP's settings (secrets masked).")
    static final class Show implements Callable<Integer> {
        @Mixin Common common;
        @Parameters(paramLabel = "NAME") String name;

        @Override
        public Integer call() {
            try (IdpWorkflow flow = IdpWorkflow.openSaltOnly(common)) {
                System.out.print(IdpCatalog.show(saved(() -> flow.admin().get(name))));
            }
            return 0;
        }
    }

    @Command(name = "test", mixinStandardHelpOptions = true,
            description = {"Check a saved IdP with its stored secret: DNS, TCP, TLS trust, bind, base DNs; with --user,",
                    "find that user and show the groups and Kubernetes identity (oidc:-prefixed) it maps to."})
    static final class Test implements Callable<Integer> {
        @Mixin Common common;
        @Parameters(paramLabel = "NAME") String name;
        @Option(names = "--user", description = "A login to look up (LDAP/AD).") String user;

        @Override
        public Integer call() {
            try (IdpWorkflow flow = IdpWorkflow.open(common)) {
                var admin = flow.admin();
                IdpSpec s = saved(() -> admin.get(name));
                ProbeReport r = admin.check(s, user);
                print(s, r);
                if (!r.ok()) throw new UserError("check failed (" + r.failure().step() + ")", ExitCode.CHECK_FAILED);
            }
            return 0;
        }
    }

    @Command(name = "remove", mixinStandardHelpOptions = true,
            description = "Remove an IdP: its pillar entry, then (after Dex is redeployed without it) its Secret.")
    static final class Remove implements Callable<Integer> {
        @Mixin Common common;
        @Mixin Change change;
        @Parameters(paramLabel = "NAME") String name;

        @Override
        public Integer call() {
            try (IdpWorkflow flow = IdpWorkflow.open(common)) {
                var admin = flow.admin();
                Optional<Map<String, IdpSpec>> left = saved(() -> admin.remove(name));
                if (left.isEmpty()) { // left by a remove whose apply failed
                    System.out.println("deleted the leftover Secret " + admin.namespace() + "/" + IdpSpec.secretName(name));
                    return 0;
                }
                System.out.println("removed " + name + " from pillar " + IdpCatalog.PILLAR_FILE);
                int rc = flow.applyUnless(change.noApply, left.get());
                if (rc == 0 && admin.deleteSecret(name)) {
                    System.out.println("deleted Secret " + admin.namespace() + "/" + IdpSpec.secretName(name));
                }
                return rc;
            }
        }
    }

    @Command(name = "apply", mixinStandardHelpOptions = true,
            description = "Re-apply the Dex states through salt-api (after --no-apply changes).")
    static final class Apply implements Callable<Integer> {
        @Mixin Common common;

        @Override
        public Integer call() {
            try (IdpWorkflow flow = IdpWorkflow.open(common)) {
                return flow.applyUnless(false, saved(flow.admin()::list));
            }
        }
    }
}
