package dexauth.loginguard.proxy;

import dexauth.loginguard.AccountKey;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PasswordRequestsTest {
    private static final String FORM = "application/x-www-form-urlencoded";
    private final PasswordRequests requests = new PasswordRequests("/oidc", "local");

    private Optional<PasswordRequests.Attempt> attempt(String method, String path, String query, String type, String body)
            throws PasswordRequests.Unreadable {
        return requests.attempt(method, path, query, type, body.getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void thePasswordFormOfEveryConnector() throws Exception {
        assertEquals(new PasswordRequests.Attempt(PasswordRequests.Kind.FORM, AccountKey.local("jane@example.com")),
                attempt("POST", "/oidc/auth/local/login", "back=&state=x", FORM, "login=Jane%40example.com&password=x").orElseThrow());
        assertEquals(new AccountKey("corp", "jane"),
                attempt("POST", "/oidc/auth/corp/login", null, FORM + "; charset=utf-8", "login=jane&password=x").orElseThrow().account());
        assertEquals(AccountKey.local("q@example.com"),
                attempt("POST", "/oidc/auth/local/login", "login=q%40example.com", FORM, "password=x").orElseThrow().account(),
                "no login in the body: Dex takes the query's, so does the guard");
        assertEquals(AccountKey.local("b@example.com"),
                attempt("POST", "/oidc//auth/./local/login/", "login=q%40example.com", FORM, "login=b%40example.com").orElseThrow()
                        .account(), "the body before the query; the path cleaned as Go's router does");
        assertTrue(attempt("GET", "/oidc/auth/local/login", "login=a", null, "").isEmpty(), "the form page itself");
    }

    @Test
    void thePasswordGrantOnly() throws Exception {
        assertEquals(new PasswordRequests.Attempt(PasswordRequests.Kind.GRANT, AccountKey.local("a@example.com")),
                attempt("POST", "/oidc/token", null, FORM, "grant_type=password&username=a%40example.com&password=p").orElseThrow());
        assertTrue(attempt("POST", "/oidc/token", null, FORM, "grant_type=refresh_token&refresh_token=r").isEmpty());
        assertTrue(attempt("POST", "/oidc/keys", null, FORM, "grant_type=password").isEmpty());
    }

    @Test
    void aBodyTheGuardCannotReadIsRefused() {
        assertThrows(PasswordRequests.Unreadable.class, () -> attempt("POST", "/oidc/auth/local/login", null,
                "multipart/form-data; boundary=x", "--x\r\n"));
    }

    @Test
    void dexsVerdict() {
        assertEquals(PasswordRequests.Outcome.ACCEPTED, PasswordRequests.outcome(PasswordRequests.Kind.FORM, 303));
        assertEquals(PasswordRequests.Outcome.REFUSED, PasswordRequests.outcome(PasswordRequests.Kind.FORM, 200));
        assertEquals(PasswordRequests.Outcome.ACCEPTED, PasswordRequests.outcome(PasswordRequests.Kind.GRANT, 200));
        assertEquals(PasswordRequests.Outcome.REFUSED, PasswordRequests.outcome(PasswordRequests.Kind.GRANT, 401));
        assertEquals(PasswordRequests.Outcome.OTHER, PasswordRequests.outcome(PasswordRequests.Kind.GRANT, 500));
    }
}
