package dexauth.engine;

import dexauth.config.DeploymentConfig;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.client.KubernetesClient;

import java.util.LinkedHashMap;
import java.util.Map;

/** Purge: the user data a normal removal keeps (Dex's storage, client secrets, role bindings). */
final class UserData {
    static final String DEX_GROUP = "dex.coreos.com";

    private UserData() {}

    static Map<String, String> purge(KubernetesClient kube, DeploymentConfig cfg, boolean dryRun) {
        Map<String, String> changes = new LinkedHashMap<>();
        for (CustomResourceDefinition crd : kube.apiextensions().v1().customResourceDefinitions().list().getItems()) {
            if (DEX_GROUP.equals(crd.getSpec().getGroup())) {
                changes.put("crd/" + crd.getMetadata().getName(), "deleted with all its objects");
                if (!dryRun) kube.apiextensions().v1().customResourceDefinitions().resource(crd).delete();
            }
        }
        var bindings = kube.rbac().clusterRoleBindings().withLabel("app.kubernetes.io/managed-by", "dexauth").list();
        for (var b : bindings.getItems()) {
            changes.put("clusterrolebinding/" + b.getMetadata().getName(), "deleted");
            if (!dryRun) kube.rbac().clusterRoleBindings().resource(b).delete();
        }
        if (kube.namespaces().withName(cfg.namespace()).get() != null) {
            changes.put("namespace/" + cfg.namespace(), "deleted");
            if (!dryRun) kube.namespaces().withName(cfg.namespace()).delete();
        }
        return changes;
    }
}
