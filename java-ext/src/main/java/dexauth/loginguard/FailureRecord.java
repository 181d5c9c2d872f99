package dexauth.loginguard;

import java.time.Instant;

/**
 * The failed logins of one account: how many since {@code windowStart}, and until when it is
 * locked ({@code null}: not locked). {@code version} is the store's optimistic-concurrency
 * token (a resourceVersion); null for a record not stored yet.
 */
public record FailureRecord(AccountKey account, int failures, Instant windowStart, Instant lockedUntil, String version) {

    public boolean lockedAt(Instant now) {
        return lockedUntil != null && now.isBefore(lockedUntil);
    }

    /** Nothing left to remember at {@code now}: the window passed and no lock holds. */
    public boolean expiredAt(Instant now, GuardPolicy policy) {
        return !lockedAt(now) && !now.isBefore(windowStart.plus(policy.window()));
    }
}
