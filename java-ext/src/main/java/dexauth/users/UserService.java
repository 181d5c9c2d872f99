package dexauth.users;

import com.google.protobuf.ByteString;
import dexauth.chart.Kube;
import dexauth.dex.DexApi;
import dexauth.dex.PasswordHasher;
import dexauth.dex.grpc.CreatePasswordReq;
import dexauth.dex.grpc.DeletePasswordReq;
import dexauth.dex.grpc.ListPasswordReq;
import dexauth.dex.grpc.ListRefreshReq;
import dexauth.dex.grpc.Password;
import dexauth.dex.grpc.RefreshTokenRef;
import dexauth.dex.grpc.RevokeRefreshReq;
import dexauth.dex.grpc.UpdatePasswordReq;
import dexauth.dex.grpc.VerifyPasswordReq;
import dexauth.errors.Conflict;
import dexauth.errors.Invalid;
import dexauth.errors.NotFound;
import dexauth.errors.Unauthenticated;
import dexauth.errors.Unavailable;
import dexauth.rbac.Role;
import dexauth.rbac.RoleAssignments;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.grpc.StatusRuntimeException;

import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.function.Supplier;
import java.util.regex.Pattern;

/**
 * Local users: the password in Dex (gRPC, hash only), the metadata in the cluster, the
 * roles as RBAC bindings. Cluster writes go through {@code kube}, i.e. with the rights of
 * whoever runs the command, and happen before Dex is touched: an operator without the
 * right is refused with nothing changed.
 */
public final class UserService {
    /** Length of the super-admin's one-time password (about 140 bits). */
    public static final int SUPERADMIN_PASSWORD_LENGTH = 24;
    /** Length of the one-time passwords given to new or reset users (about 120 bits). */
    public static final int ONE_TIME_PASSWORD_LENGTH = 20;
    private static final Pattern EMAIL = Pattern.compile("[A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+\\.[A-Za-z]{2,}");
    /** RFC 5321's limit on the part before the @. */
    public static final int EMAIL_LOCAL_MAX = 64;
    /**
     * Dex's Kubernetes storage names a user's Password object base32(email + 8-byte hash), and object
     * names stop at 253 characters: longer addresses than this (RFC 5321 allows 254) cannot be stored.
     */
    public static final int EMAIL_MAX = 150;

    private final KubernetesClient kube;
    private final DexApi dex;
    private final String namespace;
    private final PasswordPolicy policy;
    private final int bcryptCost;
    private final String actor;

    public UserService(KubernetesClient kube, DexApi dex, String namespace, PasswordPolicy policy, int bcryptCost,
                       String actor) {
        this.kube = kube;
        this.dex = dex;
        this.namespace = namespace;
        this.policy = policy;
        this.bcryptCost = bcryptCost;
        this.actor = actor;
    }

    /** One row of {@code user list}. */
    public record Row(String email, String username, String roles, boolean mustChange, String createdBy,
                      String createdAt, String drift) {}

    public static String checkEmail(String email) {
        if (email == null || !EMAIL.matcher(email).matches()) {
            throw new Invalid("email", "'" + shorten(email) + "' is not a valid email address (it is the user's login name)");
        }
        if (email.length() > EMAIL_MAX || email.indexOf('@') > EMAIL_LOCAL_MAX) {
            throw new Invalid("email", "the email address '" + shorten(email) + "' is too long (" + email.length()
                    + " characters, " + email.indexOf('@') + " before the @): at most " + EMAIL_MAX + " characters in all"
                    + " (Dex's storage limit; RFC 5321 allows 254) and " + EMAIL_LOCAL_MAX + " before the @ (RFC 5321)");
        }
        return email.toLowerCase(Locale.ROOT);
    }

    /**
     * An email a person's use-case may name (add, delete, reset, grant, show): a valid address, and
     * not the account reserved for kube-apiserver's health check ({@link ProbeAccount}).
     */
    public static String checkUserEmail(String email) {
        return ProbeAccount.refuse(checkEmail(email));
    }

    private static String shorten(String text) {
        return text == null || text.length() <= 60 ? text : text.substring(0, 40) + "..." + text.substring(text.length() - 15);
    }

    /**
     * A group name from an upstream IdP. Kubernetes' own groups ({@code system:masters},
     * {@code system:authenticated}...) are refused: a grant must never look like one of them.
     */
    public static String checkGroup(String group) {
        if (group == null || group.isBlank()) throw new Invalid("group", "group name is empty");
        if (!group.equals(group.trim())) throw new Invalid("group", "'" + group + "' starts or ends with spaces");
        String g = group.trim().toLowerCase(Locale.ROOT);
        if (g.startsWith("system:") || g.startsWith(dexauth.rbac.RoleBindings.PREFIX)) {
            throw new Invalid("group", "'" + group + "' looks like a Kubernetes or dexauth group name ('system:' and '"
                    + dexauth.rbac.RoleBindings.PREFIX + "' prefixes are reserved): give the group's name as the IdP"
                    + " sends it (e.g. ops-team or cn=ops,ou=groups)");
        }
        return group;
    }

    public void checkPassword(char[] password, String email) {
        policy.check(password, email).ifPresent(problem -> {
            throw new Invalid("password", problem);
        });
    }

    public UserRecord add(String email, String username, Set<Role> roles, char[] password) {
        checkPassword(password, checkUserEmail(email));
        return add(email, username, roles, PasswordHasher.hash(password, bcryptCost), null);
    }

    /** Where a user is known: nowhere, only in Dex (a user from before dexauth's metadata), or recorded. */
    public enum Presence { ABSENT, DEX_ONLY, RECORDED }

    /** {@code dexWait}: how long to wait for Dex's storage while the cluster settles (zero: fail at once). */
    public Presence presence(String email, Duration dexWait) {
        String e = checkEmail(email);
        return guard("read users", () -> {
            if (new UserStore(kube, namespace).get(e).isPresent()) return Presence.RECORDED;
            boolean inDex = dex.retrying(() -> dex.stub().listPasswords(ListPasswordReq.getDefaultInstance()), dexWait)
                    .getPasswordsList().stream().anyMatch(p -> p.getEmail().equalsIgnoreCase(e));
            return inDex ? Presence.DEX_ONLY : Presence.ABSENT;
        });
    }

    /**
     * The bootstrap super-admin, added like any user (Cluster Admin, must change its password) with
     * a random password that is returned for the caller to show once; the record stays
     * {@link UserStore#PENDING} until the caller says it was shown ({@link #superAdminShown}). A
     * super-admin Dex knows without a record (the record lost, or a run that failed), or still pending,
     * gets a new one-time password the same way ({@link #resetSuperAdmin}): never a Cluster Admin whose
     * password nobody knows. Returns empty when nothing was issued (also when someone else created it
     * meanwhile: theirs stands).
     */
    public Optional<char[]> ensureSuperAdmin(String email, String username, Duration dexWait) {
        String e = checkEmail(email);
        Presence presence = presence(e, dexWait);
        if (presence == Presence.RECORDED
                && !guard("read users", () -> new UserStore(kube, namespace).pending(e) || !dexHas(e))) {
            return Optional.empty();
        }
        if (presence != Presence.ABSENT) return Optional.of(resetSuperAdmin(e, username));
        char[] password = PasswordHasher.randomPassword(SUPERADMIN_PASSWORD_LENGTH);
        try {
            create(e, username, Set.of(Role.CLUSTER_ADMIN), PasswordHasher.hash(password, bcryptCost), Set.of(), true);
            return Optional.of(password);
        } catch (Conflict created) {
            PasswordHasher.wipe(password);
            return Optional.empty();
        }
    }

    /**
     * A new one-time password for the super-admin ({@code authctl admin reset --break-glass}, or a
     * bootstrap whose first run did not finish): Cluster Admin, must change it, so its bindings go
     * before Dex takes the new password; its sessions end. Created when neither Dex nor the cluster
     * knows it. The record is {@link UserStore#PENDING} until {@link #superAdminShown}.
     */
    public char[] resetSuperAdmin(String email, String username) {
        String e = checkEmail(email);
        char[] password = PasswordHasher.randomPassword(SUPERADMIN_PASSWORD_LENGTH);
        byte[] hash = PasswordHasher.hash(password, bcryptCost);
        return guard("reset the super-admin", () -> {
            UserStore store = new UserStore(kube, namespace);
            Optional<UserRecord> rec = store.get(e);
            if (rec.isEmpty() && !dexHas(e)) {
                create(e, username, Set.of(Role.CLUSTER_ADMIN), hash, Set.of(), true);
                return password;
            }
            Optional<UserRecord> modified = store.modify(e, r -> {
                Set<Role> roles = EnumSet.of(Role.CLUSTER_ADMIN);
                roles.addAll(r.roles());
                return r.withRoles(roles).withMustChange(true);
            });
            if (modified.isEmpty()) {
                store.create(new UserRecord(e, username == null || username.isBlank() ? e.split("@")[0] : username,
                        Set.of(Role.CLUSTER_ADMIN), true, actor, Instant.now().truncatedTo(ChronoUnit.SECONDS).toString()),
                        true);
            }
            store.setPending(e, true);
            reconcileBindings();
            if (!setDexHash(e, hash)) createInDex(e, rec.map(UserRecord::username).orElse(e.split("@")[0]), hash);
            revokeRefreshTokens(e);
            audit("issued a one-time password to the super-admin", e, "must change password, sessions ended");
            return password;
        });
    }

    /** The super-admin's one-time password was shown: a later run keeps it ({@link UserStore#PENDING} cleared). */
    public void superAdminShown(String email) {
        String e = checkEmail(email);
        guard("record the super-admin", () -> {
            new UserStore(kube, namespace).setPending(e, false);
            return null;
        });
    }

    /**
     * Creates a user from an already computed bcrypt hash (import hashes in parallel).
     * {@code knownInDex}, when given, replaces one Dex listing per user.
     */
    public UserRecord add(String email, String username, Set<Role> roles, byte[] hash, Set<String> knownInDex) {
        return create(email, username, roles, hash, knownInDex, false);
    }

    private UserRecord create(String email, String username, Set<Role> roles, byte[] hash, Set<String> knownInDex,
                              boolean pending) {
        String target = checkUserEmail(email);
        return guard("add users", () -> {
            UserStore store = new UserStore(kube, namespace);
            // Without a listing given, Dex's own "already exists" answer below catches a Dex-only user
            // (listing every password per add made imports quadratic).
            if (knownInDex != null && knownInDex.contains(target)) throw new Conflict("user " + target + " already exists");
            UserRecord user = new UserRecord(target, username == null || username.isBlank() ? target.split("@")[0] : username,
                    roles, true, actor, Instant.now().truncatedTo(ChronoUnit.SECONDS).toString());
            try {
                store.create(user, pending); // the create itself says whether the record exists: no read first
            } catch (KubernetesClientException e) {
                if (e.getCode() == 409) throw new Conflict("user " + target + " already exists");
                throw e;
            }
            try {
                createInDex(target, user.username(), hash);
            } catch (RuntimeException e) {
                store.delete(target); // nothing half-done
                throw e;
            }
            audit("created user", target, "roles " + user.rolesText() + ", must change password");
            return user;
        });
    }

    private void createInDex(String email, String username, byte[] hash) {
        Password p = Password.newBuilder().setEmail(email).setUsername(username).setUserId(UUID.randomUUID().toString())
                .setHash(ByteString.copyFrom(hash)).build();
        if (dex.stub().createPassword(CreatePasswordReq.newBuilder().setPassword(p).build()).getAlreadyExists()) {
            throw new Conflict("user " + email + " already exists in Dex");
        }
    }

    /** Emails Dex knows, lowercased (one listing). */
    public Set<String> dexEmails() {
        return guard("list users", () -> {
            Set<String> out = new java.util.HashSet<>();
            dex.stub().listPasswords(ListPasswordReq.getDefaultInstance()).getPasswordsList()
                    .forEach(p -> out.add(p.getEmail().toLowerCase(Locale.ROOT)));
            return out;
        });
    }

    public int bcryptCost() { return bcryptCost; }

    public List<Row> list() {
        return guard("list users", this::rows);
    }

    private List<Row> rows() {
        Map<String, UserRecord> records = new LinkedHashMap<>();
        new UserStore(kube, namespace).list().forEach(u -> records.put(u.email(), u));
        Map<String, Password> inDex = new LinkedHashMap<>();
        dex.stub().listPasswords(ListPasswordReq.getDefaultInstance()).getPasswordsList()
                .forEach(p -> inDex.put(p.getEmail().toLowerCase(Locale.ROOT), p));
        Map<String, Set<Role>> bound = RoleAssignments.boundUsers(kube);
        List<Row> rows = new ArrayList<>();
        records.forEach((email, u) -> rows.add(new Row(email, u.username(), u.rolesText(), u.mustChange(),
                u.createdBy(), u.createdAt(), drift(inDex.containsKey(email) ? null : "missing in Dex",
                        u.mustChange() ? Set.of() : u.roles(), bound.getOrDefault(email, Set.of())))));
        inDex.forEach((email, p) -> {
            if (!records.containsKey(email)) {
                rows.add(new Row(email, p.getUsername(), "", false, "", "",
                        drift("no dexauth metadata", Set.of(), bound.getOrDefault(email, Set.of()))));
            }
        });
        bound.forEach((email, roles) -> {
            if (!records.containsKey(email) && !inDex.containsKey(email)) {
                rows.add(new Row(email, "", "", false, "", "", drift("no such user", Set.of(), roles)));
            }
        });
        rows.removeIf(r -> ProbeAccount.is(r.email())); // nobody's account: kube-apiserver's health check
        rows.sort((a, b) -> a.email().compareToIgnoreCase(b.email()));
        return rows;
    }

    /**
     * What differs between the user as stored and as Kubernetes sees it: {@code known} (e.g. missing in
     * Dex), then the roles the bindings give beyond or short of the stored ones, with the fix.
     */
    static String drift(String known, Set<Role> stored, Set<Role> bound) {
        List<String> out = new ArrayList<>();
        if (known != null) out.add(known);
        List<String> extra = bound.stream().filter(r -> !stored.contains(r)).map(Role::id).sorted().toList();
        List<String> missing = stored.stream().filter(r -> !bound.contains(r)).map(Role::id).sorted().toList();
        if (!extra.isEmpty()) out.add("still bound as " + String.join(",", extra));
        if (!missing.isEmpty()) out.add("not bound as " + String.join(",", missing));
        if (!extra.isEmpty() || !missing.isEmpty()) {
            out.add("bindings differ from the stored roles: the scheduled reconcile fixes it, or now"
                    + " `salt-call state.apply dexauth.roles` on the bootstrap node");
        }
        return String.join("; ", out);
    }

    public Row show(String email) {
        String e = checkUserEmail(email);
        return list().stream().filter(r -> r.email().equals(e)).findFirst()
                .orElseThrow(() -> new NotFound("no user " + e));
    }

    /** Admin reset: the user must change the new password before anything else. */
    public void resetPassword(String email, char[] password) {
        String target = checkUserEmail(email);
        checkPassword(password, target);
        guard("reset passwords", () -> {
            UserStore store = new UserStore(kube, namespace);
            if (store.modify(target, u -> u.withMustChange(true)).isEmpty()) existing(store, target);
            updateDexPassword(target, password);
            revokeRefreshTokens(target);
            bindingsAfterStoreChange("the reset is stored and the password changed");
            audit("reset the password of", target, "must change password");
            return null;
        });
    }

    public void delete(String email) {
        String target = checkUserEmail(email);
        guard("delete users", () -> {
            UserStore store = new UserStore(kube, namespace);
            String userId = dexUserId(target).orElse(null);
            // A user only in Dex (its record lost, or from before dexauth's metadata) is deleted too.
            if (userId == null) existing(store, target);
            store.delete(target);
            reconcileBindings();
            // not_found is fine: the metadata was then the only trace of the user
            dex.stub().deletePassword(DeletePasswordReq.newBuilder().setEmail(target).build());
            if (userId != null) revokeRefreshTokensOf(userId);
            audit("deleted user", target, "role bindings removed, refresh tokens revoked");
            return null;
        });
    }

    public void grant(String email, Role role, boolean revoke) {
        String target = checkUserEmail(email);
        guard("change roles", () -> {
            UserStore store = new UserStore(kube, namespace);
            boolean[] changed = {false};
            Optional<UserRecord> u = store.modify(target, current -> {
                Set<Role> roles = current.roles().isEmpty() ? EnumSet.noneOf(Role.class) : EnumSet.copyOf(current.roles());
                changed[0] = revoke ? roles.remove(role) : roles.add(role);
                return current.withRoles(roles);
            });
            if (u.isEmpty()) existing(store, target);
            if (!changed[0]) return null; // nothing to do
            bindingsAfterStoreChange("the role change is stored");
            audit(revoke ? "revoked role" : "granted role", target, role.title());
            return null;
        });
    }

    /** Grants or revokes a role of {@code group} as IdP {@code idp} asserts it (never another IdP's group). */
    public void grantGroup(String idp, String group, Role role, boolean revoke) {
        GroupGrants.Group target = new GroupGrants.Group(checkIdp(idp), checkGroup(group));
        guard("change roles", () -> {
            if (!new GroupGrants(kube, namespace).change(target, role, revoke)) return null;
            bindingsAfterStoreChange("the role change is stored");
            audit(revoke ? "revoked role of group" : "granted role to group", target.subject(), role.title());
            return null;
        });
    }

    /** The IdP of a group grant: a valid IdP name (the local store has no groups). */
    public static String checkIdp(String idp) {
        if (idp == null || idp.isBlank()) {
            throw new Invalid("idp", "name the IdP the group comes from (--idp NAME, see `authctl idp list`): groups"
                    + " are per IdP, a grant never reaches a group of the same name from another IdP");
        }
        if (idp.equals(DexApi.LOCAL_CONNECTOR)) throw new Invalid("idp", "local users have no groups: grant them roles by email");
        dexauth.idp.IdpSpec.checkName(idp, "idp");
        return idp;
    }

    /**
     * The bindings recomputed after the store changed. If that fails, the store stays as changed (it is
     * the truth): the next reconcile, scheduled, does it, and until then `user list` shows the drift.
     */
    private void bindingsAfterStoreChange(String done) {
        try {
            reconcileBindings();
        } catch (KubernetesClientException e) {
            String cause = e.getStatus() != null && e.getStatus().getMessage() != null ? e.getStatus().getMessage()
                    : dexauth.errors.Causes.messages(e);
            throw new Unavailable(Unavailable.Dependency.KUBERNETES, done + ", but the role bindings could not be"
                    + " updated (" + cause + "); the next reconcile retries (scheduled, every"
                    + " dexauth:roles:reconcile_seconds), and `authctl user list` shows the drift until then", e);
        }
    }

    /**
     * Self-service change: proves the old password to Dex first. Clears must-change, so the
     * user's roles apply from now on.
     */
    public void changeOwnPassword(String email, char[] oldPassword, char[] newPassword) {
        String target = checkUserEmail(email);
        guard("change passwords", () -> {
            var verified = dex.stub().verifyPassword(VerifyPasswordReq.newBuilder().setEmail(target)
                    .setPassword(new String(oldPassword)).build());
            if (verified.getNotFound() || !verified.getVerified()) {
                throw new Unauthenticated("the current password for " + target + " is wrong");
            }
            checkPassword(newPassword, target);
            if (new String(oldPassword).equals(new String(newPassword))) {
                throw new Invalid("password", "the new password must differ from the current one");
            }
            updateDexPassword(target, newPassword);
            // A changed password ends every session: refresh tokens (kubectl, consoles) must log in again.
            revokeRefreshTokens(target);
            UserStore store = new UserStore(kube, namespace);
            Optional<UserRecord> u = store.get(target);
            if (u.isPresent() && u.get().mustChange()) {
                store.modify(target, r -> r.withMustChange(false));
                reconcileBindings();
            }
            audit("changed own password", target, "refresh tokens revoked");
            return null;
        });
    }

    /** Recomputes every dexauth role binding from the stored users and group grants. */
    public Map<String, String> reconcile() {
        return guard("change role bindings", this::reconcileBindings);
    }

    private Map<String, String> reconcileBindings() {
        return Holders.reconcile(kube, namespace, false);
    }

    private UserRecord existing(UserStore store, String email) {
        return store.get(email).orElseThrow(() -> new NotFound("no user " + email + " (see `authctl user list`)"));
    }

    private boolean dexHas(String email) {
        return dexUserId(email).isPresent();
    }

    private Optional<String> dexUserId(String email) {
        return dex.stub().listPasswords(ListPasswordReq.getDefaultInstance()).getPasswordsList().stream()
                .filter(p -> p.getEmail().equalsIgnoreCase(email)).map(Password::getUserId).findFirst();
    }

    private void updateDexPassword(String email, char[] password) {
        if (!setDexHash(email, PasswordHasher.hash(password, bcryptCost))) {
            throw new NotFound("user " + email + " is not in Dex");
        }
    }

    /** Sets the user's hash in Dex (false: no such user); a concurrent write to the same user is retried. */
    private boolean setDexHash(String email, byte[] hash) {
        UpdatePasswordReq req = UpdatePasswordReq.newBuilder().setEmail(email).setNewHash(ByteString.copyFrom(hash)).build();
        return !ConflictRetry.run(() -> dex.stub().updatePassword(req).getNotFound());
    }

    private void revokeRefreshTokens(String email) {
        dexUserId(email).ifPresent(this::revokeRefreshTokensOf);
    }

    private void revokeRefreshTokensOf(String userId) {
        String subject = localSubject(userId);
        for (RefreshTokenRef ref : dex.stub().listRefresh(ListRefreshReq.newBuilder().setUserId(subject).build())
                .getRefreshTokensList()) {
            RevokeRefreshReq req = RevokeRefreshReq.newBuilder().setUserId(subject).setClientId(ref.getClientId()).build();
            ConflictRetry.run(() -> dex.stub().revokeRefresh(req));
        }
    }

    /**
     * Dex's refresh-token API takes the token's {@code sub}: base64url (no padding) of a small
     * protobuf {user_id = 1, conn_id = 2}; local users come from connector "local".
     */
    static String localSubject(String userId) {
        try {
            java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
            com.google.protobuf.CodedOutputStream cos = com.google.protobuf.CodedOutputStream.newInstance(out);
            cos.writeString(1, userId);
            cos.writeString(2, "local");
            cos.flush();
            return java.util.Base64.getUrlEncoder().withoutPadding().encodeToString(out.toByteArray());
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private void audit(String action, String target, String detail) {
        try {
            Audit.record(kube, namespace, actor, action, target, detail);
        } catch (KubernetesClientException e) {
            System.err.println("authctl: warning: audit event not recorded: " + e.getStatus().getMessage());
        }
    }

    /**
     * Runs one use-case; Kubernetes and Dex failures become domain errors naming the actor and what
     * was attempted ({@code what}, e.g. "add users").
     */
    private <T> T guard(String what, Supplier<T> body) {
        try {
            return body.get();
        } catch (KubernetesClientException e) {
            throw Kube.failure(e, actor, what);
        } catch (StatusRuntimeException e) {
            throw DexApi.failure(e);
        }
    }
}
