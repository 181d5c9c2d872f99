package dexauth.account;

import org.junit.jupiter.api.Test;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SessionsTest {
    /** A clock the test moves by hand. */
    static final class ManualClock extends Clock {
        Instant now = Instant.parse("2026-01-01T00:00:00Z");
        @Override public ZoneOffset getZone() { return ZoneOffset.UTC; }
        @Override public Clock withZone(java.time.ZoneId zone) { return this; }
        @Override public Instant instant() { return now; }
        void advance(Duration d) { now = now.plus(d); }
    }

    private final ManualClock clock = new ManualClock();
    private final Sessions sessions = new Sessions(Duration.ofMinutes(30), Duration.ofHours(12), clock, "/account");

    @Test
    void anIdleSessionEnds() {
        Sessions.Session s = sessions.create();
        clock.advance(Duration.ofMinutes(29));
        assertTrue(sessions.find(s.id).isPresent(), "used within the idle time: still there");
        clock.advance(Duration.ofMinutes(31));
        assertFalse(sessions.find(s.id).isPresent(), "31 minutes without a request: ended");
    }

    @Test
    void aBusySessionEndsAtItsAbsoluteLimit() {
        Sessions.Session s = sessions.create();
        for (int i = 0; i < 47; i++) {
            clock.advance(Duration.ofMinutes(15));
            assertTrue(sessions.find(s.id).isPresent());
        }
        clock.advance(Duration.ofMinutes(16));
        assertFalse(sessions.find(s.id).isPresent(), "12 hours after its start the session ends, however busy");
    }

    @Test
    void rotatingGivesANewIdAndForgetsTheOld() {
        Sessions.Session s = sessions.create();
        String before = s.id;
        sessions.rotate(s);
        assertNotEquals(before, s.id);
        assertFalse(sessions.find(before).isPresent(), "an id planted before the login is worthless after it");
        assertTrue(sessions.find(s.id).isPresent());
    }

    @Test
    void theCookieIsHttpOnlySecureAndLax() {
        Sessions.Session s = sessions.create();
        assertEquals("dexauth_console=" + s.id + "; Path=/account; Secure; HttpOnly; SameSite=Lax", sessions.cookie(s));
        assertTrue(sessions.cookie(null).endsWith("Max-Age=0"), "logout clears the cookie");
    }

    @Test
    void csrfTokensMustMatchExactly() {
        Sessions.Session s = sessions.create();
        assertTrue(s.csrfMatches(s.csrf));
        assertFalse(s.csrfMatches(null));
        assertFalse(s.csrfMatches(""));
        assertFalse(s.csrfMatches(s.csrf + "x"));
        assertFalse(s.csrfMatches(sessions.create().csrf), "another session's token is refused");
    }

    @Test
    void unknownIdsFindNothing() {
        assertFalse(sessions.find("forged").isPresent());
        assertFalse(sessions.find(null).isPresent());
    }
}
