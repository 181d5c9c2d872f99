package dexauth.loginguard;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Counts failed password checks per key (a user, a client address) in a sliding window and
 * refuses further checks once a key reached its limit, until its oldest failure leaves the
 * window. In memory, per process: the login guard's per-address limit and the account service's
 * checks of a current password use it; the per-account lockout is {@link LoginGuard}'s, shared.
 */
public final class Throttle {
    private final int limit;
    private final Duration window;
    private final Clock clock;
    private final Map<String, Deque<Instant>> failures = new ConcurrentHashMap<>();

    public Throttle(int limit, Duration window, Clock clock) {
        this.limit = limit;
        this.window = window;
        this.clock = clock;
    }

    /** How long {@code key} must wait before its next check, if it must. */
    public Optional<Duration> blocked(String key) {
        Deque<Instant> q = failures.get(key);
        if (q == null) return Optional.empty();
        synchronized (q) {
            prune(q);
            if (q.size() < limit) return Optional.empty();
            return Optional.of(Duration.between(clock.instant(), q.peekFirst().plus(window)));
        }
    }

    public void failed(String key) {
        Deque<Instant> q = failures.computeIfAbsent(key, k -> new ArrayDeque<>());
        synchronized (q) {
            prune(q);
            q.addLast(clock.instant());
        }
        if (failures.size() > 100_000) failures.entrySet().removeIf(e -> e.getValue().isEmpty());
    }

    public void succeeded(String key) {
        failures.remove(key);
    }

    private void prune(Deque<Instant> q) {
        Instant oldest = clock.instant().minus(window);
        while (!q.isEmpty() && q.peekFirst().isBefore(oldest)) q.removeFirst();
    }
}
