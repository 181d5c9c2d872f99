package dexauth.loginguard;

import java.time.Duration;

/**
 * The limits of the login guard (pillar {@code dexauth:login_guard}): an account is locked for
 * {@code lockout} once it had {@code maxFailures} failed logins within {@code window}; a client
 * address may fail {@code addressMaxFailures} times within {@code addressWindow}; every password
 * attempt is answered after {@code responseTime} at the earliest, whatever its outcome.
 */
public record GuardPolicy(int maxFailures, Duration window, Duration lockout, int addressMaxFailures,
                          Duration addressWindow, Duration responseTime) {
    public GuardPolicy {
        if (maxFailures < 1 || addressMaxFailures < 1) throw new IllegalArgumentException("limits must be at least 1");
        if (window.isNegative() || window.isZero() || lockout.isNegative() || lockout.isZero()
                || addressWindow.isNegative() || addressWindow.isZero() || responseTime.isNegative()) {
            throw new IllegalArgumentException("windows and the lockout must be positive");
        }
    }
}
