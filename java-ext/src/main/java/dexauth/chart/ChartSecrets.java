package dexauth.chart;

import dexauth.config.DeploymentConfig;
import dexauth.errors.Unavailable;
import dexauth.pki.DexCertificates;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The Kubernetes objects the chart expects before it is installed: the namespace, TLS
 * Secrets from the certificate directory, the per-cluster client secrets (created once,
 * never rotated by a re-apply) and the public CA in kube-public for control-plane nodes.
 */
public final class ChartSecrets {
    public static final String HTTPS_SECRET = "dex-https-tls";
    public static final String GRPC_SECRET = "dex-grpc-tls";
    public static final String GRPC_CLIENT_SECRET = "dex-grpc-client";
    public static final String CLIENT_SECRETS = "dex-client-secrets";
    /** The account service's HTTPS certificate (kubernetes.io/tls, with ca.crt). */
    public static final String ACCOUNT_TLS_SECRET = "dex-account-tls";
    /**
     * The per-cluster random key of the IdP secrets' digest (an HMAC, see IdpSecrets#checksum): the
     * digest is a pod annotation anyone who reads Deployments sees, so it must reveal nothing.
     */
    public static final String CHECKSUM_KEY = "dexauth-checksum-key";
    public static final String CA_CONFIGMAP_NAMESPACE = "kube-public";
    public static final String CA_CONFIGMAP = "dexauth-ca";
    static final String MANAGED_BY = "app.kubernetes.io/managed-by";

    private static final SecureRandom RANDOM = new SecureRandom();

    private ChartSecrets() {}

    /** Ensures every object; returns what changed (object -> what), empty when nothing did. */
    public static Map<String, String> ensure(KubernetesClient kube, DeploymentConfig cfg, boolean dryRun)
            throws IOException {
        Map<String, String> changes = new LinkedHashMap<>();
        String ns = cfg.namespace();
        if (kube.namespaces().withName(ns).get() == null) {
            changes.put("namespace/" + ns, "created");
            if (!dryRun) {
                kube.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName(ns)
                        .addToLabels(MANAGED_BY, "dexauth").endMetadata().build()).create();
            }
        }
        Path dir = cfg.certDir();
        String ca = read(dir.resolve("ca.crt"));
        applySecret(kube, ns, HTTPS_SECRET, "kubernetes.io/tls", Map.of(
                "tls.crt", read(dir.resolve(DexCertificates.HTTPS + ".crt")),
                "tls.key", read(dir.resolve(DexCertificates.HTTPS + ".key")), "ca.crt", ca), changes, dryRun);
        applySecret(kube, ns, GRPC_SECRET, "kubernetes.io/tls", Map.of(
                "tls.crt", read(dir.resolve(DexCertificates.GRPC + ".crt")),
                "tls.key", read(dir.resolve(DexCertificates.GRPC + ".key")), "ca.crt", ca), changes, dryRun);
        applySecret(kube, ns, GRPC_CLIENT_SECRET, "kubernetes.io/tls", Map.of(
                "tls.crt", read(dir.resolve(DexCertificates.CLI_CLIENT + ".crt")),
                "tls.key", read(dir.resolve(DexCertificates.CLI_CLIENT + ".key")), "ca.crt", ca), changes, dryRun);
        List<String> clients = new ArrayList<>(List.of(cfg.audienceClientId()));
        if (cfg.accountEnabled()) {
            applySecret(kube, ns, ACCOUNT_TLS_SECRET, "kubernetes.io/tls", Map.of(
                    "tls.crt", read(dir.resolve(DexCertificates.ACCOUNT + ".crt")),
                    "tls.key", read(dir.resolve(DexCertificates.ACCOUNT + ".key")), "ca.crt", ca), changes, dryRun);
            clients.add(cfg.account().clientId());
        }
        ensureClientSecrets(kube, ns, clients, changes, dryRun);
        ensureChecksumKey(kube, ns, changes, dryRun);
        ConfigMap want = new ConfigMapBuilder().withNewMetadata().withName(CA_CONFIGMAP)
                .withNamespace(CA_CONFIGMAP_NAMESPACE).addToLabels(MANAGED_BY, "dexauth").endMetadata()
                .addToData("ca.crt", ca).addToData("issuer", cfg.issuer().toString()).build();
        ConfigMap have = kube.configMaps().inNamespace(CA_CONFIGMAP_NAMESPACE).withName(CA_CONFIGMAP).get();
        if (have == null || !Objects.equals(have.getData(), want.getData())) {
            changes.put("configmap/" + CA_CONFIGMAP_NAMESPACE + "/" + CA_CONFIGMAP, have == null ? "created" : "updated");
            if (!dryRun) kube.configMaps().inNamespace(CA_CONFIGMAP_NAMESPACE).resource(want).serverSideApply();
        }
        return changes;
    }

    /**
     * Client secrets (keyed by client id: the apiserver's audience client, the console's) are
     * generated once per cluster; existing keys are never changed.
     */
    public static void ensureClientSecrets(KubernetesClient kube, String ns, List<String> clientIds,
                                           Map<String, String> changes, boolean dryRun) {
        Secret have = kube.secrets().inNamespace(ns).withName(CLIENT_SECRETS).get();
        Map<String, String> data = have == null || have.getData() == null ? new LinkedHashMap<>()
                : new LinkedHashMap<>(have.getData());
        List<String> missing = clientIds.stream().filter(id -> !data.containsKey(id)).toList();
        if (missing.isEmpty()) return;
        for (String client : missing) {
            byte[] raw = new byte[32];
            RANDOM.nextBytes(raw);
            String secret = Base64.getUrlEncoder().withoutPadding().encodeToString(raw);
            data.put(client, Base64.getEncoder().encodeToString(secret.getBytes(StandardCharsets.UTF_8)));
        }
        changes.put("secret/" + ns + "/" + CLIENT_SECRETS, "client secret for '" + String.join("', '", missing)
                + "' generated");
        if (!dryRun) {
            kube.secrets().inNamespace(ns).resource(new SecretBuilder().withNewMetadata().withName(CLIENT_SECRETS)
                    .withNamespace(ns).addToLabels(MANAGED_BY, "dexauth").endMetadata().withType("Opaque")
                    .withData(data).build()).serverSideApply();
        }
    }

    /** Generated once per cluster, like the client secrets. */
    private static void ensureChecksumKey(KubernetesClient kube, String ns, Map<String, String> changes, boolean dryRun) {
        if (checksumKey(kube, ns).isPresent()) return;
        byte[] raw = new byte[32];
        RANDOM.nextBytes(raw);
        changes.put("secret/" + ns + "/" + CHECKSUM_KEY, "key of the IdP secrets' digest generated");
        if (!dryRun) {
            kube.secrets().inNamespace(ns).resource(new SecretBuilder().withNewMetadata().withName(CHECKSUM_KEY)
                    .withNamespace(ns).addToLabels(MANAGED_BY, "dexauth").endMetadata().withType("Opaque")
                    .addToData("key", Base64.getEncoder().encodeToString(raw)).build()).serverSideApply();
        }
    }

    /** The key of the IdP secrets' digest, once {@link #ensure} made it. */
    public static java.util.Optional<byte[]> checksumKey(KubernetesClient kube, String ns) {
        Secret s = kube.secrets().inNamespace(ns).withName(CHECKSUM_KEY).get();
        if (s == null || s.getData() == null || s.getData().get("key") == null) return java.util.Optional.empty();
        return java.util.Optional.of(Base64.getDecoder().decode(s.getData().get("key")));
    }

    /** Deletes the client secrets whose client id {@code drop} accepts (clients no longer declared). */
    public static void removeClientSecrets(KubernetesClient kube, String ns, java.util.function.Predicate<String> drop,
                                           Map<String, String> changes, boolean dryRun) {
        Secret have = kube.secrets().inNamespace(ns).withName(CLIENT_SECRETS).get();
        if (have == null || have.getData() == null) return;
        List<String> gone = have.getData().keySet().stream().filter(drop).sorted().toList();
        if (gone.isEmpty()) return;
        changes.put("secret/" + ns + "/" + CLIENT_SECRETS, "client secret of '" + String.join("', '", gone) + "' deleted");
        if (dryRun) return;
        Map<String, String> data = new LinkedHashMap<>(have.getData());
        gone.forEach(data::remove);
        kube.secrets().inNamespace(ns).withName(CLIENT_SECRETS).edit(s -> new SecretBuilder(s).withData(data).build());
    }

    private static void applySecret(KubernetesClient kube, String ns, String name, String type,
                                    Map<String, String> plain, Map<String, String> changes, boolean dryRun) {
        Map<String, String> data = new LinkedHashMap<>();
        plain.forEach((k, v) -> data.put(k, Base64.getEncoder().encodeToString(v.getBytes(StandardCharsets.UTF_8))));
        Secret have = kube.secrets().inNamespace(ns).withName(name).get();
        if (have != null && Objects.equals(have.getData(), data) && type.equals(have.getType())) return;
        changes.put("secret/" + ns + "/" + name, have == null ? "created" : "updated");
        if (dryRun) return;
        if (have != null && !type.equals(have.getType())) kube.secrets().inNamespace(ns).withName(name).delete();
        kube.secrets().inNamespace(ns).resource(new SecretBuilder().withNewMetadata().withName(name)
                .withNamespace(ns).addToLabels(MANAGED_BY, "dexauth").endMetadata()
                .withType(type).withData(data).build()).serverSideApply();
    }

    private static String read(Path file) throws IOException {
        if (!Files.isReadable(file)) {
            throw new Unavailable(Unavailable.Dependency.FILESYSTEM, file + " is missing; apply the certificate state (dexauth.certs) first", null);
        }
        return Files.readString(file);
    }

    /** Deletes what {@link #ensure} created. Client secrets go only with {@code purge}. */
    public static Map<String, String> remove(KubernetesClient kube, DeploymentConfig cfg, boolean purge, boolean dryRun) {
        Map<String, String> changes = new LinkedHashMap<>();
        String ns = cfg.namespace();
        for (String name : purge ? new String[]{HTTPS_SECRET, GRPC_SECRET, GRPC_CLIENT_SECRET, ACCOUNT_TLS_SECRET,
                CLIENT_SECRETS, CHECKSUM_KEY} : new String[]{HTTPS_SECRET, GRPC_SECRET, GRPC_CLIENT_SECRET, ACCOUNT_TLS_SECRET}) {
            if (kube.secrets().inNamespace(ns).withName(name).get() != null) {
                changes.put("secret/" + ns + "/" + name, "deleted");
                if (!dryRun) kube.secrets().inNamespace(ns).withName(name).delete();
            }
        }
        if (purge) {
            // IdP bind passwords and client secrets are operator data: only a purge removes them.
            for (var s : kube.secrets().inNamespace(ns).withLabel(dexauth.idp.IdpSecrets.LABEL).list().getItems()) {
                changes.put("secret/" + ns + "/" + s.getMetadata().getName(), "deleted");
                if (!dryRun) kube.secrets().inNamespace(ns).withName(s.getMetadata().getName()).delete();
            }
        }
        if (kube.configMaps().inNamespace(CA_CONFIGMAP_NAMESPACE).withName(CA_CONFIGMAP).get() != null) {
            changes.put("configmap/" + CA_CONFIGMAP_NAMESPACE + "/" + CA_CONFIGMAP, "deleted");
            if (!dryRun) kube.configMaps().inNamespace(CA_CONFIGMAP_NAMESPACE).withName(CA_CONFIGMAP).delete();
        }
        return changes;
    }
}
