package dexauth.loginguard;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;

/**
 * Brute-force protection of password logins: decides whether an attempt may reach Dex, and
 * records its outcome. An account (known to Dex or not: the guard never asks, so a lockout
 * tells nothing about who exists) is locked once it failed {@link GuardPolicy#maxFailures()}
 * times within the window; the counters live in a {@link FailureStore} that every replica
 * shares. A client address is limited in memory, per replica.
 */
public final class LoginGuard {
    /** Why an attempt is refused before it reaches Dex. */
    public enum Reason { LOCKED, ADDRESS_LIMITED }

    public record Refusal(Reason reason, Duration retryAfter) {}

    /** Rounds of read-modify-write when other replicas write the same record at once. */
    private static final int ATTEMPTS = 32;

    private final FailureStore store;
    private final GuardPolicy policy;
    private final Clock clock;
    private final LockoutEvents events;
    private final Throttle perAddress;

    public LoginGuard(FailureStore store, GuardPolicy policy, Clock clock, LockoutEvents events) {
        this.store = store;
        this.policy = policy;
        this.clock = clock;
        this.events = events;
        this.perAddress = new Throttle(policy.addressMaxFailures(), policy.addressWindow(), clock);
    }

    public GuardPolicy policy() { return policy; }

    /** Empty: the attempt may go to Dex. A refused attempt counts against its address. */
    public Optional<Refusal> check(AccountKey account, String address) {
        Optional<Duration> wait = perAddress.blocked(address);
        if (wait.isPresent()) return Optional.of(new Refusal(Reason.ADDRESS_LIMITED, wait.get()));
        Instant now = clock.instant();
        Optional<FailureRecord> locked = store.get(account).filter(r -> r.lockedAt(now));
        if (locked.isPresent()) {
            perAddress.failed(address);
            return Optional.of(new Refusal(Reason.LOCKED, Duration.between(now, locked.get().lockedUntil())));
        }
        return Optional.empty();
    }

    /** Dex refused the password: one more failure for the account (locking it at the limit) and the address. */
    public void failed(AccountKey account, String address) {
        perAddress.failed(address);
        for (int i = 0; i < ATTEMPTS; i++) {
            Instant now = clock.instant();
            Optional<FailureRecord> current = store.get(account);
            if (current.isPresent() && current.get().lockedAt(now)) return; // an attempt that was already under way
            FailureRecord next = current.filter(r -> r.lockedUntil() == null && !r.expiredAt(now, policy))
                    .map(r -> new FailureRecord(account, r.failures() + 1, r.windowStart(), null, r.version()))
                    .orElseGet(() -> new FailureRecord(account, 1, now, null, current.map(FailureRecord::version).orElse(null)));
            boolean locks = next.failures() >= policy.maxFailures();
            if (locks) {
                next = new FailureRecord(account, next.failures(), next.windowStart(), now.plus(policy.lockout()),
                        next.version());
            }
            if (next.version() == null ? store.create(next) : store.replace(next)) {
                if (locks) events.lockedOut(account, next.failures(), next.lockedUntil());
                return;
            }
        }
        throw new IllegalStateException("the failed login of " + account + " could not be recorded: the record changed "
                + ATTEMPTS + " times while it was written");
    }

    /** Dex accepted the password: the account's failures are forgotten. */
    public void succeeded(AccountKey account) {
        store.get(account).ifPresent(store::deleteIfUnchanged);
    }

    /** Removes the records that no longer count (their window passed, no lock holds); returns how many. */
    public int sweep() {
        Instant now = clock.instant();
        int removed = 0;
        for (FailureRecord r : store.all()) {
            if (r.expiredAt(now, policy)) {
                store.deleteIfUnchanged(r);
                removed++;
            }
        }
        return removed;
    }
}
