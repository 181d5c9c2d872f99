package dexauth.loginguard;

import dexauth.chart.Kube;
import dexauth.users.Audit;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;

/** Ending a lockout: the use-case of the console, the JSON API and {@code authctl --break-glass}. */
public final class Lockouts {
    private Lockouts() {}

    /**
     * Deletes the account's failure record with {@code kube}'s identity, so Kubernetes decides
     * ({@code delete leases} in the namespace), and records who did it. False: it was not locked
     * and had no failures.
     */
    public static boolean unlock(KubernetesClient kube, String namespace, AccountKey account, String actor) {
        try {
            boolean was = new KubeFailureStore(kube, namespace).delete(account);
            if (was) Audit.record(kube, namespace, actor, "unlocked", account.toString(), "");
            return was;
        } catch (KubernetesClientException e) {
            throw Kube.failure(e, actor, "unlock accounts");
        }
    }
}
