package dexauth.rbac;

import io.fabric8.kubernetes.api.model.EventBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;

import java.time.Instant;
import java.util.Map;

/**
 * A warning for the operator about something a reconcile skipped, as a Kubernetes Event in the
 * authentication namespace, said once: a fixed name per subject, so a scheduled reconcile does not
 * repeat it. Writing it may fail (KubernetesClientException); callers never let that stop the reconcile.
 */
public final class WarningEvent {
    private WarningEvent() {}

    /**
     * Records the Event {@code name} about the ConfigMap {@code about} unless it exists; false when
     * it existed.
     */
    public static boolean once(KubernetesClient kube, String namespace, String name, String about, String reason,
                               String message, Map<String, String> annotations) {
        if (kube.v1().events().inNamespace(namespace).withName(name).get() != null) return false;
        String now = Instant.now().toString();
        kube.v1().events().inNamespace(namespace).resource(new EventBuilder().withNewMetadata()
                .withName(name).withNamespace(namespace).addToLabels(RoleBindings.MANAGED_BY, "dexauth")
                .addToAnnotations(annotations).endMetadata()
                .withNewInvolvedObject().withApiVersion("v1").withKind("ConfigMap").withNamespace(namespace)
                .withName(about).endInvolvedObject()
                .withType("Warning").withReason(reason).withMessage(message)
                .withFirstTimestamp(now).withLastTimestamp(now).withCount(1)
                .withNewSource().withComponent("dexauth").endSource().build()).createOr(e -> e.update());
        return true;
    }
}
