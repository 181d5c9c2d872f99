package dexauth.users;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import dexauth.errors.Unavailable;
import dexauth.rbac.Role;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;

import java.io.IOException;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Roles granted to external IdP groups (LDAP/AD...), kept as JSON in one ConfigMap
 * (group names like "cn=ops,ou=groups" are not valid ConfigMap keys).
 */
public final class GroupGrants {
    static final String NAME = "dexauth-group-roles";
    private static final ObjectMapper JSON = new ObjectMapper();
    private final KubernetesClient kube;
    private final String namespace;

    public GroupGrants(KubernetesClient kube, String namespace) {
        this.kube = kube;
        this.namespace = namespace;
    }

    public Map<String, Set<Role>> all() {
        Map<String, Set<Role>> out = new TreeMap<>();
        ConfigMap cm = kube.configMaps().inNamespace(namespace).withName(NAME).get();
        if (cm == null || cm.getData() == null || !cm.getData().containsKey("grants.json")) return out;
        try {
            Map<String, List<String>> raw = JSON.readValue(cm.getData().get("grants.json"), new TypeReference<>() {});
            raw.forEach((group, roles) -> {
                Set<Role> set = EnumSet.noneOf(Role.class);
                roles.forEach(r -> set.add(Role.parse(r)));
                out.put(group, set);
            });
        } catch (IOException e) {
            throw new Unavailable(Unavailable.Dependency.KUBERNETES, "ConfigMap " + namespace + "/" + NAME + " is corrupt: "
                    + e.getMessage(), e);
        }
        return out;
    }

    public void save(Map<String, Set<Role>> grants) {
        Map<String, List<String>> raw = new TreeMap<>();
        grants.forEach((g, roles) -> {
            if (!roles.isEmpty()) raw.put(g, roles.stream().map(Role::id).sorted().toList());
        });
        try {
            kube.configMaps().inNamespace(namespace).resource(new ConfigMapBuilder().withNewMetadata().withName(NAME)
                    .withNamespace(namespace).addToLabels("app.kubernetes.io/managed-by", "dexauth").endMetadata()
                    .addToData("grants.json", JSON.writeValueAsString(raw)).build()).serverSideApply();
        } catch (IOException e) {
            throw new IllegalStateException("role grants cannot be written as JSON", e); // a bug: plain strings always can
        }
    }
}
