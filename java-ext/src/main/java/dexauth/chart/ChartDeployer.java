package dexauth.chart;

import com.marcnuri.helm.Helm;
import com.marcnuri.helm.Release;
import com.marcnuri.helm.UpgradeCommand;
import dexauth.config.DeploymentConfig;
import dexauth.errors.Unavailable;
import dexauth.idp.IdpSecrets;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apps.DeploymentStatus;
import io.fabric8.kubernetes.client.KubernetesClient;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Installs or upgrades the Dex chart with helm-java (no helm binary). A re-apply with
 * the same chart and values, and every object of the release in place, changes nothing:
 * the checksum of chart files and values is kept in a ConfigMap beside the release.
 */
public final class ChartDeployer {
    static final String STATE_CONFIGMAP = "dexauth-chart-state";

    /** The chart's label of every object of a release, its pods included. */
    private static final String INSTANCE_LABEL = "app.kubernetes.io/instance";
    private final KubernetesClient kube;
    private final Path kubeconfig;
    private final List<String> warnings = new java.util.ArrayList<>();

    public ChartDeployer(KubernetesClient kube, Path kubeconfig) {
        this.kube = kube;
        this.kubeconfig = kubeconfig;
    }

    /**
     * A digest of Dex's serving certificate, in Dex's pod template, so Dex restarts and serves a
     * re-issued certificate (new SANs, e.g. its Service's IP) right away. Keyed like the IdP
     * secrets' digest: the certificate is public, but it lives in a Secret, and nothing Read Only
     * reads is derived from a Secret.
     */
    private java.util.Optional<String> certificateChecksum(String ns, byte[] key) {
        var secret = kube.secrets().inNamespace(ns).withName(ChartSecrets.HTTPS_SECRET).get();
        if (secret == null || secret.getData() == null || secret.getData().get("tls.crt") == null) {
            return java.util.Optional.empty();
        }
        return java.util.Optional.of(dexauth.pki.Digests.keyed(key, secret.getData().get("tls.crt")));
    }

    /**
     * A Service's cluster IP cannot change in place: when Dex's Service has another one than
     * pillar dex:service_ip (a release from before the IP was fixed), it is deleted so the upgrade
     * makes it again at that address. Dex is unreachable by its Service for that moment only.
     */
    private void releaseServiceIp(DeploymentConfig cfg, Map<String, String> changes) {
        if (cfg.serviceIp() == null) return;
        String name = ChartValues.fullname(cfg.release());
        var service = kube.services().inNamespace(cfg.namespace()).withName(name).get();
        if (service != null && !cfg.serviceIp().equals(service.getSpec().getClusterIP())) {
            kube.services().inNamespace(cfg.namespace()).withName(name).delete();
            changes.put("service/" + cfg.namespace() + "/" + name, "re-created at " + cfg.serviceIp() + " (was "
                    + service.getSpec().getClusterIP() + ")");
        }
    }

    public Map<String, String> deploy(DeploymentConfig cfg, boolean dryRun) throws IOException {
        Map<String, String> values = ChartValues.of(cfg);
        warnings.clear();
        // No key yet only in a dry run before secrets.ensure: a throw-away one reveals nothing either.
        byte[] key = ChartSecrets.checksumKey(kube, cfg.namespace()).orElseGet(() -> {
            byte[] k = new byte[32];
            new java.security.SecureRandom().nextBytes(k);
            return k;
        });
        certificateChecksum(cfg.namespace(), key).ifPresent(sum -> values.put("tls.certificateChecksum", sum));
        String idpValues = ChartValues.idps(cfg, new IdpSecrets(kube, cfg.namespace()).checksum(cfg.idps().values(),
                warnings, key)).toString();
        Map<String, String> hashed = new LinkedHashMap<>(values);
        hashed.put("idps", idpValues);
        String checksum = checksum(cfg.chartDir(), hashed);
        String ns = cfg.namespace();
        String reason = reasonToDeploy(cfg, checksum);
        Map<String, String> changes = new LinkedHashMap<>();
        if (reason == null) return changes;
        changes.put("release/" + ns + "/" + cfg.release(), reason);
        if (dryRun) return changes;
        boolean exists = releaseDeployed(cfg);
        // Forgotten until Dex runs the new release: a failed deploy must not leave the checksum of the
        // release before it, or fixing the pillar back to that would find nothing to do.
        if (kube.configMaps().inNamespace(ns).withName(STATE_CONFIGMAP).get() != null) {
            kube.configMaps().inNamespace(ns).withName(STATE_CONFIGMAP).delete();
        }
        Release release;
        // JSON is YAML: the IdP values go in as a values file (no secret in it, only references).
        Path idpFile = Files.createTempFile("dexauth-idps-", ".yaml");
        try {
            Files.writeString(idpFile, idpValues);
            if (exists) {
                releaseServiceIp(cfg, changes);
                UpgradeCommand up = new Helm(cfg.chartDir()).upgrade().withName(cfg.release()).withNamespace(ns)
                        .withKubeConfig(kubeconfig).resetValues().withValuesFile(idpFile);
                values.forEach(up::set);
                release = up.call();
            } else {
                var install = new Helm(cfg.chartDir()).install().withName(cfg.release()).withNamespace(ns)
                        .withKubeConfig(kubeconfig).withValuesFile(idpFile);
                values.forEach(install::set);
                release = install.call();
            }
        } finally {
            Files.deleteIfExists(idpFile);
        }
        // Recorded only once Dex runs: a Dex that fails to start fails this step, and the next apply again.
        awaitRollout(ns, ChartValues.fullname(cfg.release()), Duration.ofSeconds(180));
        if (cfg.accountEnabled()) awaitRollout(ns, ChartValues.accountName(cfg.release()), Duration.ofSeconds(180));
        ConfigMap state = new ConfigMapBuilder().withNewMetadata().withName(STATE_CONFIGMAP).withNamespace(ns)
                .addToLabels(ChartSecrets.MANAGED_BY, "dexauth").endMetadata()
                .addToData("checksum", checksum).addToData("release", cfg.release()).build();
        kube.configMaps().inNamespace(ns).resource(state).serverSideApply();
        changes.put("release/" + ns + "/" + cfg.release(), reason + " (revision " + release.getRevision() + ")");
        return changes;
    }

    /**
     * Waits, like {@code kubectl rollout status}, until every replica of the Deployment runs its
     * newest pod template: a login right after the state then reaches the new Dex, not the old one.
     */
    void awaitRollout(String ns, String name, Duration timeout) {
        Instant start = Instant.now().truncatedTo(java.time.temporal.ChronoUnit.SECONDS);
        Instant deadline = start.plus(timeout);
        String last = "not found";
        Instant nextCrashCheck = Instant.now();
        while (Instant.now().isBefore(deadline)) {
            Deployment d = kube.apps().deployments().inNamespace(ns).withName(name).get();
            // The crash check lists pods, ReplicaSets and Events: every few polls is enough, as a
            // crash counts only at its third exit, seconds apart (kubelet's back-off).
            String crash = null;
            if (d != null && !Instant.now().isBefore(nextCrashCheck)) {
                crash = crash(d, start, CRASHES_BEFORE_FAILING);
                nextCrashCheck = Instant.now().plus(CRASH_CHECK_INTERVAL);
            }
            if (crash != null) {
                throw new Unavailable(Unavailable.Dependency.DEX, "Dex (Deployment " + ns + "/" + name
                        + ") fails to start with this configuration: " + crash, null);
            }
            if (d != null) {
                int want = d.getSpec().getReplicas() == null ? 1 : d.getSpec().getReplicas();
                DeploymentStatus st = d.getStatus() == null ? new DeploymentStatus() : d.getStatus();
                long observed = st.getObservedGeneration() == null ? 0 : st.getObservedGeneration();
                if (want == 0 || (observed >= d.getMetadata().getGeneration() && want == orZero(st.getUpdatedReplicas())
                        && want == orZero(st.getAvailableReplicas()) && want == orZero(st.getReplicas()))) {
                    return;
                }
                last = orZero(st.getUpdatedReplicas()) + "/" + want + " updated, " + orZero(st.getAvailableReplicas())
                        + " available, generation " + observed + "/" + d.getMetadata().getGeneration() + " observed";
            }
            try {
                Thread.sleep(300);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        Deployment d = kube.apps().deployments().inNamespace(ns).withName(name).get();
        String crash = d == null ? null : crash(d, start, 1);
        throw new Unavailable(Unavailable.Dependency.KUBERNETES, "Deployment " + ns + "/" + name + " did not roll out within "
                + timeout.toSeconds() + " s (" + last + ")" + (crash == null ? "; check the Dex pod's events and log"
                : "; Dex: " + crash), null);
    }

    private static int orZero(Integer i) { return i == null ? 0 : i; }

    private static final java.util.Set<String> CRASHES = java.util.Set.of("BackOff", "CrashLoopBackOff", "Error");
    /**
     * Dex may exit once or twice while the cluster settles (on a first install its CRDs are not served
     * yet: "failed to list connectors: not found"); a third exit is its configuration.
     */
    static final int CRASHES_BEFORE_FAILING = 3;
    private static final Duration CRASH_CHECK_INTERVAL = Duration.ofSeconds(2);

    /**
     * Why the Deployment's pods do not start, once they crashed {@code times} times, or null: a
     * container waiting in a crash state (with its last exit's message and log lines), or Warning
     * Events about the Deployment or its pods since {@code since} (kubelet's BackOff; the lab's node
     * agent writes the same with the log's end). kubelet repeats its BackOff Event on every pod sync,
     * so the Events may count {@code times} before the container's restart count does: the crashed
     * container's exit and log lines are then still the answer, the Event only when there is none.
     */
    /**
     * The pod-template-hash of the Deployment's newest ReplicaSet (its current template), or "" while
     * the controller has not seen the Deployment's latest change: pods of older ReplicaSets, being
     * rolled away, say nothing of the current template.
     */
    private String currentTemplateHash(Deployment d, Map<String, String> selector) {
        Long observed = d.getStatus() == null ? null : d.getStatus().getObservedGeneration();
        if (observed == null || observed < d.getMetadata().getGeneration()) return "";
        String revision = d.getMetadata().getAnnotations() == null ? null
                : d.getMetadata().getAnnotations().get("deployment.kubernetes.io/revision");
        if (revision == null) return "";
        for (var rs : kube.apps().replicaSets().inNamespace(d.getMetadata().getNamespace()).withLabels(selector)
                .list().getItems()) {
            var annotations = rs.getMetadata().getAnnotations();
            if (annotations != null && revision.equals(annotations.get("deployment.kubernetes.io/revision"))) {
                String hash = rs.getMetadata().getLabels() == null ? null : rs.getMetadata().getLabels().get("pod-template-hash");
                return hash == null ? "" : hash;
            }
        }
        return "";
    }

    String crash(Deployment d, Instant since, int times) {
        String ns = d.getMetadata().getNamespace();
        String name = d.getMetadata().getName();
        Map<String, String> selector = d.getSpec().getSelector() == null ? null : d.getSpec().getSelector().getMatchLabels();
        String crashed = null;
        if (selector != null && !selector.isEmpty()) {
            String current = currentTemplateHash(d, selector);
            for (var pod : kube.pods().inNamespace(ns).withLabels(selector).list().getItems()) {
                if (pod.getStatus() == null || pod.getStatus().getContainerStatuses() == null) continue;
                // A pod being replaced (the crashing one a fixed configuration rolls away) says nothing
                // of the new configuration.
                String hash = pod.getMetadata().getLabels() == null ? null : pod.getMetadata().getLabels().get("pod-template-hash");
                if (pod.getMetadata().getDeletionTimestamp() != null || !current.equals(hash)) continue;
                for (var c : pod.getStatus().getContainerStatuses()) {
                    if (c.getRestartCount() == null || c.getState() == null) continue;
                    var waiting = c.getState().getWaiting();
                    // Between two back-offs the container is briefly running again or just exited:
                    // its last failed exit still says why.
                    var exited = c.getState().getTerminated();
                    var ended = exited != null ? exited : c.getLastState() == null ? null : c.getLastState().getTerminated();
                    boolean failed = ended != null && ended.getExitCode() != null && ended.getExitCode() != 0;
                    if (!(waiting != null && CRASHES.contains(waiting.getReason())) && !failed) continue;
                    String log;
                    try {
                        var container = kube.pods().inNamespace(ns).withName(pod.getMetadata().getName()).inContainer(c.getName());
                        // The exited container's own log while it waits to restart; the previous one's after.
                        log = (exited != null ? container : container.terminated()).tailingLines(3).getLog();
                    } catch (RuntimeException noLog) {
                        log = "";
                    }
                    String state = waiting != null ? waiting.getReason() : exited != null ? "exited" : "restarted after a failure";
                    String text = "pod " + pod.getMetadata().getName() + ": " + state
                            + (waiting == null || waiting.getMessage() == null ? "" : " (" + waiting.getMessage() + ")")
                            + (ended == null ? "" : "; exit code " + ended.getExitCode()
                                    + (ended.getMessage() == null ? "" : ": " + ended.getMessage().strip()))
                            + (log == null || log.isBlank() ? "" : "; last log lines: " + log.strip().replace("\n", " | "));
                    if (c.getRestartCount() >= times) return text;
                    if (crashed == null) crashed = text;
                }
            }
        }
        String found = null;
        Instant latest = null;
        int seen = 0;
        // Only Warnings, filtered by kube-apiserver: the namespace also holds every audit Event.
        for (var e : kube.v1().events().inNamespace(ns).withField("type", "Warning").list().getItems()) {
            var about = e.getInvolvedObject();
            if (about == null || !"Warning".equals(e.getType()) || !CRASHES.contains(e.getReason())) continue;
            boolean ours = ("Deployment".equals(about.getKind()) && name.equals(about.getName()))
                    || ("Pod".equals(about.getKind()) && about.getName() != null && about.getName().startsWith(name + "-"));
            String when = e.getLastTimestamp() != null ? e.getLastTimestamp()
                    : e.getEventTime() != null ? e.getEventTime().getTime() : null;
            if (!ours || when == null) continue;
            Instant at;
            try {
                at = Instant.parse(when);
            } catch (java.time.format.DateTimeParseException unreadable) {
                continue;
            }
            if (at.isBefore(since)) continue;
            seen += e.getCount() == null ? 1 : e.getCount();
            if (latest != null && at.isBefore(latest)) continue;
            latest = at;
            found = e.getMessage();
        }
        return seen < times ? null : crashed != null ? crashed : found;
    }

    /** Problems of the last {@link #deploy} that did not stop it (missing IdP Secrets). */
    public List<String> warnings() { return List.copyOf(warnings); }

    /** Null when the deployed release matches; otherwise why it must be (re)deployed. */
    private String reasonToDeploy(DeploymentConfig cfg, String checksum) {
        String ns = cfg.namespace();
        if (!releaseDeployed(cfg)) return "installed";
        ConfigMap state = kube.configMaps().inNamespace(ns).withName(STATE_CONFIGMAP).get();
        if (state == null || !checksum.equals(state.getData().get("checksum"))) return "upgraded (chart or values changed)";
        String name = ChartValues.fullname(cfg.release());
        Deployment dex = kube.apps().deployments().inNamespace(ns).withName(name).get();
        if (dex == null) return "repaired (Deployment missing)";
        if (kube.services().inNamespace(ns).withName(name).get() == null) return "repaired (Service missing)";
        String configSecret = configSecretName(dex);
        if (configSecret == null || kube.secrets().inNamespace(ns).withName(configSecret).get() == null) {
            return "repaired (config Secret missing)";
        }
        if (cfg.accountEnabled()
                && kube.apps().deployments().inNamespace(ns).withName(ChartValues.accountName(cfg.release())).get() == null) {
            return "repaired (account service Deployment missing)";
        }
        return null;
    }

    /** The config Secret Dex's pods mount (its name ends with a digest of the config: the chart's dex.configSecretName). */
    private static String configSecretName(Deployment dex) {
        var volumes = dex.getSpec().getTemplate().getSpec().getVolumes();
        if (volumes == null) return null;
        return volumes.stream().filter(v -> "config".equals(v.getName()) && v.getSecret() != null)
                .map(v -> v.getSecret().getSecretName()).findFirst().orElse(null);
    }

    /**
     * Read from Helm's release records (Secrets labelled owner=helm, name, status: Helm 3's default
     * storage) with the Kubernetes client: asking helm-java would load its native library, about
     * half a second of every idempotent apply.
     */
    private boolean releaseDeployed(DeploymentConfig cfg) {
        return !kube.secrets().inNamespace(cfg.namespace()).withLabel("owner", "helm")
                .withLabel("name", cfg.release()).withLabel("status", "deployed").list().getItems().isEmpty();
    }

    public Map<String, String> remove(DeploymentConfig cfg, boolean dryRun) {
        Map<String, String> changes = new LinkedHashMap<>();
        List<Release> releases = Helm.list().all().withNamespace(cfg.namespace()).withKubeConfig(kubeconfig).call();
        if (releases.stream().anyMatch(r -> r.getName().equals(cfg.release()))) {
            changes.put("release/" + cfg.namespace() + "/" + cfg.release(), "uninstalled");
            if (!dryRun) {
                Helm.uninstall(cfg.release()).withNamespace(cfg.namespace()).withKubeConfig(kubeconfig).call();
                deleteWorkloadsLeft(cfg.namespace(), cfg.release());
                awaitPodsGone(cfg.namespace(), cfg.release(), Duration.ofSeconds(120));
            }
        }
        if (kube.configMaps().inNamespace(cfg.namespace()).withName(STATE_CONFIGMAP).get() != null && !dryRun) {
            kube.configMaps().inNamespace(cfg.namespace()).withName(STATE_CONFIGMAP).delete();
        }
        return changes;
    }

    /**
     * The ReplicaSets and pods of the release's uninstalled Deployments, deleted now instead of by
     * kube-controller-manager's garbage collector: right after the removal restarted kube-apiserver,
     * the collector took over a minute to act (80 s in the lab), and Dex kept serving meanwhile.
     * ReplicaSets first, so none makes a pod again.
     */
    private void deleteWorkloadsLeft(String ns, String release) {
        kube.apps().replicaSets().inNamespace(ns).withLabel(INSTANCE_LABEL, release).delete();
        kube.pods().inNamespace(ns).withLabel(INSTANCE_LABEL, release).delete();
    }

    /**
     * Waits until the release's pods are gone, not only their Deployments: "removed" then means
     * Dex no longer answers, and a redeploy right after does not meet the old pods (with host
     * networking they would still hold the node's ports, and the new Dex could not start).
     */
    private void awaitPodsGone(String ns, String release, Duration timeout) {
        Instant deadline = Instant.now().plus(timeout);
        List<String> left = List.of();
        while (Instant.now().isBefore(deadline)) {
            left = kube.pods().inNamespace(ns).withLabel(INSTANCE_LABEL, release).list().getItems()
                    .stream().map(p -> p.getMetadata().getName()).toList();
            if (left.isEmpty()) return;
            try {
                Thread.sleep(500);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        throw new Unavailable(Unavailable.Dependency.KUBERNETES, "the release " + ns + "/" + release
                + " is uninstalled but its pods " + left + " did not stop within " + timeout.toSeconds()
                + " s; check their events (kubectl -n " + ns + " describe pod)", null);
    }

    static String checksum(Path chartDir, Map<String, String> values) throws IOException {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            try (Stream<Path> files = Files.walk(chartDir)) {
                for (Path f : files.filter(Files::isRegularFile).sorted().toList()) {
                    sha.update(chartDir.relativize(f).toString().getBytes(StandardCharsets.UTF_8));
                    sha.update(Files.readAllBytes(f));
                }
            }
            values.forEach((k, v) -> sha.update((k + "=" + v + "\n").getBytes(StandardCharsets.UTF_8)));
            return HexFormat.of().formatHex(sha.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
