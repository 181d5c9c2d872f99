package dexauth.rbac;

import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.rbac.ClusterRoleBinding;
import io.fabric8.kubernetes.api.model.rbac.ClusterRoleBindingBuilder;
import io.fabric8.kubernetes.api.model.rbac.RoleBinding;
import io.fabric8.kubernetes.api.model.rbac.RoleBindingBuilder;
import io.fabric8.kubernetes.api.model.rbac.Subject;
import io.fabric8.kubernetes.api.model.rbac.SubjectBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/**
 * Turns "who has which role" into RBAC bindings, all labelled as dexauth's:
 * <ul>
 *   <li>Cluster Admin, Read Only: one ClusterRoleBinding per role listing every holder;</li>
 *   <li>Solution Admin: a RoleBinding in every solution namespace, plus a ClusterRoleBinding
 *       for the cluster-scoped reads workloads need.</li>
 * </ul>
 * A <b>solution namespace</b> is a namespace labelled {@value #SOLUTION_LABEL}=true that the
 * {@link SolutionPolicy} accepts (never kube-*, default, the authentication namespace). Reconciling
 * also gives every solution namespace the Pod Security "baseline" level, so a Solution Admin
 * cannot run privileged or hostPath pods (the path from a namespace to the node's keys).
 * Users who must change their password hold no binding at all.
 */
public final class RoleAssignments {
    public static final String SOLUTION_LABEL = "dexauth.io/solution";
    static final String PSA_LABEL = "pod-security.kubernetes.io/enforce";
    static final String BINDING_PREFIX = "dexauth:";
    /** Annotation of a refusal Event: the namespace refused. */
    public static final String REFUSED_NAMESPACE = "dexauth.io/namespace";

    private RoleAssignments() {}

    /** Role holders: {@code users} are emails, {@code groups} are {@code <idp>:<group>} (both without {@code oidc:}). */
    public record Holders(Map<Role, Set<String>> users, Map<Role, Set<String>> groups) {
        public static Holders empty() {
            Map<Role, Set<String>> u = new EnumMap<>(Role.class);
            Map<Role, Set<String>> g = new EnumMap<>(Role.class);
            for (Role r : Role.values()) {
                u.put(r, new TreeSet<>());
                g.put(r, new TreeSet<>());
            }
            return new Holders(u, g);
        }
    }

    /**
     * The roles dexauth's ClusterRoleBindings actually give each local user (by email): what
     * {@code user list} compares with the stored roles to show drift.
     */
    public static Map<String, Set<Role>> boundUsers(KubernetesClient kube) {
        Map<String, Role> byBinding = Map.of(BINDING_PREFIX + "role:" + Role.CLUSTER_ADMIN.id(), Role.CLUSTER_ADMIN,
                BINDING_PREFIX + "role:" + Role.READ_ONLY.id(), Role.READ_ONLY,
                BINDING_PREFIX + "role:" + Role.SOLUTION_ADMIN.id() + "-cluster", Role.SOLUTION_ADMIN);
        Map<String, Set<Role>> out = new java.util.TreeMap<>();
        for (ClusterRoleBinding b : kube.rbac().clusterRoleBindings().withLabel(RoleBindings.MANAGED_BY, "dexauth")
                .list().getItems()) {
            Role role = byBinding.get(b.getMetadata().getName());
            if (role == null || b.getSubjects() == null) continue;
            for (Subject s : b.getSubjects()) {
                if ("User".equals(s.getKind()) && s.getName().startsWith(RoleBindings.PREFIX)) {
                    out.computeIfAbsent(s.getName().substring(RoleBindings.PREFIX.length()),
                            e -> java.util.EnumSet.noneOf(Role.class)).add(role);
                }
            }
        }
        return out;
    }

    static List<Subject> subjects(Holders h, Role role) {
        List<Subject> out = new ArrayList<>();
        for (String email : h.users().get(role)) {
            out.add(new SubjectBuilder().withApiGroup("rbac.authorization.k8s.io").withKind("User")
                    .withName(RoleBindings.PREFIX + email).build());
        }
        for (String group : h.groups().get(role)) {
            out.add(new SubjectBuilder().withApiGroup("rbac.authorization.k8s.io").withKind("Group")
                    .withName(RoleBindings.PREFIX + group).build());
        }
        out.sort(Comparator.comparing(Subject::getKind).thenComparing(Subject::getName));
        return out;
    }

    /**
     * Makes the bindings follow {@code holders}: creates or corrects the wanted ones, and deletes every
     * other binding dexauth ever made (found by its managed-by label), e.g. in a namespace whose label
     * was removed, or naming a deleted user. A labelled namespace the policy refuses gets no binding
     * and no Pod Security label, only a warning Event in the authentication namespace.
     */
    public static Map<String, String> reconcile(KubernetesClient kube, Holders holders, SolutionPolicy policy,
                                                boolean dryRun) {
        Map<String, String> changes = new LinkedHashMap<>();
        Set<String> wanted = new HashSet<>();
        clusterBinding(kube, BINDING_PREFIX + "role:" + Role.CLUSTER_ADMIN.id(), Role.CLUSTER_ADMIN.clusterRole(),
                subjects(holders, Role.CLUSTER_ADMIN), changes, wanted, dryRun);
        clusterBinding(kube, BINDING_PREFIX + "role:" + Role.READ_ONLY.id(), Role.READ_ONLY.clusterRole(),
                subjects(holders, Role.READ_ONLY), changes, wanted, dryRun);
        List<Subject> solution = subjects(holders, Role.SOLUTION_ADMIN);
        clusterBinding(kube, BINDING_PREFIX + "role:" + Role.SOLUTION_ADMIN.id() + "-cluster",
                RoleDefinitions.SOLUTION_ADMIN_CLUSTER, solution, changes, wanted, dryRun);
        for (Namespace ns : kube.namespaces().withLabel(SOLUTION_LABEL, "true").list().getItems()) {
            String name = ns.getMetadata().getName();
            Optional<String> refusal = policy.refusal(name);
            if (refusal.isPresent()) {
                refuse(kube, policy.authNamespace(), name, refusal.get(), changes, dryRun);
                continue;
            }
            if (!"baseline".equals(ns.getMetadata().getLabels().get(PSA_LABEL))
                    && !"restricted".equals(ns.getMetadata().getLabels().get(PSA_LABEL))) {
                try {
                    if (!dryRun) kube.namespaces().withName(name).edit(n -> {
                        n.getMetadata().getLabels().put(PSA_LABEL, "baseline");
                        return n;
                    });
                    changes.put("namespace/" + name, "pod security: baseline enforced");
                } catch (io.fabric8.kubernetes.client.KubernetesClientException e) {
                    if (e.getCode() != 403) throw e;
                    // Whoever reconciles may not label namespaces (the account service after a password
                    // change): no binding in a namespace without its Pod Security level; the scheduled
                    // reconcile, with the admin's rights, labels it and binds.
                    changes.put("namespace/" + name, "not bound yet: its Pod Security label is set by the next scheduled reconcile");
                    continue;
                }
            }
            namespaceBinding(kube, name, solution, changes, wanted, dryRun);
        }
        removeUnwanted(kube, wanted, changes, dryRun);
        return changes;
    }

    /**
     * A role binding dexauth made, of this release or an earlier one: its label, a "dexauth:" name and
     * one of the roles' ClusterRoles (so a binding dexauth makes for anything else is never touched).
     */
    private static boolean roleBinding(io.fabric8.kubernetes.api.model.ObjectMeta meta,
                                       io.fabric8.kubernetes.api.model.rbac.RoleRef ref) {
        Set<String> roles = Set.of(Role.CLUSTER_ADMIN.clusterRole(), Role.SOLUTION_ADMIN.clusterRole(),
                Role.READ_ONLY.clusterRole(), RoleDefinitions.SOLUTION_ADMIN_CLUSTER);
        return meta.getName().startsWith(BINDING_PREFIX) && ref != null && roles.contains(ref.getName());
    }

    /** Deletes every role binding of dexauth's that the stored assignments no longer call for. */
    private static void removeUnwanted(KubernetesClient kube, Set<String> wanted, Map<String, String> changes,
                                       boolean dryRun) {
        String why = "deleted (no longer follows from the stored assignments)";
        for (RoleBinding b : kube.rbac().roleBindings().inAnyNamespace().withLabel(RoleBindings.MANAGED_BY, "dexauth")
                .list().getItems()) {
            String key = "rolebinding/" + b.getMetadata().getNamespace() + "/" + b.getMetadata().getName();
            if (wanted.contains(key) || !roleBinding(b.getMetadata(), b.getRoleRef())) continue;
            changes.put(key, why);
            if (!dryRun) kube.rbac().roleBindings().inNamespace(b.getMetadata().getNamespace())
                    .withName(b.getMetadata().getName()).delete();
        }
        for (ClusterRoleBinding b : kube.rbac().clusterRoleBindings().withLabel(RoleBindings.MANAGED_BY, "dexauth")
                .list().getItems()) {
            String key = "clusterrolebinding/" + b.getMetadata().getName();
            if (wanted.contains(key) || !roleBinding(b.getMetadata(), b.getRoleRef())) continue;
            changes.put(key, why);
            if (!dryRun) kube.rbac().clusterRoleBindings().withName(b.getMetadata().getName()).delete();
        }
    }

    /**
     * A labelled namespace that must not be a solution namespace: said once, as a warning Event in the
     * authentication namespace (a fixed name per namespace, so a scheduled reconcile does not repeat it),
     * about the policy that refused it (an Event about a Namespace would have to live in "default").
     * An Event that cannot be written never stops the reconcile.
     */
    private static void refuse(KubernetesClient kube, String authNamespace, String ns, String reason,
                               Map<String, String> changes, boolean dryRun) {
        String eventName = "dexauth-refused-solution-namespace." + ns;
        try {
            if (kube.v1().events().inNamespace(authNamespace).withName(eventName).get() != null) return;
            String message = "namespace " + ns + " is labelled " + SOLUTION_LABEL + "=true but cannot be a solution"
                    + " namespace: " + reason + "; Solution Admins get no binding there (remove the label)";
            changes.put("namespace/" + ns, "refused as a solution namespace: " + reason);
            if (dryRun) return;
            WarningEvent.once(kube, authNamespace, eventName, SolutionPolicy.CONFIGMAP, "SolutionNamespaceRefused",
                    message, Map.of(REFUSED_NAMESPACE, ns));
        } catch (io.fabric8.kubernetes.client.KubernetesClientException e) {
            changes.put("namespace/" + ns, "refused as a solution namespace: " + reason + " (warning Event not recorded: "
                    + e.getMessage() + ")");
        }
    }

    private static void clusterBinding(KubernetesClient kube, String name, String clusterRole, List<Subject> subjects,
                                       Map<String, String> changes, Set<String> wanted, boolean dryRun) {
        if (subjects.isEmpty()) return; // an existing one goes with the unwanted ones
        wanted.add("clusterrolebinding/" + name);
        ClusterRoleBinding have = kube.rbac().clusterRoleBindings().withName(name).get();
        if (have != null && Objects.equals(have.getSubjects(), subjects)
                && clusterRole.equals(have.getRoleRef().getName())) return;
        changes.put("clusterrolebinding/" + name, subjects.size() + " subject(s)");
        if (dryRun) return;
        if (have != null && !clusterRole.equals(have.getRoleRef().getName())) {
            kube.rbac().clusterRoleBindings().withName(name).delete(); // roleRef is immutable
        }
        kube.rbac().clusterRoleBindings().resource(new ClusterRoleBindingBuilder().withNewMetadata().withName(name)
                .addToLabels(RoleBindings.MANAGED_BY, "dexauth").endMetadata()
                .withNewRoleRef().withApiGroup("rbac.authorization.k8s.io").withKind("ClusterRole")
                .withName(clusterRole).endRoleRef().withSubjects(subjects).build()).forceConflicts().serverSideApply();
    }

    private static void namespaceBinding(KubernetesClient kube, String ns, List<Subject> subjects,
                                         Map<String, String> changes, Set<String> wanted, boolean dryRun) {
        String name = BINDING_PREFIX + "role:" + Role.SOLUTION_ADMIN.id();
        if (subjects.isEmpty()) return; // an existing one goes with the unwanted ones
        wanted.add("rolebinding/" + ns + "/" + name);
        RoleBinding have = kube.rbac().roleBindings().inNamespace(ns).withName(name).get();
        boolean sameRole = have != null && have.getRoleRef() != null
                && Role.SOLUTION_ADMIN.clusterRole().equals(have.getRoleRef().getName())
                && "ClusterRole".equals(have.getRoleRef().getKind());
        if (sameRole && Objects.equals(have.getSubjects(), subjects)) return;
        changes.put("rolebinding/" + ns + "/" + name, subjects.size() + " subject(s)");
        if (!dryRun) {
            // Ours by name: whatever else it was (another role, other subjects, another field manager) goes.
            if (have != null && !sameRole) kube.rbac().roleBindings().inNamespace(ns).withName(name).delete();
            kube.rbac().roleBindings().inNamespace(ns).resource(new RoleBindingBuilder().withNewMetadata()
                    .withName(name).withNamespace(ns).addToLabels(RoleBindings.MANAGED_BY, "dexauth").endMetadata()
                    .withNewRoleRef().withApiGroup("rbac.authorization.k8s.io").withKind("ClusterRole")
                    .withName(Role.SOLUTION_ADMIN.clusterRole()).endRoleRef().withSubjects(subjects).build())
                    .forceConflicts().serverSideApply();
        }
    }
}
