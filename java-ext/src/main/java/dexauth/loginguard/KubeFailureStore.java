package dexauth.loginguard;

import io.fabric8.kubernetes.api.model.coordination.v1.Lease;
import io.fabric8.kubernetes.api.model.coordination.v1.LeaseBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;

import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Failure records as Kubernetes Leases in the authentication namespace, one per account
 * ({@link AccountKey#objectName()}), written with the resourceVersion read (optimistic
 * concurrency). A Lease, not a ConfigMap: the guard's identity needs no right on ConfigMaps (the
 * user records), and unlocking is {@code delete leases}, which Kubernetes grants or refuses on
 * the caller's own identity. The record holds counts and times and the login name, never
 * anything of a password.
 */
public final class KubeFailureStore implements FailureStore {
    public static final String LABEL = "dexauth.io/login-guard";
    private static final String FAILURES = "dexauth.io/failures";
    private static final String WINDOW_START = "dexauth.io/window-start";
    private static final String LOCKED_UNTIL = "dexauth.io/locked-until";
    private static final String CONNECTOR = "dexauth.io/connector";
    private static final String LOGIN = "dexauth.io/login";

    private final KubernetesClient kube;
    private final String namespace;

    public KubeFailureStore(KubernetesClient kube, String namespace) {
        this.kube = kube;
        this.namespace = namespace;
    }

    @Override
    public Optional<FailureRecord> get(AccountKey account) {
        return Optional.ofNullable(leases().withName(account.objectName()).get()).map(KubeFailureStore::record);
    }

    @Override
    public boolean create(FailureRecord record) {
        try {
            leases().resource(lease(record)).create();
            return true;
        } catch (KubernetesClientException e) {
            if (e.getCode() == 409) return false;
            throw e;
        }
    }

    @Override
    public boolean replace(FailureRecord record) {
        try {
            leases().resource(lease(record)).update();
            return true;
        } catch (KubernetesClientException e) {
            if (e.getCode() == 409 || e.getCode() == 404) return false;
            throw e;
        }
    }

    @Override
    public boolean delete(AccountKey account) {
        return !leases().withName(account.objectName()).delete().isEmpty();
    }

    @Override
    public void deleteIfUnchanged(FailureRecord record) {
        try {
            leases().withName(record.account().objectName()).lockResourceVersion(record.version()).delete();
        } catch (KubernetesClientException e) {
            if (e.getCode() != 409 && e.getCode() != 404) throw e;
        }
    }

    @Override
    public List<FailureRecord> all() {
        return leases().withLabel(LABEL).list().getItems().stream().map(KubeFailureStore::record).toList();
    }

    private io.fabric8.kubernetes.client.dsl.NonNamespaceOperation<Lease, io.fabric8.kubernetes.api.model.coordination.v1.LeaseList,
            io.fabric8.kubernetes.client.dsl.Resource<Lease>> leases() {
        return kube.resources(Lease.class, io.fabric8.kubernetes.api.model.coordination.v1.LeaseList.class).inNamespace(namespace);
    }

    private Lease lease(FailureRecord r) {
        return new LeaseBuilder().withNewMetadata().withName(r.account().objectName()).withNamespace(namespace)
                .withResourceVersion(r.version())
                .addToLabels(LABEL, "failures").addToLabels("app.kubernetes.io/managed-by", "dexauth")
                .addToAnnotations(FAILURES, Integer.toString(r.failures()))
                .addToAnnotations(WINDOW_START, r.windowStart().toString())
                .addToAnnotations(LOCKED_UNTIL, r.lockedUntil() == null ? "" : r.lockedUntil().toString())
                .addToAnnotations(CONNECTOR, r.account().connector())
                .addToAnnotations(LOGIN, r.account().login())
                .endMetadata().withNewSpec().endSpec().build();
    }

    private static FailureRecord record(Lease l) {
        Map<String, String> a = l.getMetadata().getAnnotations() == null ? Map.of() : l.getMetadata().getAnnotations();
        String until = a.getOrDefault(LOCKED_UNTIL, "");
        try {
            return new FailureRecord(new AccountKey(a.getOrDefault(CONNECTOR, ""), a.getOrDefault(LOGIN, "")),
                    Integer.parseInt(a.getOrDefault(FAILURES, "0")), Instant.parse(a.getOrDefault(WINDOW_START, Instant.EPOCH.toString())),
                    until.isEmpty() ? null : Instant.parse(until), l.getMetadata().getResourceVersion());
        } catch (RuntimeException e) {
            // A record someone edited into nonsense counts as a fresh one (the next failure rewrites it).
            return new FailureRecord(new AccountKey(a.getOrDefault(CONNECTOR, ""), a.getOrDefault(LOGIN, "")), 0,
                    Instant.EPOCH, null, l.getMetadata().getResourceVersion());
        }
    }
}
