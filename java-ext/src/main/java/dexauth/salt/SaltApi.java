package dexauth.salt;

import com.suse.salt.netapi.AuthModule;
import com.google.gson.JsonElement;
import com.google.gson.reflect.TypeToken;
import com.suse.salt.netapi.calls.WheelCall;
import com.suse.salt.netapi.calls.WheelResult;
import com.suse.salt.netapi.calls.modules.State;
import com.suse.salt.netapi.calls.modules.Test;
import com.suse.salt.netapi.calls.runner.Manage;
import com.suse.salt.netapi.client.SaltClient;
import com.suse.salt.netapi.client.impl.HttpAsyncClientImpl;
import com.suse.salt.netapi.datatypes.AuthMethod;
import com.suse.salt.netapi.datatypes.Token;
import com.suse.salt.netapi.datatypes.target.Glob;
import com.suse.salt.netapi.datatypes.target.Grains;
import com.suse.salt.netapi.results.Result;
import org.apache.http.impl.nio.client.CloseableHttpAsyncClient;
import org.apache.http.impl.nio.client.HttpAsyncClients;

import javax.net.ssl.SSLContext;
import java.io.IOException;
import java.net.URI;
import java.util.ArrayList;
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

    /**
     * Text of a file in the master's pillar roots (wheel pillar_roots.read), or null when absent.
     * Several roots may hold it: the first, highest-priority one wins, as in pillar compilation.
     */
    public String readPillarFile(String relativePath) {
        WheelCall<List<Map<String, String>>> call = new WheelCall<>("pillar_roots.read",
                Optional.of(Map.of("path", relativePath)), new TypeToken<List<Map<String, String>>>() { });
        WheelResult<Result<List<Map<String, String>>>> r = call.callSync(client, auth).toCompletableFuture().join();
        List<Map<String, String>> files = r.getData().getResult().result().orElseThrow(() -> new IllegalStateException(
                "salt-api: pillar_roots.read failed: " + r.getData().getResult().error().map(Object::toString).orElse("?")));
        return files.isEmpty() ? null : files.get(0).values().iterator().next();
    }

    /** Writes a file into pillar root number {@code index} of saltenv base (wheel pillar_roots.write). */
    public void writePillarFile(String relativePath, String text, int index) {
        WheelCall<String> call = new WheelCall<>("pillar_roots.write",
                Optional.of(Map.of("path", relativePath, "data", text, "index", index)), new TypeToken<String>() { });
        WheelResult<Result<String>> r = call.callSync(client, auth).toCompletableFuture().join();
        String msg = r.getData().getResult().result().orElse("no answer");
        if (!msg.startsWith("Wrote data to file")) {
            throw new IllegalStateException("salt-api could not write pillar file " + relativePath + ": " + msg);
        }
    }

    /** One state of a state run, as an operator reads it. */
    public record StateOutcome(String id, boolean ok, boolean changed, String comment, double seconds) {}

    /**
     * Applies states on the minions matching a grain ("key:value"), queued behind any running
     * state run, and returns each minion's states in execution order. {@code progress} is told
     * every few seconds while the run lasts.
     */
    public Map<String, List<StateOutcome>> applyStates(String grainTarget, List<String> sls, int timeoutSeconds,
                                                      java.util.function.Consumer<Long> progress) {
        int colon = grainTarget.indexOf(':');
        Grains target = new Grains(grainTarget.substring(0, colon), grainTarget.substring(colon + 1));
        long start = System.nanoTime();
        var future = State.apply(sls, Optional.empty(), Optional.of(true), Optional.empty())
                .withTimeouts(Optional.of(timeoutSeconds), Optional.of(timeoutSeconds))
                .callSync(client, target, auth).toCompletableFuture();
        while (true) {
            try {
                Map<String, Result<Map<String, State.ApplyResult>>> results = future.get(5, java.util.concurrent.TimeUnit.SECONDS);
                Map<String, List<StateOutcome>> out = new TreeMap<>();
                results.forEach((minion, r) -> out.put(minion, outcomes(r)));
                return out;
            } catch (java.util.concurrent.TimeoutException e) {
                progress.accept((System.nanoTime() - start) / 1_000_000_000L);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for salt-api");
            } catch (java.util.concurrent.ExecutionException e) {
                throw new IllegalStateException("salt-api state run failed: " + e.getCause().getMessage(), e.getCause());
            }
        }
    }

    private static List<StateOutcome> outcomes(Result<Map<String, State.ApplyResult>> r) {
        List<StateOutcome> list = new ArrayList<>();
        if (r.result().isEmpty()) {
            list.add(new StateOutcome("(state run)", false, false, r.error().map(Object::toString).orElse("no result"), 0));
            return list;
        }
        List<State.ApplyResult> ordered = new ArrayList<>(r.result().get().values());
        ordered.sort(java.util.Comparator.comparingInt(State.ApplyResult::getRunNum));
        for (State.ApplyResult a : ordered) {
            JsonElement changes = a.getChanges(JsonElement.class);
            boolean changed = changes != null && changes.isJsonObject() && changes.getAsJsonObject().size() > 0;
            list.add(new StateOutcome(a.getName(), a.isResult(), changed, a.getComment(), a.getDuration() / 1000.0));
        }
        return list;
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
