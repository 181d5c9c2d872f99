package dexauth.engine;

import dexauth.config.DeploymentConfig;
import dexauth.rbac.RoleDefinitions;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.rbac.ClusterRole;
import io.fabric8.kubernetes.client.KubernetesClient;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Purge: the user data a normal removal keeps (Dex's storage and user records; the role
 * bindings and role ClusterRoles in {@link #purgeRoles}), and nothing the deploy did not create: Dex's CRDs by their exact
 * names, other objects by dexauth's managed-by label. Solution namespaces keep their Pod
 * Security label: removing it would only weaken them.
 */
final class UserData {
    static final String MANAGED_BY = "app.kubernetes.io/managed-by";

    /**
     * The CRDs Dex v2.45.1 creates for its kubernetes storage (storage/kubernetes/types.go,
     * customResourceDefinitions); other CRDs of the dex.coreos.com group are not ours.
     */
    static final List<String> DEX_CRDS = List.of(
            "authcodes.dex.coreos.com", "authrequests.dex.coreos.com", "oauth2clients.dex.coreos.com",
            "signingkeies.dex.coreos.com", "refreshtokens.dex.coreos.com", "passwords.dex.coreos.com",
            "offlinesessionses.dex.coreos.com", "connectors.dex.coreos.com", "devicerequests.dex.coreos.com",
            "devicetokens.dex.coreos.com");

    private UserData() {}

    static Map<String, String> purge(KubernetesClient kube, DeploymentConfig cfg, boolean dryRun) {
        Map<String, String> changes = new LinkedHashMap<>();
        var crds = kube.apiextensions().v1().customResourceDefinitions();
        for (String name : DEX_CRDS) {
            if (crds.withName(name).get() == null) continue;
            changes.put("crd/" + name, "deleted with all its objects");
            if (!dryRun) crds.withName(name).delete();
        }
        String ns = cfg.namespace();
        Namespace namespace = kube.namespaces().withName(ns).get();
        if (ours(namespace)) {
            changes.put("namespace/" + ns, "deleted");
            if (!dryRun) kube.namespaces().withName(ns).delete();
        } else if (namespace != null) {
            // A namespace the operator made stays; what dexauth stored in it goes (user records, group grants).
            for (var cm : kube.configMaps().inNamespace(ns).withLabel(MANAGED_BY, "dexauth").list().getItems()) {
                changes.put("configmap/" + ns + "/" + cm.getMetadata().getName(), "deleted");
                if (!dryRun) kube.configMaps().inNamespace(ns).resource(cm).delete();
            }
        }
        return changes;
    }

    /** Every binding dexauth made (solution namespaces included) and the role ClusterRoles. */
    static Map<String, String> purgeRoles(KubernetesClient kube, boolean dryRun) {
        Map<String, String> changes = new LinkedHashMap<>();
        // Solution Admins' RoleBindings, one in each solution namespace.
        for (var b : kube.rbac().roleBindings().inAnyNamespace().withLabel(MANAGED_BY, "dexauth").list().getItems()) {
            changes.put("rolebinding/" + b.getMetadata().getNamespace() + "/" + b.getMetadata().getName(), "deleted");
            if (!dryRun) kube.rbac().roleBindings().inNamespace(b.getMetadata().getNamespace()).resource(b).delete();
        }
        for (var b : kube.rbac().clusterRoleBindings().withLabel(MANAGED_BY, "dexauth").list().getItems()) {
            changes.put("clusterrolebinding/" + b.getMetadata().getName(), "deleted");
            if (!dryRun) kube.rbac().clusterRoleBindings().resource(b).delete();
        }
        for (ClusterRole role : RoleDefinitions.all()) {
            ClusterRole have = kube.rbac().clusterRoles().withName(role.getMetadata().getName()).get();
            if (!ours(have)) continue;
            changes.put("clusterrole/" + role.getMetadata().getName(), "deleted");
            if (!dryRun) kube.rbac().clusterRoles().resource(have).delete();
        }
        return changes;
    }

    private static boolean ours(HasMetadata object) {
        return object != null && object.getMetadata().getLabels() != null
                && "dexauth".equals(object.getMetadata().getLabels().get(MANAGED_BY));
    }
}
