package dexauth.account;

import dexauth.dex.DexApi;
import dexauth.dex.PasswordHasher;
import dexauth.errors.Forbidden;
import dexauth.errors.Invalid;
import dexauth.errors.NotFound;
import dexauth.errors.Unauthenticated;
import dexauth.loginguard.AccountKey;
import dexauth.loginguard.KubeFailureStore;
import dexauth.loginguard.Lockouts;
import dexauth.loginguard.Throttle;
import dexauth.rbac.Access;
import dexauth.rbac.Role;
import dexauth.users.GroupGrants;
import dexauth.users.PasswordPolicy;
import dexauth.users.UserDirectory;
import dexauth.users.UserRecord;
import dexauth.users.UserService;
import dexauth.users.UserStore;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;

import java.time.Duration;
import java.util.Comparator;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * What a person may do through the service (console and JSON API alike), on the same use-cases
 * as `authctl`. Kubernetes makes every decision on the person's own identity: writes go to the
 * cluster with their token before Dex is touched, and reading the directory needs their
 * `list users.dexauth.io`. Only a proven self-service password change is written with the
 * service's own account (the person holds no role until it is done).
 */
final class Accounts {

    /** One user as the directory and the cluster's audit Events show them. */
    record UserView(UserRecord record, List<AuditEntry> events, Optional<java.time.Instant> lockedUntil) {}

    /** The person's own account. */
    record Me(String email, String name, Set<Role> roles, List<String> groups, boolean mustChange, boolean local,
              String createdAt, String lastPasswordChange) {}

    private final KubernetesClient serviceKube;
    private final DexApi dex;
    private final UserDirectory directory;
    private final String namespace;
    private final PasswordPolicy policy;
    private final int bcryptCost;
    private final Throttle perUser;
    private final Throttle perAddress;

    Accounts(KubernetesClient serviceKube, DexApi dex, UserDirectory directory, String namespace, PasswordPolicy policy,
             int bcryptCost, Throttle perUser, Throttle perAddress) {
        this.serviceKube = serviceKube;
        this.dex = dex;
        this.directory = directory;
        this.namespace = namespace;
        this.policy = policy;
        this.bcryptCost = bcryptCost;
        this.perUser = perUser;
        this.perAddress = perAddress;
    }

    PasswordPolicy policy() { return policy; }

    /** The record of a local user (read by the service: everyone may see their own). */
    Optional<UserRecord> record(String email) {
        return directory.get(email).or(() -> new UserStore(serviceKube, namespace).get(email));
    }

    boolean mustChange(Identity who) {
        return record(who.email).map(UserRecord::mustChange).orElse(false);
    }

    Me me(Identity who) {
        Optional<UserRecord> r = record(who.email);
        String last = events(serviceKube, who.email).stream().filter(e -> e.action().contains("password"))
                .map(AuditEntry::time).findFirst().orElse("");
        return new Me(who.email, who.name, r.map(UserRecord::roles).orElse(Set.of()), who.groups,
                r.map(UserRecord::mustChange).orElse(false), r.isPresent(), r.map(UserRecord::createdAt).orElse(""), last);
    }

    /**
     * The person changes their own password: the current one is proven to Dex first, at most a few
     * times per user and per client address in a window. Dex's refresh tokens of the user are
     * revoked; must-change is cleared and their roles bound.
     */
    void changeOwnPassword(Identity who, String clientAddress, char[] current, char[] fresh, char[] again) {
        if (!java.util.Arrays.equals(fresh, again)) throw new Invalid("password", "the two new passwords differ");
        String userKey = "user:" + who.email;
        String addressKey = "address:" + clientAddress;
        perUser.blocked(userKey).or(() -> perAddress.blocked(addressKey)).ifPresent(wait -> {
            throw new Forbidden("too many wrong passwords: try again in " + minutes(wait));
        });
        policy.check(fresh, who.email).ifPresent(problem -> {
            throw new Invalid("password", problem);
        });
        try {
            selfService(who).changeOwnPassword(who.email, current, fresh);
        } catch (Unauthenticated wrong) {
            perUser.failed(userKey);
            perAddress.failed(addressKey);
            throw new Unauthenticated("the current password is wrong");
        }
        perUser.succeeded(userKey);
    }

    /**
     * The highest of the three roles the person holds, as Kubernetes answers for their own token
     * (`get roles.dexauth.io/<role>`): local and directory users alike. Empty: no role.
     */
    Optional<Role> highestRole(Identity who) {
        for (Role r : List.of(Role.CLUSTER_ADMIN, Role.SOLUTION_ADMIN, Role.READ_ONLY)) {
            if (who.can("get", Access.GROUP, Access.ROLES, null, r.id())) return Optional.of(r);
        }
        return Optional.empty();
    }

    boolean canReadDirectory(Identity who) {
        return who.can("list", Access.GROUP, Access.USERS, namespace);
    }

    /** Whether the person's own rights let them write user records (shows the admin controls). */
    boolean canManage(Identity who) {
        return who.can("update", "", "configmaps", namespace);
    }

    UserDirectory.Page list(Identity who, String search, int offset, int limit) {
        requireDirectory(who);
        return directory.page(search, offset, limit);
    }

    UserView user(Identity who, String email) {
        requireDirectory(who);
        String e = UserService.checkEmail(email);
        UserRecord r = directory.get(e).orElseThrow(() -> new NotFound("no user " + e));
        return new UserView(r, events(who.kube(), e), lockedUntil(who, e));
    }

    /** Until when the login guard refuses the user's logins, as far as the person may read it. */
    private Optional<java.time.Instant> lockedUntil(Identity who, String email) {
        try {
            java.time.Instant now = java.time.Instant.now();
            return new KubeFailureStore(who.kube(), namespace).get(AccountKey.local(email))
                    .filter(r -> r.lockedAt(now)).map(dexauth.loginguard.FailureRecord::lockedUntil);
        } catch (KubernetesClientException e) {
            return Optional.empty(); // no right to read the guard's records: the page shows no lock
        }
    }

    /**
     * Ends the login guard's lockout of an account (and forgets its failures), with the person's own
     * rights: Kubernetes decides ({@code delete leases} in the namespace). False: it was not locked.
     */
    boolean unlock(Identity who, String login, String idp) {
        return Lockouts.unlock(who.kube(), namespace, AccountKey.named(login, idp), who.email);
    }

    /** Creates a user; returns the one-time password when the service generated it. */
    Optional<char[]> add(Identity who, String email, String username, Set<Role> roles, char[] typed) {
        return withOneTimePassword(typed, password -> as(who).add(email, username, roles, password));
    }

    Optional<char[]> reset(Identity who, String email, char[] typed) {
        return withOneTimePassword(typed, password -> as(who).resetPassword(email, password));
    }

    /** Runs {@code use} with the typed password, or a generated one that is returned (the caller shows it once). */
    private static Optional<char[]> withOneTimePassword(char[] typed, java.util.function.Consumer<char[]> use) {
        boolean generate = typed == null || typed.length == 0;
        char[] password = generate ? PasswordHasher.randomPassword(UserService.ONE_TIME_PASSWORD_LENGTH) : typed;
        try {
            use.accept(password);
        } catch (RuntimeException e) {
            PasswordHasher.wipe(password);
            throw e;
        }
        return generate ? Optional.of(password) : Optional.empty();
    }

    void delete(Identity who, String email) {
        if (UserService.checkEmail(email).equals(who.email)) {
            throw new Invalid("email", "you cannot delete your own account; ask another Cluster Admin");
        }
        as(who).delete(email);
    }

    void grant(Identity who, String email, Role role, boolean revoke) {
        as(who).grant(email, role, revoke);
    }

    void grantGroup(Identity who, String idp, String group, Role role, boolean revoke) {
        as(who).grantGroup(idp, group, role, revoke);
    }

    Map<GroupGrants.Group, Set<Role>> groups(Identity who) {
        requireDirectory(who);
        return new GroupGrants(serviceKube, namespace).all();
    }

    static Set<Role> roles(List<String> ids) {
        Set<Role> out = EnumSet.noneOf(Role.class);
        if (ids != null) ids.stream().filter(s -> s != null && !s.isBlank()).forEach(id -> out.add(Role.parse(id)));
        return out;
    }

    private void requireDirectory(Identity who) {
        if (!canReadDirectory(who)) {
            throw new Forbidden("not allowed: " + who.email + " may not list users (Kubernetes: no `list users.dexauth.io`;"
                    + " Read Only and Cluster Admin may)");
        }
    }

    /** The use-cases with the person's own rights (their token), the person as the audit actor. */
    private UserService as(Identity who) {
        return new UserService(who.kube(), dex, namespace, policy, bcryptCost, who.email);
    }

    /** Self-service: the person proved their password to Dex; the service clears must-change and binds. */
    private UserService selfService(Identity who) {
        return new UserService(serviceKube, dex, namespace, policy, bcryptCost, who.email);
    }

    private List<AuditEntry> events(KubernetesClient kube, String email) {
        try {
            return kube.v1().events().inNamespace(namespace).withField("involvedObject.name", UserStore.objectName(email))
                    .list().getItems().stream()
                    .sorted(Comparator.comparing(Accounts::when).reversed()).limit(50)
                    .map(e -> new AuditEntry(when(e), annotation(e, "dexauth.io/actor"), annotation(e, "dexauth.io/action"),
                            e.getMessage()))
                    .toList();
        } catch (KubernetesClientException e) {
            return List.of(); // no right to read Events: the page shows none
        }
    }

    private static String when(Event e) {
        return e.getLastTimestamp() != null ? e.getLastTimestamp() : e.getFirstTimestamp() != null ? e.getFirstTimestamp() : "";
    }

    private static String annotation(Event e, String key) {
        Map<String, String> a = e.getMetadata().getAnnotations();
        return a == null ? "" : a.getOrDefault(key, "");
    }

    private static String minutes(Duration d) {
        long m = Math.max(1, (d.toSeconds() + 59) / 60);
        return m + (m == 1 ? " minute" : " minutes");
    }
}
