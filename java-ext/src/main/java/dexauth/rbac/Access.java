package dexauth.rbac;

import io.fabric8.kubernetes.api.model.authorization.v1.SelfSubjectAccessReview;
import io.fabric8.kubernetes.api.model.authorization.v1.SelfSubjectAccessReviewBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;

/**
 * Asks Kubernetes what the holder of a client's credentials may do (SelfSubjectAccessReview):
 * the decision is Kubernetes', on that person's own identity, never ours.
 */
public final class Access {
    /** The API group of dexauth's own virtual resources (nothing is stored under it: RBAC rules only). */
    public static final String GROUP = "dexauth.io";
    /** Reading the user directory (list, get): Read Only and Cluster Admin have it. */
    public static final String USERS = "users";
    /**
     * The high-level roles, one object name each (`get roles.dexauth.io/<role id>`): a role's
     * ClusterRole grants its own name, Cluster Admin has all. Single sign-on asks which one a
     * person holds, so Kubernetes answers for local and directory users alike.
     */
    public static final String ROLES = "roles";

    private Access() {}

    public static boolean can(KubernetesClient asPerson, String verb, String group, String resource, String namespace) {
        return can(asPerson, verb, group, resource, namespace, null);
    }

    public static boolean can(KubernetesClient asPerson, String verb, String group, String resource, String namespace,
                              String name) {
        SelfSubjectAccessReview review = new SelfSubjectAccessReviewBuilder().withNewSpec().withNewResourceAttributes()
                .withVerb(verb).withGroup(group).withResource(resource).withNamespace(namespace).withName(name)
                .endResourceAttributes().endSpec().build();
        SelfSubjectAccessReview answer = asPerson.authorization().v1().selfSubjectAccessReview().create(review);
        return answer.getStatus() != null && Boolean.TRUE.equals(answer.getStatus().getAllowed());
    }
}
