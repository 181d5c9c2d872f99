package dexauth.users;

import dexauth.rbac.RoleAssignments;
import io.fabric8.kubernetes.client.KubernetesClient;

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
}
