package dexauth.loginguard;

import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ThrottleTest {
    private final ManualClock clock = new ManualClock();
    private final Throttle throttle = new Throttle(3, Duration.ofMinutes(15), clock);

    @Test
    void blocksAfterTheLimitUntilTheOldestFailureLeavesTheWindow() {
        for (int i = 0; i < 3; i++) {
            assertFalse(throttle.blocked("user:a").isPresent());
            throttle.failed("user:a");
            clock.advance(Duration.ofMinutes(1));
        }
        assertTrue(throttle.blocked("user:a").isPresent(), "3 failures in 15 minutes: blocked");
        assertFalse(throttle.blocked("user:b").isPresent(), "other keys are not affected");
        clock.advance(Duration.ofMinutes(13));
        assertFalse(throttle.blocked("user:a").isPresent(), "the first failure left the window");
    }

    @Test
    void successClearsTheCount() {
        throttle.failed("k");
        throttle.failed("k");
        throttle.succeeded("k");
        throttle.failed("k");
        throttle.failed("k");
        assertFalse(throttle.blocked("k").isPresent());
    }
}
