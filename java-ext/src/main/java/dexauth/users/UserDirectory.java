package dexauth.users;

import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.TimeUnit;

/**
 * The user records, watched: a sorted in-memory view kept current by a Kubernetes watch, so a
 * long-running reader (the account service) pages through 10,000 users without listing them
 * per request. Whoever decides who may read it is the caller's business: this only reads.
 */
public final class UserDirectory implements AutoCloseable {
    /** One page of a search, and how many records matched in all. */
    public record Page(List<UserRecord> users, int total, int offset, int limit) {
        public boolean hasNext() { return offset + users.size() < total; }

        public boolean hasPrevious() { return offset > 0; }
    }

    private final ConcurrentSkipListMap<String, UserRecord> byEmail = new ConcurrentSkipListMap<>();
    private final Map<String, String> emailByObject = new ConcurrentHashMap<>();
    private final SharedIndexInformer<ConfigMap> informer;

    public UserDirectory(KubernetesClient kube, String namespace) {
        informer = kube.configMaps().inNamespace(namespace).withLabel(UserStore.LABEL, "true").inform(
                new ResourceEventHandler<>() {
                    @Override public void onAdd(ConfigMap cm) { put(cm); }
                    @Override public void onUpdate(ConfigMap old, ConfigMap cm) { put(cm); }
                    @Override public void onDelete(ConfigMap cm, boolean unknownFinalState) { remove(cm); }
                }, 0);
    }

    /** Waits until the first listing arrived (false when it did not within the time). */
    public boolean awaitSynced(long seconds) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (!informer.hasSynced() && System.nanoTime() < deadline) {
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }
        return informer.hasSynced();
    }

    private void put(ConfigMap cm) {
        UserRecord u;
        try {
            u = UserStore.fromConfigMap(cm);
        } catch (RuntimeException malformed) {
            return; // a record nobody can read is not a user; `authctl user list` reports it
        }
        if (u.email() == null || ProbeAccount.is(u.email())) return; // the health check's account is nobody's
        String previous = emailByObject.put(cm.getMetadata().getName(), u.email());
        if (previous != null && !previous.equals(u.email())) byEmail.remove(previous);
        byEmail.put(u.email(), u);
    }

    private void remove(ConfigMap cm) {
        String email = emailByObject.remove(cm.getMetadata().getName());
        if (email != null) byEmail.remove(email);
    }

    public Optional<UserRecord> get(String email) {
        return Optional.ofNullable(byEmail.get(email.toLowerCase(Locale.ROOT)));
    }

    public int size() { return byEmail.size(); }

    /** Users whose email or name contains {@code search} (case-insensitive), in email order. */
    public Page page(String search, int offset, int limit) {
        String q = search == null ? "" : search.trim().toLowerCase(Locale.ROOT);
        int from = Math.max(0, offset);
        int max = Math.max(1, Math.min(limit, 500));
        List<UserRecord> out = new ArrayList<>(max);
        int total = 0;
        for (UserRecord u : byEmail.values()) {
            if (!q.isEmpty() && !u.email().contains(q) && !u.username().toLowerCase(Locale.ROOT).contains(q)) continue;
            if (total >= from && out.size() < max) out.add(u);
            total++;
        }
        return new Page(out, total, from, max);
    }

    @Override
    public void close() {
        informer.close();
    }
}
