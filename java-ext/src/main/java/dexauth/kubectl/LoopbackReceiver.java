package dexauth.kubectl;

import dexauth.errors.Unauthenticated;
import dexauth.errors.Unavailable;
import com.nimbusds.oauth2.sdk.AuthorizationCode;
import com.nimbusds.oauth2.sdk.AuthorizationErrorResponse;
import com.nimbusds.oauth2.sdk.AuthorizationResponse;
import com.nimbusds.oauth2.sdk.ParseException;
import com.nimbusds.oauth2.sdk.id.State;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The browser flow's redirect target: an HTTP listener on 127.0.0.1 and a free port, for one
 * authorization response. Only 127.0.0.1 is bound, so nothing off this machine can answer.
 */
final class LoopbackReceiver implements AutoCloseable {
    private final HttpServer server;
    private final CompletableFuture<URI> response = new CompletableFuture<>();

    LoopbackReceiver() {
        try {
            server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        } catch (IOException e) {
            throw new Unavailable(Unavailable.Dependency.DEX, "cannot listen on 127.0.0.1 for the browser login: " + e.getMessage(), e);
        }
        server.createContext("/callback", this::callback);
        server.start();
    }

    URI redirectUri() {
        return URI.create("http://127.0.0.1:" + server.getAddress().getPort() + "/callback");
    }

    private void callback(HttpExchange ex) throws IOException {
        URI full = URI.create(redirectUri() + (ex.getRequestURI().getRawQuery() == null ? "" : "?" + ex.getRequestURI().getRawQuery()));
        boolean first = response.complete(full);
        String query = full.getRawQuery() == null ? "" : full.getRawQuery();
        boolean refused = ("&" + query).contains("&error=");
        String heading = !first ? "This login was already handled" : refused ? "The login did not succeed"
                : "You are logged in";
        String body = "<!doctype html><meta charset=utf-8><title>Cluster login</title>"
                + "<body style=\"font-family:sans-serif;margin:3em\"><h1>" + heading
                + "</h1><p>You can close this tab and return to your terminal"
                + (refused ? ", which says why." : ": kubectl continues there.") + "</p>";
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("Content-Type", "text/html; charset=utf-8");
        ex.getResponseHeaders().set("Cache-Control", "no-store");
        ex.sendResponseHeaders(200, bytes.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(bytes);
        }
    }

    /** The code of the redirect that carries {@code state}; refuses errors and forged states. */
    AuthorizationCode await(State state, Duration timeout) {
        URI uri;
        try {
            uri = response.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            throw new Unauthenticated("no browser login within " + timeout.toMinutes() + " minutes");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new Unauthenticated("the login was interrupted");
        } catch (ExecutionException e) {
            throw new Unavailable(Unavailable.Dependency.DEX, "the browser login failed: " + e.getCause(), e.getCause());
        }
        try {
            AuthorizationResponse r = AuthorizationResponse.parse(uri);
            if (!state.equals(r.getState())) throw new Unauthenticated("the browser login came back with a wrong state");
            if (!r.indicatesSuccess()) {
                var err = ((AuthorizationErrorResponse) r).getErrorObject();
                throw new Unauthenticated("Dex ended the browser login: " + err.getCode()
                        + (err.getDescription() == null ? "" : " (" + err.getDescription() + ")"));
            }
            return r.toSuccessResponse().getAuthorizationCode();
        } catch (ParseException e) {
            throw new Unauthenticated("the browser login came back malformed: " + e.getMessage());
        }
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
