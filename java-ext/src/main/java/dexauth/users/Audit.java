package dexauth.users;

import io.fabric8.kubernetes.api.model.EventBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;

import java.time.Instant;
import java.util.Locale;
import java.util.UUID;

/** Audit trail: one Kubernetes Event per user or role change (actor, action, target; never a secret). */
public final class Audit {
    private Audit() {}

    public static void record(KubernetesClient kube, String namespace, String actor, String action, String target,
                              String detail) {
        record(kube, namespace, actor, action, target, detail, "Normal");
    }

    /** {@code type} "Warning": something an operator should look at (a locked account). */
    public static void record(KubernetesClient kube, String namespace, String actor, String action, String target,
                              String detail, String type) {
        String now = Instant.now().toString();
        String msg = actor + " " + action + " " + target + (detail == null || detail.isBlank() ? "" : ": " + detail);
        kube.v1().events().inNamespace(namespace).resource(new EventBuilder().withNewMetadata()
                .withName("dexauth." + UUID.randomUUID()).withNamespace(namespace)
                .addToLabels("app.kubernetes.io/managed-by", "dexauth")
                .addToAnnotations("dexauth.io/actor", actor).addToAnnotations("dexauth.io/action", action)
                .addToAnnotations("dexauth.io/target", target).endMetadata()
                .withNewInvolvedObject().withKind("ConfigMap").withNamespace(namespace)
                .withName(UserStore.objectName(target)).withApiVersion("v1").endInvolvedObject()
                .withReason(reason(action)).withMessage(msg).withType(type)
                .withFirstTimestamp(now).withLastTimestamp(now).withCount(1)
                .withNewSource().withComponent("authctl").endSource().build()).create();
    }

    static String reason(String action) {
        StringBuilder out = new StringBuilder();
        for (String w : action.split("[^A-Za-z]+")) {
            if (!w.isEmpty()) out.append(w.substring(0, 1).toUpperCase(Locale.ROOT)).append(w.substring(1));
        }
        return out.toString();
    }
}
