package dexauth.loginguard;

import dexauth.users.Audit;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;

import java.time.Instant;

/**
 * A lockout as a Warning Event in the audit trail (reason LockedOut), on the account's user
 * record for local users, so the console's and {@code authctl user show}'s history shows it.
 */
public final class KubeLockoutEvents implements LockoutEvents {
    static final String ACTOR = "login-guard";

    private final KubernetesClient kube;
    private final String namespace;

    public KubeLockoutEvents(KubernetesClient kube, String namespace) {
        this.kube = kube;
        this.namespace = namespace;
    }

    @Override
    public void lockedOut(AccountKey account, int failures, Instant until) {
        try {
            Audit.record(kube, namespace, ACTOR, "locked out", account.toString(), failures + " failed logins; locked until "
                    + until + " (authctl user unlock " + account.login() + " ends it sooner)", "Warning");
        } catch (KubernetesClientException e) {
            System.err.println("login-guard: warning: lockout event not recorded: HTTP " + e.getCode());
        }
    }
}
