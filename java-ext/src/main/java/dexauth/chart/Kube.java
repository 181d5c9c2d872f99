package dexauth.chart;

import dexauth.errors.Causes;
import dexauth.errors.Conflict;
import dexauth.errors.DomainException;
import dexauth.errors.Forbidden;
import dexauth.errors.LoginRequired;
import dexauth.errors.Unavailable;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.KubernetesClientException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Opens Kubernetes clients from a kubeconfig file, and says in domain terms why a call failed. */
public final class Kube {
    private Kube() {}

    public static KubernetesClient client(Path kubeconfig) {
        return client(kubeconfig, null);
    }

    /**
     * A client with the kubeconfig's credentials that talks to {@code apiserverUrl} (one node's own
     * kube-apiserver), not to the kubeconfig's server (often a load balancer in front of all of them).
     */
    public static KubernetesClient client(Path kubeconfig, String apiserverUrl) {
        if (!Files.isReadable(kubeconfig)) {
            throw new Unavailable(Unavailable.Dependency.FILESYSTEM, "kubeconfig " + kubeconfig + " is missing or unreadable", null);
        }
        try {
            Config config = Config.fromKubeconfig(Files.readString(kubeconfig));
            if (apiserverUrl != null) config.setMasterUrl(apiserverUrl);
            config.setRequestTimeout(30_000);
            config.setConnectionTimeout(5_000);
            return new KubernetesClientBuilder().withConfig(config).build();
        } catch (IOException e) {
            throw new Unavailable(Unavailable.Dependency.FILESYSTEM, "cannot read kubeconfig " + kubeconfig + ": " + e.getMessage(), e);
        }
    }

    /**
     * A client that acts as the holder of {@code bearerToken} (a person's ID token): Kubernetes
     * decides every call on that person's own identity. Nothing else is read from the environment.
     */
    public static KubernetesClient asBearer(String masterUrl, String caCertFile, String caCertData, String bearerToken) {
        Config config = new io.fabric8.kubernetes.client.ConfigBuilder(Config.empty()).withMasterUrl(masterUrl)
                .withCaCertFile(caCertFile).withCaCertData(caCertData).withOauthToken(bearerToken)
                .withRequestTimeout(30_000).withConnectionTimeout(5_000).build();
        return new KubernetesClientBuilder().withConfig(config).build();
    }

    /**
     * Waits until the kube-apiserver behind {@code kube} was started after {@code since} (its
     * {@code process_start_time_seconds} metric) and answers /readyz: a changed static-pod
     * manifest restarts it, and whatever comes next must not meet the restart. When no newer
     * process shows within {@code timeout} (the kubeconfig names another apiserver, e.g. behind
     * a load balancer), a ready one is enough.
     */
    public static void awaitRestarted(KubernetesClient kube, java.time.Instant since, java.time.Duration timeout)
            throws InterruptedException {
        java.time.Instant deadline = java.time.Instant.now().plus(timeout);
        java.time.Instant hardDeadline = deadline.plus(timeout);
        while (true) {
            boolean restarted = startedAfter(kube, since);
            boolean ready = restarted || java.time.Instant.now().isAfter(deadline) ? ready(kube) : false;
            if (ready) return;
            if (java.time.Instant.now().isAfter(hardDeadline)) {
                throw new Unavailable(Unavailable.Dependency.KUBERNETES, "kube-apiserver did not come back ready within "
                        + timeout.multipliedBy(2).toSeconds() + " s after its manifest changed", null);
            }
            Thread.sleep(500);
        }
    }

    /**
     * Waits until kube-apiserver serves the custom resources of {@code group} again. After a restart
     * it answers their lists with 429 "storage is (re)initializing" for a while (its watch cache is
     * being filled), even once /readyz is ok: Dex, whose storage they are, turns that into a failed
     * login page. A CRD that is not served at all is not waited for.
     */
    public static void awaitCustomResources(KubernetesClient kube, String group, java.time.Duration timeout)
            throws InterruptedException {
        java.time.Instant deadline = java.time.Instant.now().plus(timeout);
        var crds = kube.apiextensions().v1().customResourceDefinitions().list().getItems().stream()
                .filter(c -> group.equals(c.getSpec().getGroup())).toList();
        for (var crd : crds) {
            String version = crd.getSpec().getVersions().stream().filter(v -> Boolean.TRUE.equals(v.getServed()))
                    .map(v -> v.getName()).findFirst().orElse(null);
            if (version == null) continue;
            while (true) {
                try {
                    kube.genericKubernetesResources(group + "/" + version, crd.getSpec().getNames().getKind())
                            .inAnyNamespace().list(new io.fabric8.kubernetes.api.model.ListOptionsBuilder()
                                    .withLimit(1L).build());
                    break;
                } catch (KubernetesClientException e) {
                    if (e.getCode() != 429) break; // not a re-initialising cache: not ours to wait for
                    if (java.time.Instant.now().isAfter(deadline)) {
                        throw new Unavailable(Unavailable.Dependency.KUBERNETES, "kube-apiserver still re-initialises the storage of "
                                + crd.getMetadata().getName() + " " + timeout.toSeconds() + " s after its restart", e);
                    }
                    Thread.sleep(500);
                }
            }
        }
    }

    private static boolean startedAfter(KubernetesClient kube, java.time.Instant since) {
        try {
            for (String line : kube.raw("/metrics").split("\n")) {
                if (line.startsWith("process_start_time_seconds ")) {
                    double started = Double.parseDouble(line.substring(line.indexOf(' ') + 1).trim());
                    return started * 1000 > since.toEpochMilli();
                }
            }
        } catch (RuntimeException e) {
            // restarting, or metrics not readable: not (yet) known to be restarted
        }
        return false;
    }

    private static boolean ready(KubernetesClient kube) {
        try {
            return "ok".equals(kube.raw("/readyz"));
        } catch (RuntimeException e) {
            return false;
        }
    }

    /**
     * The one translation of a Kubernetes API failure: who ({@code actor}) was refused what
     * ({@code what}, e.g. "add users"), or why the API could not answer.
     */
    public static DomainException failure(KubernetesClientException e, String actor, String what) {
        return switch (e.getCode()) {
            case 403 -> new Forbidden("not allowed: " + actor + " may not " + what + " (this needs the Cluster Admin role)");
            case 401 -> new LoginRequired("your login has expired or is invalid: run `authctl login` again");
            case 409 -> new Conflict("conflict: the object changed or already exists; retry");
            case 0 -> new Unavailable(Unavailable.Dependency.KUBERNETES, "Kubernetes API unreachable: " + Causes.messages(e), e);
            default -> new Unavailable(Unavailable.Dependency.KUBERNETES,
                    "Kubernetes API: " + (e.getStatus() != null ? e.getStatus().getMessage() : e.getMessage()), e);
        };
    }
}
