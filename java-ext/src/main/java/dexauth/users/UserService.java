package dexauth.users;

import com.google.protobuf.ByteString;
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
import dexauth.rbac.Role;
import dexauth.rbac.RoleAssignments;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;

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
import java.util.regex.Pattern;

/**
 * Local users: the password in Dex (gRPC, hash only), the metadata in the cluster, the
 * roles as RBAC bindings. Cluster writes go through {@code kube}, i.e. with the rights of
 * whoever runs the command, and happen before Dex is touched: an operator without the
 * right is refused with nothing changed.
 */
public final class UserService {
    private static final Pattern EMAIL = Pattern.compile("[A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+\\.[A-Za-z]{2,}");

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

    /** A refusal the operator can act on; {@code code} becomes the exit status. */
    public static final class Refused extends RuntimeException {
        private final int code;

        public Refused(String message, int code) {
            super(message);
            this.code = code;
        }

        public int code() { return code; }
    }

    /** One row of {@code user list}. */
    public record Row(String email, String username, String roles, boolean mustChange, String createdBy,
                      String createdAt, String drift) {}

    public static String checkEmail(String email) {
        if (email == null || !EMAIL.matcher(email).matches()) {
            throw new Refused("'" + email + "' is not a valid email address (it is the user's login name)", 2);
        }
        return email.toLowerCase(Locale.ROOT);
    }

    public void checkPassword(char[] password, String email) {
        policy.check(password, email).ifPresent(problem -> {
            throw new Refused(problem, 2);
        });
    }

    public UserRecord add(String email, String username, Set<Role> roles, char[] password) {
        checkPassword(password, checkEmail(email));
        return add(email, username, roles, PasswordHasher.hash(password, bcryptCost), null);
    }

    /**
     * Creates a user from an already computed bcrypt hash (import hashes in parallel).
     * {@code knownInDex}, when given, replaces one Dex listing per user.
     */
    public UserRecord add(String email, String username, Set<Role> roles, byte[] hash, Set<String> knownInDex) {
        email = checkEmail(email);
        UserStore store = new UserStore(kube, namespace);
        String target = email;
        boolean known = false;
        try {
            known = store.get(target).isPresent();
        } catch (KubernetesClientException e) {
            throw translate(e, "add users");
        }
        if (known || (knownInDex != null ? knownInDex.contains(email) : dexHas(email))) {
            throw new Refused("user " + email + " already exists", 3);
        }
        UserRecord user = new UserRecord(email, username == null || username.isBlank() ? email.split("@")[0] : username,
                roles, true, actor, Instant.now().truncatedTo(ChronoUnit.SECONDS).toString());
        guarded("add users", () -> store.create(user));
        try {
            Password p = Password.newBuilder().setEmail(email).setUsername(user.username())
                    .setUserId(UUID.randomUUID().toString())
                    .setHash(ByteString.copyFrom(hash)).build();
            if (dex.stub().createPassword(CreatePasswordReq.newBuilder().setPassword(p).build()).getAlreadyExists()) {
                throw new Refused("user " + email + " already exists in Dex", 3);
            }
        } catch (RuntimeException e) {
            store.delete(email); // nothing half-done
            throw e;
        }
        audit("created user", email, "roles " + user.rolesText() + ", must change password");
        return user;
    }

    /** Emails Dex knows, lowercased (one listing). */
    public Set<String> dexEmails() {
        Set<String> out = new java.util.HashSet<>();
        dex.stub().listPasswords(ListPasswordReq.getDefaultInstance()).getPasswordsList()
                .forEach(p -> out.add(p.getEmail().toLowerCase(Locale.ROOT)));
        return out;
    }

    public int bcryptCost() { return bcryptCost; }

    public List<Row> list() {
        Map<String, UserRecord> records = new LinkedHashMap<>();
        guarded("list users", () -> new UserStore(kube, namespace).list().forEach(u -> records.put(u.email(), u)));
        Map<String, Password> inDex = new LinkedHashMap<>();
        dex.stub().listPasswords(ListPasswordReq.getDefaultInstance()).getPasswordsList()
                .forEach(p -> inDex.put(p.getEmail().toLowerCase(Locale.ROOT), p));
        List<Row> rows = new ArrayList<>();
        records.forEach((email, u) -> rows.add(new Row(email, u.username(), u.rolesText(), u.mustChange(),
                u.createdBy(), u.createdAt(), inDex.containsKey(email) ? "" : "missing in Dex")));
        inDex.forEach((email, p) -> {
            if (!records.containsKey(email)) {
                rows.add(new Row(email, p.getUsername(), "", false, "", "", "no dexauth metadata"));
            }
        });
        rows.sort((a, b) -> a.email().compareToIgnoreCase(b.email()));
        return rows;
    }

    public Row show(String email) {
        String e = checkEmail(email);
        return list().stream().filter(r -> r.email().equals(e)).findFirst()
                .orElseThrow(() -> new Refused("no user " + e, 5));
    }

    /** Admin reset: the user must change the new password before anything else. */
    public void resetPassword(String email, char[] password) {
        email = checkEmail(email);
        checkPassword(password, email);
        UserStore store = new UserStore(kube, namespace);
        UserRecord u = existing(store, email);
        UserRecord updated = u.withMustChange(true);
        guarded("reset passwords", () -> store.update(updated));
        updateDexPassword(email, password);
        revokeRefreshTokens(email);
        reconcile();
        audit("reset the password of", email, "must change password");
    }

    public void delete(String email) {
        email = checkEmail(email);
        UserStore store = new UserStore(kube, namespace);
        existing(store, email);
        String userId = dexUserId(email).orElse(null);
        String target = email;
        guarded("delete users", () -> store.delete(target));
        reconcile();
        // not_found is fine: the metadata was then the only trace of the user
        dex.stub().deletePassword(DeletePasswordReq.newBuilder().setEmail(email).build());
        if (userId != null) revokeRefreshTokensOf(userId);
        audit("deleted user", email, "role bindings removed, refresh tokens revoked");
    }

    public void grant(String email, Role role, boolean revoke) {
        email = checkEmail(email);
        UserStore store = new UserStore(kube, namespace);
        UserRecord u = existing(store, email);
        Set<Role> roles = u.roles().isEmpty() ? EnumSet.noneOf(Role.class) : EnumSet.copyOf(u.roles());
        if (revoke ? !roles.remove(role) : !roles.add(role)) return; // nothing to do
        UserRecord updated = u.withRoles(roles);
        guarded("change roles", () -> store.update(updated));
        reconcile();
        audit(revoke ? "revoked role" : "granted role", email, role.title());
    }

    public void grantGroup(String group, Role role, boolean revoke) {
        if (group == null || group.isBlank()) throw new Refused("group name is empty", 2);
        GroupGrants grants = new GroupGrants(kube, namespace);
        Map<String, Set<Role>> all = new LinkedHashMap<>();
        guarded("change roles", () -> all.putAll(grants.all()));
        Set<Role> roles = all.computeIfAbsent(group, g -> EnumSet.noneOf(Role.class));
        if (revoke ? !roles.remove(role) : !roles.add(role)) return;
        guarded("change roles", () -> grants.save(all));
        reconcile();
        audit(revoke ? "revoked role of group" : "granted role to group", group, role.title());
    }

    /**
     * Self-service change: proves the old password to Dex first. Clears must-change, so the
     * user's roles apply from now on.
     */
    public void changeOwnPassword(String email, char[] oldPassword, char[] newPassword) {
        email = checkEmail(email);
        var verified = dex.stub().verifyPassword(VerifyPasswordReq.newBuilder().setEmail(email)
                .setPassword(new String(oldPassword)).build());
        if (verified.getNotFound() || !verified.getVerified()) {
            throw new Refused("the current password for " + email + " is wrong", 4);
        }
        checkPassword(newPassword, email);
        if (new String(oldPassword).equals(new String(newPassword))) {
            throw new Refused("the new password must differ from the current one", 2);
        }
        updateDexPassword(email, newPassword);
        // A changed password ends every session: refresh tokens (kubectl, consoles) must log in again.
        revokeRefreshTokens(email);
        UserStore store = new UserStore(kube, namespace);
        Optional<UserRecord> u = store.get(email);
        if (u.isPresent() && u.get().mustChange()) {
            store.update(u.get().withMustChange(false));
            reconcile();
        }
        audit("changed own password", email, "refresh tokens revoked");
    }

    /** Recomputes every dexauth role binding from the stored users and group grants. */
    public Map<String, String> reconcile() {
        Map<String, String> changes = new LinkedHashMap<>();
        guarded("change role bindings", () -> changes.putAll(
                RoleAssignments.reconcile(kube, Holders.fromCluster(kube, namespace), false)));
        return changes;
    }

    private UserRecord existing(UserStore store, String email) {
        Optional<UserRecord> u = Optional.empty();
        try {
            u = store.get(email);
        } catch (KubernetesClientException e) {
            throw translate(e, "read users");
        }
        return u.orElseThrow(() -> new Refused("no user " + email + " (see `authctl user list`)", 5));
    }

    private boolean dexHas(String email) {
        return dexUserId(email).isPresent();
    }

    private Optional<String> dexUserId(String email) {
        return dex.stub().listPasswords(ListPasswordReq.getDefaultInstance()).getPasswordsList().stream()
                .filter(p -> p.getEmail().equalsIgnoreCase(email)).map(Password::getUserId).findFirst();
    }

    private void updateDexPassword(String email, char[] password) {
        boolean notFound = dex.stub().updatePassword(UpdatePasswordReq.newBuilder().setEmail(email)
                .setNewHash(ByteString.copyFrom(PasswordHasher.hash(password, bcryptCost))).build()).getNotFound();
        if (notFound) throw new Refused("user " + email + " is not in Dex", 5);
    }

    private void revokeRefreshTokens(String email) {
        dexUserId(email).ifPresent(this::revokeRefreshTokensOf);
    }

    private void revokeRefreshTokensOf(String userId) {
        String subject = localSubject(userId);
        for (RefreshTokenRef ref : dex.stub().listRefresh(ListRefreshReq.newBuilder().setUserId(subject).build())
                .getRefreshTokensList()) {
            dex.stub().revokeRefresh(RevokeRefreshReq.newBuilder().setUserId(subject).setClientId(ref.getClientId()).build());
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

    private void guarded(String what, Runnable action) {
        try {
            action.run();
        } catch (KubernetesClientException e) {
            throw translate(e, what);
        }
    }

    /** A Kubernetes API failure as a refusal naming the actor and what was attempted. */
    public Refused translate(KubernetesClientException e, String what) {
        if (e.getCode() == 403) {
            return new Refused("not allowed: " + actor + " may not " + what
                    + " (this needs the Cluster Admin role)", 6);
        }
        if (e.getCode() == 401) {
            return new Refused("your login has expired or is invalid: run `authctl login` again", 7);
        }
        if (e.getCode() == 409) return new Refused("conflict: the object changed or already exists; retry", 3);
        return new Refused("Kubernetes API: " + (e.getStatus() != null ? e.getStatus().getMessage() : e.getMessage()), 8);
    }
}
