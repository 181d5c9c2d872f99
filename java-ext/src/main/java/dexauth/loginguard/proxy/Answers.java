package dexauth.loginguard.proxy;

import dexauth.loginguard.LoginGuard;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The guard's own answers: a refused password attempt says why and for how long, as a page for
 * the password form and as an OAuth2 error for the password grant; never whether the account
 * exists (unknown accounts are counted and locked alike).
 */
final class Answers {
    private Answers() {}

    static Answer text(int status, String message) {
        return new Answer(status, Map.of("Content-Type", List.of("text/plain; charset=utf-8")), bytes(message + "\n"));
    }

    static Answer refused(PasswordRequests.Kind kind, LoginGuard.Refusal refusal) {
        String wait = minutes(refusal.retryAfter());
        String message = switch (refusal.reason()) {
            case LOCKED -> "Too many failed logins: this account is locked for " + wait
                    + ". Try again later, or ask an administrator to unlock it.";
            case ADDRESS_LIMITED -> "Too many failed logins from your address: try again in " + wait + ".";
        };
        Map<String, List<String>> headers = new LinkedHashMap<>();
        headers.put("Retry-After", List.of(Long.toString(Math.max(1, refusal.retryAfter().toSeconds()))));
        headers.put("Cache-Control", List.of("no-store"));
        String reason = refusal.reason() == LoginGuard.Reason.LOCKED ? "account_locked" : "address_limited";
        if (kind == PasswordRequests.Kind.GRANT) {
            headers.put("Content-Type", List.of("application/json"));
            return new Answer(429, headers, bytes("{\"error\":\"access_denied\",\"error_description\":\"" + message
                    + "\",\"dexauth_reason\":\"" + reason + "\"}"));
        }
        headers.put("Content-Type", List.of("text/html; charset=utf-8"));
        return new Answer(429, headers, bytes("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Login refused</title>"
                + "</head><body data-reason=\"" + reason + "\"><h2>Login refused</h2><p id=\"login-error\">" + message
                + "</p></body></html>"));
    }

    static Answer unavailable(PasswordRequests.Kind kind) {
        String message = "Logins are unavailable for a moment (the cluster's API does not answer); try again shortly.";
        if (kind == PasswordRequests.Kind.GRANT) {
            return new Answer(503, Map.of("Content-Type", List.of("application/json")),
                    bytes("{\"error\":\"temporarily_unavailable\",\"error_description\":\"" + message + "\"}"));
        }
        return text(503, message);
    }

    private static String minutes(Duration d) {
        long m = Math.max(1, (d.toSeconds() + 59) / 60);
        return m + (m == 1 ? " minute" : " minutes");
    }

    static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
