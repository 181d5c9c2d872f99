package dexauth.salt;

import com.suse.salt.netapi.AuthModule;
import com.suse.salt.netapi.calls.modules.Test;
import com.suse.salt.netapi.calls.runner.Manage;
import com.suse.salt.netapi.client.SaltClient;
import com.suse.salt.netapi.client.impl.HttpAsyncClientImpl;
import com.suse.salt.netapi.datatypes.AuthMethod;
import com.suse.salt.netapi.datatypes.Token;
import com.suse.salt.netapi.datatypes.target.Glob;
import com.suse.salt.netapi.results.Result;
import org.apache.http.impl.nio.client.CloseableHttpAsyncClient;
import org.apache.http.impl.nio.client.HttpAsyncClients;

import javax.net.ssl.SSLContext;
import java.io.IOException;
import java.net.URI;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * The Java to Salt path: talks to salt-api (rest_cherrypy) over verified TLS with
 * salt-netapi-client. Used by CLI commands that must re-apply Salt states.
 */
public final class SaltApi implements AutoCloseable {
    /** How long the master waits for minions to answer (a busy node can be slow). */
    private static final int TIMEOUT_SECONDS = 30;

    private final CloseableHttpAsyncClient http;
    private final SaltClient client;
    private final AuthMethod auth;

    private SaltApi(CloseableHttpAsyncClient http, SaltClient client, AuthMethod auth) {
        this.http = http;
        this.client = client;
        this.auth = auth;
    }

    /**
     * Logs in. {@code password} is a char array so it is never interned as a String longer than needed;
     * salt-netapi-client wants a String, so one is made just for the login call.
     */
    public static SaltApi connect(URI url, String username, char[] password, String eauth, SSLContext tls) {
        if (!"https".equals(url.getScheme())) {
            throw new IllegalArgumentException("salt-api URL must be https (got " + url + ")");
        }
        // salt-api's cookie uses the RFC 6265 date format: parse it as such (no warnings).
        CloseableHttpAsyncClient http = HttpAsyncClients.custom().setSSLContext(tls)
                .setDefaultRequestConfig(org.apache.http.client.config.RequestConfig.custom()
                        .setCookieSpec(org.apache.http.client.config.CookieSpecs.STANDARD).build())
                .build();
        http.start();
        try {
            SaltClient client = new SaltClient(url, new HttpAsyncClientImpl(http));
            Token token = client.login(username, new String(password), authModule(eauth))
                    .toCompletableFuture().join();
            return new SaltApi(http, client, new AuthMethod(token));
        } catch (RuntimeException e) {
            closeQuietly(http);
            throw e;
        }
    }

    static AuthModule authModule(String eauth) {
        for (AuthModule m : AuthModule.values()) {
            if (m.getValue().equals(eauth)) return m;
        }
        throw new IllegalArgumentException("eauth '" + eauth + "' is not supported by salt-netapi-client;"
                + " use one of auto, pam, ldap, mysql, django, keystone, pki, yubico");
    }

    /** Minions that answer test.ping, sorted, with their answer. */
    public Map<String, Boolean> ping(String target) {
        Map<String, Result<Boolean>> results = Test.ping().withTimeouts(Optional.of(TIMEOUT_SECONDS), Optional.of(TIMEOUT_SECONDS))
                .callSync(client, new Glob(target), auth)
                .toCompletableFuture().join();
        Map<String, Boolean> out = new TreeMap<>();
        results.forEach((minion, r) -> out.put(minion, r.result().orElse(false)));
        return out;
    }

    /** Minions the master sees as up (runner call manage.up). */
    public List<String> minionsUp() {
        Result<List<String>> r = Manage.up(Optional.of(TIMEOUT_SECONDS), Optional.of(TIMEOUT_SECONDS)).callSync(client, auth).toCompletableFuture().join();
        return r.result().orElseThrow(() -> new IllegalStateException("manage.up failed: "
                + r.error().map(Object::toString).orElse("no result")));
    }

    @Override
    public void close() {
        closeQuietly(http);
    }

    private static void closeQuietly(CloseableHttpAsyncClient http) {
        try {
            http.close();
        } catch (IOException ignored) {
            // closing a client that failed to log in: nothing to recover
        }
    }
}
