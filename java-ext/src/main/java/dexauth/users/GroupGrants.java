package dexauth.users;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import dexauth.errors.Unavailable;
import dexauth.rbac.Role;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;

import java.io.IOException;
import java.util.Collection;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Consumer;

/**
 * Roles granted to the groups of upstream IdPs, per IdP: a group is only ever the group of the IdP
 * that asserts it (kube-apiserver names it {@code oidc:<idp>:<group>}), so a grant to a directory's
 * "ops" never reaches the "ops" group anyone can create on a public GitLab. Kept as JSON in one
 * ConfigMap (group names like "cn=ops,ou=groups" are not valid ConfigMap keys), written with
 * optimistic concurrency.
 */
public final class GroupGrants {
    static final String NAME = "dexauth-group-roles";
    /** {"idp": {"group": ["role", ...]}}. */
    static final String KEY = "idp-grants.json";
    /** Before groups were per IdP: {"group": ["role", ...]}; migrated once by {@link #migrate}. */
    static final String LEGACY_KEY = "grants.json";
    private static final ObjectMapper JSON = new ObjectMapper();
    private final KubernetesClient kube;
    private final String namespace;

    /** A group of one IdP. */
    public record Group(String idp, String name) implements Comparable<Group> {
        /** The group as kube-apiserver names it, without the {@code oidc:} prefix. */
        public String subject() { return idp + ":" + name; }

        @Override
        public int compareTo(Group o) {
            int c = idp.compareTo(o.idp);
            return c != 0 ? c : name.compareTo(o.name);
        }

        @Override
        public String toString() { return "group " + name + " of IdP " + idp; }
    }

    public GroupGrants(KubernetesClient kube, String namespace) {
        this.kube = kube;
        this.namespace = namespace;
    }

    public Map<Group, Set<Role>> all() {
        ConfigMap cm = kube.configMaps().inNamespace(namespace).withName(NAME).get();
        return grants(cm);
    }

    /** The ConfigMap's resource version, to tell whether the grants changed since (null: none). */
    public String version() {
        ConfigMap cm = kube.configMaps().inNamespace(namespace).withName(NAME).get();
        return cm == null ? null : cm.getMetadata().getResourceVersion();
    }

    /**
     * Grants or revokes {@code role} for {@code group}; false when nothing changed. Written only if
     * nobody wrote the grants since they were read, else read and applied again.
     */
    public boolean change(Group group, Role role, boolean revoke) {
        return ConflictRetry.run(() -> {
            ConfigMap cm = kube.configMaps().inNamespace(namespace).withName(NAME).get();
            Map<Group, Set<Role>> all = grants(cm);
            Set<Role> roles = all.computeIfAbsent(group, g -> EnumSet.noneOf(Role.class));
            if (revoke ? !roles.remove(role) : !roles.add(role)) return false;
            write(cm, all, data -> {});
            return true;
        });
    }

    /**
     * Grants of an earlier release, stored without an IdP, become grants of each IdP in {@code idps}
     * (those whose groups the organisation controls) and leave the store: once, so a second run finds
     * nothing to do. Grants that no IdP takes are named in {@code warnings} with how to grant them again.
     */
    public Map<String, String> migrate(Collection<String> idps, List<String> warnings, boolean dryRun) {
        Map<String, String> changes = new LinkedHashMap<>();
        ConflictRetry.run(() -> {
            changes.clear();
            ConfigMap cm = kube.configMaps().inNamespace(namespace).withName(NAME).get();
            if (cm == null || cm.getData() == null || !cm.getData().containsKey(LEGACY_KEY)) return null;
            Map<Group, Set<Role>> all = grants(cm);
            Map<String, List<String>> legacy = parse(cm.getData().get(LEGACY_KEY), new TypeReference<>() {});
            legacy.forEach((group, roleIds) -> {
                Set<Role> roles = roles(roleIds);
                if (idps.isEmpty()) {
                    warnings.add("the grant of " + ids(roles) + " to group " + group + " (stored without an IdP by an"
                            + " earlier release) was dropped: no directory IdP is configured; grant it again with"
                            + " `authctl role grant --group " + group + " --idp NAME ROLE`");
                }
                for (String idp : idps) {
                    all.computeIfAbsent(new Group(idp, group), g -> EnumSet.noneOf(Role.class)).addAll(roles);
                    changes.put("group-grant/" + idp + ":" + group, ids(roles) + " (migrated: groups are per IdP now)");
                }
            });
            changes.put("configmap/" + namespace + "/" + NAME, "grants without an IdP migrated");
            if (!dryRun) write(cm, all, data -> data.remove(LEGACY_KEY));
            return null;
        });
        return changes;
    }

    private void write(ConfigMap current, Map<Group, Set<Role>> grants, Consumer<Map<String, String>> more) {
        Map<String, Map<String, List<String>>> raw = new TreeMap<>();
        grants.forEach((g, roles) -> {
            if (!roles.isEmpty()) raw.computeIfAbsent(g.idp(), i -> new TreeMap<>()).put(g.name(), ids(roles));
        });
        String text;
        try {
            text = JSON.writeValueAsString(raw);
        } catch (IOException e) {
            throw new IllegalStateException("role grants cannot be written as JSON", e); // a bug: plain strings always can
        }
        if (current == null) { // create() fails with 409 when another writer created it meanwhile: read again
            kube.configMaps().inNamespace(namespace).resource(new ConfigMapBuilder().withNewMetadata().withName(NAME)
                    .withNamespace(namespace).addToLabels("app.kubernetes.io/managed-by", "dexauth").endMetadata()
                    .addToData(KEY, text).build()).create();
            return;
        }
        Map<String, String> data = new TreeMap<>(current.getData() == null ? Map.of() : current.getData());
        data.put(KEY, text);
        more.accept(data);
        current.setData(data);
        kube.configMaps().inNamespace(namespace).resource(current).update(); // 409 if written since read
    }

    private Map<Group, Set<Role>> grants(ConfigMap cm) {
        Map<Group, Set<Role>> out = new TreeMap<>();
        String text = Optional.ofNullable(cm).map(ConfigMap::getData).map(d -> d.get(KEY)).orElse(null);
        if (text == null) return out;
        Map<String, Map<String, List<String>>> raw = parse(text, new TypeReference<>() {});
        raw.forEach((idp, groups) -> groups.forEach((group, ids) -> out.put(new Group(idp, group), roles(ids))));
        return out;
    }

    private <T> T parse(String text, TypeReference<T> type) {
        try {
            return JSON.readValue(text, type);
        } catch (IOException e) {
            throw new Unavailable(Unavailable.Dependency.KUBERNETES, "ConfigMap " + namespace + "/" + NAME + " is corrupt: "
                    + e.getMessage() + " (fix or delete it, then grant the group roles again)", e);
        }
    }

    private static Set<Role> roles(List<String> ids) {
        Set<Role> set = EnumSet.noneOf(Role.class);
        if (ids != null) ids.forEach(r -> set.add(Role.parse(r)));
        return set;
    }

    private static List<String> ids(Set<Role> roles) {
        return roles.stream().map(Role::id).sorted().toList();
    }
}
