package dexauth.users;

import dexauth.rbac.RoleAssignments;
import dexauth.rbac.SolutionPolicy;
import io.fabric8.kubernetes.client.KubernetesClient;

import java.util.Map;

/** Who holds which role, read from the stored users and group grants. */
public final class Holders {
    private Holders() {}

    public static RoleAssignments.Holders fromCluster(KubernetesClient kube, String namespace) {
        RoleAssignments.Holders holders = RoleAssignments.Holders.empty();
        for (UserRecord u : new UserStore(kube, namespace).list()) {
            if (u.mustChange()) continue; // no binding until the password is changed
            u.roles().forEach(r -> holders.users().get(r).add(u.email()));
        }
        new GroupGrants(kube, namespace).all().forEach((g, roles) -> roles.forEach(r -> holders.groups().get(r).add(g)));
        return holders;
    }

    /** Every dexauth binding recomputed from the stored assignments, under the stored solution policy. */
    public static Map<String, String> reconcile(KubernetesClient kube, String namespace, boolean dryRun) {
        return RoleAssignments.reconcile(kube, fromCluster(kube, namespace), SolutionPolicy.read(kube, namespace), dryRun);
    }
}
