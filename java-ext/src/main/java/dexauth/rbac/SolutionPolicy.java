package dexauth.rbac;

import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Which namespaces labelled {@value RoleAssignments#SOLUTION_LABEL}=true may be solution
 * namespaces: never Kubernetes' own ({@code kube-*}, {@code default}), never the authentication
 * namespace, never one of the pillar's deny-list ({@code dexauth:roles:denied_namespaces}, names or
 * {@code prefix-*}). The deny-list is kept in the ConfigMap {@value #CONFIGMAP} of the
 * authentication namespace (written by the roles state), so every reconcile, whoever runs it
 * (the states, authctl, the account service), refuses the same namespaces.
 */
public record SolutionPolicy(String authNamespace, List<String> denied) {
    public static final String CONFIGMAP = "dexauth-solution-policy";
    static final String KEY = "deniedNamespaces";

    public SolutionPolicy {
        denied = List.copyOf(denied);
    }

    /** Why {@code namespace} cannot be a solution namespace, or empty when it can. */
    public Optional<String> refusal(String namespace) {
        if (namespace.startsWith("kube-") || namespace.equals("default")) {
            return Optional.of("it is a Kubernetes system namespace");
        }
        if (namespace.equals(authNamespace)) return Optional.of("it is the authentication namespace (Dex, its keys)");
        for (String d : denied) {
            boolean match = d.endsWith("*") ? namespace.startsWith(d.substring(0, d.length() - 1)) : namespace.equals(d);
            if (match) return Optional.of("it is in pillar dexauth:roles:denied_namespaces (" + d + ")");
        }
        return Optional.empty();
    }

    /** The policy in force: the stored deny-list (none stored: Kubernetes' and the authentication namespace only). */
    public static SolutionPolicy read(KubernetesClient kube, String authNamespace) {
        ConfigMap cm = kube.configMaps().inNamespace(authNamespace).withName(CONFIGMAP).get();
        String text = cm == null || cm.getData() == null ? "" : cm.getData().getOrDefault(KEY, "");
        return new SolutionPolicy(authNamespace, Arrays.stream(text.split("\n")).map(String::trim)
                .filter(s -> !s.isEmpty()).toList());
    }

    /** Stores this policy's deny-list for later reconciles; returns what changed. */
    public Map<String, String> store(KubernetesClient kube, boolean dryRun) {
        Map<String, String> changes = new LinkedHashMap<>();
        if (read(kube, authNamespace).denied().equals(denied)
                && kube.configMaps().inNamespace(authNamespace).withName(CONFIGMAP).get() != null) {
            return changes;
        }
        changes.put("configmap/" + authNamespace + "/" + CONFIGMAP, "denied namespaces: "
                + (denied.isEmpty() ? "none beyond kube-*, default and " + authNamespace : String.join(", ", denied)));
        if (!dryRun) {
            kube.configMaps().inNamespace(authNamespace).resource(new ConfigMapBuilder().withNewMetadata()
                    .withName(CONFIGMAP).withNamespace(authNamespace).addToLabels(RoleBindings.MANAGED_BY, "dexauth")
                    .endMetadata().addToData(KEY, String.join("\n", denied)).build()).forceConflicts().serverSideApply();
        }
        return changes;
    }
}
