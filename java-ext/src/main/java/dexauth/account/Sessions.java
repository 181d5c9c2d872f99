package dexauth.account;

import dexauth.oidc.DexClient;

import java.security.MessageDigest;
import java.security.SecureRandom;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Server-side console sessions. The browser holds only a random id in an HttpOnly, Secure,
 * SameSite=Lax cookie; tokens stay here. A session ends after {@code idle} without a request
 * or {@code absolute} after it began, whichever comes first, and at logout.
 */
final class Sessions {
    static final String COOKIE = "dexauth_console";
    private static final SecureRandom RANDOM = new SecureRandom();

    /** One browser's session: a login in progress, then a logged-in person. */
    static final class Session {
        final Instant started;
        final String csrf = random();
        volatile String id;
        volatile Instant lastSeen;
        /** The authorization request under way, and where to go after it. */
        volatile DexClient.AuthRequest pending;
        volatile String returnTo;
        /** Set once logged in. */
        volatile Identity identity;
        /** Shown once on the next page (e.g. "password changed"). */
        volatile String flash;

        Session(String id, Instant now) {
            this.id = id;
            this.started = now;
            this.lastSeen = now;
        }

        boolean csrfMatches(String token) {
            return token != null && MessageDigest.isEqual(csrf.getBytes(StandardCharsets.US_ASCII),
                    token.getBytes(StandardCharsets.US_ASCII));
        }

        String takeFlash() {
            String f = flash;
            flash = null;
            return f;
        }
    }

    private final Map<String, Session> byId = new ConcurrentHashMap<>();
    private final Duration idle;
    private final Duration absolute;
    private final Clock clock;
    private final String cookiePath;

    Sessions(Duration idle, Duration absolute, Clock clock, String cookiePath) {
        this.idle = idle;
        this.absolute = absolute;
        this.clock = clock;
        this.cookiePath = cookiePath;
    }

    /** The live session of this cookie value (touching it), or empty when unknown or expired. */
    Optional<Session> find(String id) {
        if (id == null) return Optional.empty();
        Session s = byId.get(id);
        if (s == null) return Optional.empty();
        Instant now = clock.instant();
        if (now.isAfter(s.lastSeen.plus(idle)) || now.isAfter(s.started.plus(absolute))) {
            end(s);
            return Optional.empty();
        }
        s.lastSeen = now;
        return Optional.of(s);
    }

    Session create() {
        if (byId.size() > 10_000) sweep();
        Session s = new Session(random(), clock.instant());
        byId.put(s.id, s);
        return s;
    }

    /** A new id for the same session (at login), so an id planted before the login is worthless after. */
    void rotate(Session s) {
        byId.remove(s.id);
        s.id = random();
        byId.put(s.id, s);
    }

    void end(Session s) {
        byId.remove(s.id);
        Identity who = s.identity;
        s.identity = null;
        if (who != null) who.close();
    }

    /** The Set-Cookie header value for this session (empty value and Max-Age=0 to clear it). */
    String cookie(Session s) {
        return COOKIE + "=" + (s == null ? "" : s.id) + "; Path=" + cookiePath + "; Secure; HttpOnly; SameSite=Lax"
                + (s == null ? "; Max-Age=0" : "");
    }

    int size() { return byId.size(); }

    private void sweep() {
        Instant now = clock.instant();
        byId.values().removeIf(s -> now.isAfter(s.lastSeen.plus(idle)) || now.isAfter(s.started.plus(absolute)));
    }

    static String random() {
        byte[] b = new byte[32];
        RANDOM.nextBytes(b);
        return Base64.getUrlEncoder().withoutPadding().encodeToString(b);
    }
}
