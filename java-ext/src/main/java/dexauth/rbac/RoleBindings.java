package dexauth.rbac;

import io.fabric8.kubernetes.client.KubernetesClient;


/**
 * Naming of per-user role bindings (kept to remove those of earlier releases).
 * Role bindings for Dex users. Dex passwords carry no groups, so a local user's role is a
 * ClusterRoleBinding whose subject is the user's {@code oidc:}-prefixed email, exactly as
 * kube-apiserver maps the token's email claim.
 */
public final class RoleBindings {
    public static final String PREFIX = "oidc:";
    static final String MANAGED_BY = "app.kubernetes.io/managed-by";

    private RoleBindings() {}

    public static String bindingName(String clusterRole, String email) {
        String slug = email.toLowerCase(java.util.Locale.ROOT).replaceAll("[^a-z0-9.-]", "-");
        return "dexauth:" + clusterRole + ":" + slug;
    }

    public static boolean unbindUser(KubernetesClient kube, String email, String clusterRole, boolean dryRun) {
        String name = bindingName(clusterRole, email);
        if (kube.rbac().clusterRoleBindings().withName(name).get() == null) return false;
        if (!dryRun) kube.rbac().clusterRoleBindings().withName(name).delete();
        return true;
    }
}
