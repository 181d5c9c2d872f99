package dexauth.users;

import dexauth.errors.Invalid;
import dexauth.rbac.Role;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.UnaryOperator;

/**
 * User metadata as one ConfigMap per user in the authentication namespace: it survives
 * Dex restarts, chart upgrades and re-applies (neither the chart nor the states own it),
 * and only those allowed to manage users (Cluster Admin) may write it.
 */
public final class UserStore {
    public static final String LABEL = "dexauth.io/user";
    /**
     * Annotation of the super-admin's record from the moment Dex may hold a one-time password for it
     * until the bootstrap handed that password out: a run that failed in between leaves it, and the
     * next run issues a new one-time password instead of keeping one nobody knows.
     */
    public static final String PENDING = "dexauth.io/one-time-password";
    private final KubernetesClient kube;
    private final String namespace;

    public UserStore(KubernetesClient kube, String namespace) {
        this.kube = kube;
        this.namespace = namespace;
    }

    public static String objectName(String email) {
        try {
            byte[] d = MessageDigest.getInstance("SHA-256").digest(
                    email.toLowerCase(Locale.ROOT).getBytes(StandardCharsets.UTF_8));
            return "dexauth-user-" + HexFormat.of().formatHex(d, 0, 10);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    public Optional<UserRecord> get(String email) {
        ConfigMap cm = kube.configMaps().inNamespace(namespace).withName(objectName(email)).get();
        return Optional.ofNullable(cm).map(UserStore::fromConfigMap);
    }

    /** A labelled ConfigMap that is not a valid user record: skipped, never a user. */
    public record Rejected(String object, String reason) {}

    /**
     * Every user record, the labelled ConfigMaps that are not valid records, and the resource version
     * of each ConfigMap (to tell whether the store changed since).
     */
    public record Listing(List<UserRecord> users, List<Rejected> rejected, Map<String, String> versions) {}

    public Listing scan() {
        List<UserRecord> users = new ArrayList<>();
        List<Rejected> rejected = new ArrayList<>();
        Map<String, String> versions = new TreeMap<>();
        for (ConfigMap cm : kube.configMaps().inNamespace(namespace).withLabel(LABEL, "true").list().getItems()) {
            versions.put(cm.getMetadata().getName(), cm.getMetadata().getResourceVersion());
            try {
                users.add(fromConfigMap(cm));
            } catch (Invalid e) {
                rejected.add(new Rejected(cm.getMetadata().getName(), e.getMessage()));
            }
        }
        users.sort((a, b) -> a.email().compareToIgnoreCase(b.email()));
        return new Listing(users, rejected, versions);
    }

    /** The valid user records (see {@link #scan} for the others). */
    public List<UserRecord> list() {
        return scan().users();
    }

    /** Creates the record; fails (409) if it exists, so two admins cannot both create a user. */
    public void create(UserRecord user) {
        create(user, false);
    }

    /** Creates the record, {@code pending}: with a one-time password not handed out yet (see {@link #PENDING}). */
    void create(UserRecord user, boolean pending) {
        ConfigMap cm = toConfigMap(user);
        if (pending) cm.getMetadata().setAnnotations(new java.util.HashMap<>(Map.of(PENDING, "pending")));
        kube.configMaps().inNamespace(namespace).resource(cm).create();
    }

    /** Whether the user's one-time password is still {@link #PENDING}. */
    public boolean pending(String email) {
        ConfigMap cm = kube.configMaps().inNamespace(namespace).withName(objectName(email)).get();
        return cm != null && cm.getMetadata().getAnnotations() != null
                && "pending".equals(cm.getMetadata().getAnnotations().get(PENDING));
    }

    /** Marks or clears {@link #PENDING} on an existing record. */
    void setPending(String email, boolean pending) {
        kube.configMaps().inNamespace(namespace).withName(objectName(email)).edit(cm -> {
            if (cm.getMetadata().getAnnotations() == null) cm.getMetadata().setAnnotations(new java.util.HashMap<>());
            if (pending) cm.getMetadata().getAnnotations().put(PENDING, "pending");
            else cm.getMetadata().getAnnotations().remove(PENDING);
            return cm;
        });
    }

    /**
     * Read-modify-write of a user's record with optimistic concurrency: written only if nobody wrote it
     * since it was read (its resourceVersion), else read again and {@code change} applied anew, so two
     * admins' changes never undo each other (a revoked role resurrected, a must-change lost).
     * Empty when there is no such record; other metadata (annotations) is kept.
     */
    public Optional<UserRecord> modify(String email, UnaryOperator<UserRecord> change) {
        return ConflictRetry.run(() -> {
            ConfigMap cm = kube.configMaps().inNamespace(namespace).withName(objectName(email)).get();
            if (cm == null) return Optional.empty();
            UserRecord current = fromConfigMap(cm);
            UserRecord next = change.apply(current);
            if (next.equals(current)) return Optional.of(current);
            ConfigMap wanted = toConfigMap(next);
            cm.setData(wanted.getData());
            cm.getMetadata().getLabels().putAll(wanted.getMetadata().getLabels());
            kube.configMaps().inNamespace(namespace).resource(cm).update(); // 409 if written since read
            return Optional.of(next);
        });
    }

    public boolean delete(String email) {
        return !kube.configMaps().inNamespace(namespace).withName(objectName(email)).delete().isEmpty();
    }

    private ConfigMap toConfigMap(UserRecord u) {
        return new ConfigMapBuilder().withNewMetadata().withName(objectName(u.email())).withNamespace(namespace)
                .addToLabels(LABEL, "true").addToLabels("app.kubernetes.io/managed-by", "dexauth").endMetadata()
                .withData(Map.of("email", u.email(), "username", u.username(), "roles", u.rolesText(),
                        "mustChangePassword", Boolean.toString(u.mustChange()),
                        "createdBy", u.createdBy(), "createdAt", u.createdAt()))
                .build();
    }

    /**
     * The record a ConfigMap holds, checked: Invalid (with the reason) for one without data, with an
     * invalid email or role, a must-change flag that is not true/false, or a name that is not its
     * email's ({@link #objectName}), as a record written by anything but dexauth would be.
     */
    public static UserRecord fromConfigMap(ConfigMap cm) {
        Map<String, String> d = cm.getData();
        if (d == null || d.isEmpty()) throw new Invalid("record", "it has no data");
        String email;
        try {
            email = UserService.checkEmail(d.get("email"));
        } catch (Invalid e) {
            throw new Invalid("record", "its email is invalid: " + e.getMessage());
        }
        if (!email.equals(d.get("email"))) throw new Invalid("record", "its email is not in lowercase");
        if (!objectName(email).equals(cm.getMetadata().getName())) {
            throw new Invalid("record", "its name does not match its email " + email + " (the record of that email is "
                    + objectName(email) + "): it was not written by dexauth");
        }
        Set<Role> roles = EnumSet.noneOf(Role.class);
        for (String r : d.getOrDefault("roles", "").split(",")) if (!r.isBlank()) roles.add(Role.parse(r));
        String mustChange = d.getOrDefault("mustChangePassword", "");
        if (!mustChange.equals("true") && !mustChange.equals("false")) {
            throw new Invalid("record", "its mustChangePassword is '" + mustChange + "', not true or false");
        }
        return new UserRecord(email, d.getOrDefault("username", ""), roles, Boolean.parseBoolean(mustChange),
                d.getOrDefault("createdBy", ""), d.getOrDefault("createdAt", ""));
    }
}
