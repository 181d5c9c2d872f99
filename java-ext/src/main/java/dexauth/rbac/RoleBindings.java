package dexauth.rbac;

import io.fabric8.kubernetes.api.model.rbac.ClusterRoleBinding;
import io.fabric8.kubernetes.api.model.rbac.ClusterRoleBindingBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;

import java.util.Objects;

/**
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

    /** Ensures a binding of {@code clusterRole} to the user; true when something changed. */
    public static boolean bindUser(KubernetesClient kube, String email, String clusterRole, boolean dryRun) {
        String name = bindingName(clusterRole, email);
        ClusterRoleBinding want = new ClusterRoleBindingBuilder().withNewMetadata().withName(name)
                .addToLabels(MANAGED_BY, "dexauth").addToAnnotations("dexauth.io/user", email).endMetadata()
                .withNewRoleRef().withApiGroup("rbac.authorization.k8s.io").withKind("ClusterRole")
                .withName(clusterRole).endRoleRef()
                .addNewSubject().withApiGroup("rbac.authorization.k8s.io").withKind("User")
                .withName(PREFIX + email).endSubject().build();
        ClusterRoleBinding have = kube.rbac().clusterRoleBindings().withName(name).get();
        if (have != null && Objects.equals(have.getSubjects(), want.getSubjects())
                && Objects.equals(have.getRoleRef(), want.getRoleRef())) {
            return false;
        }
        if (!dryRun) kube.rbac().clusterRoleBindings().resource(want).serverSideApply();
        return true;
    }

    public static boolean unbindUser(KubernetesClient kube, String email, String clusterRole, boolean dryRun) {
        String name = bindingName(clusterRole, email);
        if (kube.rbac().clusterRoleBindings().withName(name).get() == null) return false;
        if (!dryRun) kube.rbac().clusterRoleBindings().withName(name).delete();
        return true;
    }
}
