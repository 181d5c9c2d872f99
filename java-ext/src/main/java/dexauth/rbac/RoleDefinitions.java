package dexauth.rbac;

import io.fabric8.kubernetes.api.model.rbac.ClusterRole;
import io.fabric8.kubernetes.api.model.rbac.ClusterRoleBuilder;
import io.fabric8.kubernetes.api.model.rbac.PolicyRule;
import io.fabric8.kubernetes.api.model.rbac.PolicyRuleBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The ClusterRoles behind Solution Admin and Read Only (Cluster Admin is Kubernetes'
 * own cluster-admin). See docs/roles.md for the table of what each may do.
 *
 * Solution Admin is bound per solution namespace (a RoleBinding to a ClusterRole), never
 * cluster-wide, so it can never read Secrets outside those namespaces; it has no verbs on
 * RBAC objects, no bind/escalate/impersonate, no nodes, CRDs or webhooks.
 */
public final class RoleDefinitions {
    public static final String SOLUTION_ADMIN_CLUSTER = "dexauth:solution-admin-cluster";
    static final String[] READ = {"get", "list", "watch"};
    static final String[] ALL = {"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"};

    private RoleDefinitions() {}

    public static List<ClusterRole> all() {
        return List.of(solutionAdmin(), solutionAdminCluster(), readOnly());
    }

    /** Full control of workloads, inside one solution namespace (used through RoleBindings). */
    static ClusterRole solutionAdmin() {
        return role(Role.SOLUTION_ADMIN.clusterRole(), "Solution Admin: workloads in solution namespaces",
                rule("", ALL, "pods", "pods/log", "pods/exec", "pods/portforward", "pods/attach", "services",
                        "configmaps", "secrets", "persistentvolumeclaims", "serviceaccounts",
                        "replicationcontrollers", "events"),
                // Endpoints by hand would send a Service's traffic to any address: only Services' selectors fill them.
                rule("", READ, "endpoints"),
                rule("apps", ALL, "deployments", "deployments/scale", "statefulsets", "statefulsets/scale",
                        "daemonsets", "replicasets", "replicasets/scale", "controllerrevisions"),
                rule("batch", ALL, "jobs", "cronjobs"),
                rule("autoscaling", ALL, "horizontalpodautoscalers"),
                rule("networking.k8s.io", ALL, "ingresses", "networkpolicies"),
                rule("policy", ALL, "poddisruptionbudgets"),
                rule("discovery.k8s.io", READ, "endpointslices"),
                rule("", READ, "resourcequotas", "limitranges"));
    }

    /** Cluster-scoped reads that workloads need; bound cluster-wide for Solution Admins. */
    static ClusterRole solutionAdminCluster() {
        return role(SOLUTION_ADMIN_CLUSTER, "Solution Admin: cluster-scoped reads workloads need",
                rule("", READ, "namespaces"),
                rule("storage.k8s.io", READ, "storageclasses", "csidrivers"),
                rule("networking.k8s.io", READ, "ingressclasses"),
                rule("scheduling.k8s.io", READ, "priorityclasses"),
                rule("node.k8s.io", READ, "runtimeclasses"),
                holds(Role.SOLUTION_ADMIN));
    }

    /** Reads workloads and cluster state, everywhere; never Secrets, never writes. */
    static ClusterRole readOnly() {
        return role(Role.READ_ONLY.clusterRole(), "Read Only: workloads and cluster state, no Secrets",
                rule("", READ, "pods", "pods/log", "services", "endpoints", "persistentvolumeclaims",
                        "persistentvolumes", "namespaces", "nodes", "events", "replicationcontrollers",
                        "resourcequotas", "limitranges", "serviceaccounts"),
                rule("apps", READ, "deployments", "statefulsets", "daemonsets", "replicasets"),
                rule("batch", READ, "jobs", "cronjobs"),
                rule("autoscaling", READ, "horizontalpodautoscalers"),
                rule("networking.k8s.io", READ, "ingresses", "ingressclasses", "networkpolicies"),
                rule("policy", READ, "poddisruptionbudgets"),
                rule("storage.k8s.io", READ, "storageclasses"),
                rule("discovery.k8s.io", READ, "endpointslices"),
                // The console's user list (emails, roles; no secret): see Access.USERS.
                rule(Access.GROUP, new String[] {"get", "list"}, Access.USERS),
                holds(Role.READ_ONLY));
    }

    /** "This role is held": what single sign-on asks Kubernetes (see Access.ROLES). */
    private static PolicyRule holds(Role role) {
        return new PolicyRuleBuilder().withApiGroups(Access.GROUP).withResources(Access.ROLES)
                .withResourceNames(role.id()).withVerbs("get").build();
    }

    private static PolicyRule rule(String group, String[] verbs, String... resources) {
        return new PolicyRuleBuilder().withApiGroups(group).withResources(resources).withVerbs(verbs).build();
    }

    private static ClusterRole role(String name, String description, PolicyRule... rules) {
        return new ClusterRoleBuilder().withNewMetadata().withName(name)
                .addToLabels(RoleBindings.MANAGED_BY, "dexauth")
                .addToAnnotations("dexauth.io/description", description).endMetadata()
                .withRules(rules).build();
    }

    /** Creates or corrects the ClusterRoles; returns what changed. */
    public static Map<String, String> ensure(KubernetesClient kube, boolean dryRun) {
        Map<String, String> changes = new LinkedHashMap<>();
        for (ClusterRole want : all()) {
            ClusterRole have = kube.rbac().clusterRoles().withName(want.getMetadata().getName()).get();
            if (have != null && Objects.equals(new ArrayList<>(have.getRules()), want.getRules())) continue;
            changes.put("clusterrole/" + want.getMetadata().getName(), have == null ? "created" : "updated");
            if (!dryRun) kube.rbac().clusterRoles().resource(want).serverSideApply();
        }
        return changes;
    }
}
