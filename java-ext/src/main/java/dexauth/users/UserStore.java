package dexauth.users;

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

    public List<UserRecord> list() {
        List<UserRecord> out = new ArrayList<>();
        for (ConfigMap cm : kube.configMaps().inNamespace(namespace).withLabel(LABEL, "true").list().getItems()) {
            out.add(fromConfigMap(cm));
        }
        out.sort((a, b) -> a.email().compareToIgnoreCase(b.email()));
        return out;
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

    public void update(UserRecord user) {
        // forceConflicts: the record was created by create() under another field manager.
        kube.configMaps().inNamespace(namespace).resource(toConfigMap(user)).forceConflicts().serverSideApply();
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

    public static UserRecord fromConfigMap(ConfigMap cm) {
        Map<String, String> d = cm.getData();
        Set<Role> roles = EnumSet.noneOf(Role.class);
        for (String r : d.getOrDefault("roles", "").split(",")) if (!r.isBlank()) roles.add(Role.parse(r));
        return new UserRecord(d.get("email"), d.getOrDefault("username", ""), roles,
                Boolean.parseBoolean(d.getOrDefault("mustChangePassword", "false")),
                d.getOrDefault("createdBy", ""), d.getOrDefault("createdAt", ""));
    }
}
