package dexauth.loginguard.proxy;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import dexauth.errors.Invalid;
import dexauth.loginguard.ClientAddress;
import dexauth.loginguard.KubeFailureStore;
import dexauth.loginguard.KubeLockoutEvents;
import dexauth.loginguard.LoginGuard;
import dexauth.pki.TrustStores;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;

import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.security.KeyStore;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * The login guard as the only HTTPS endpoint of Dex's pod: every request goes on to Dex (bound
 * to 127.0.0.1 in the pod); password attempts (the password form of each connector and the
 * password grant) are first checked by {@link LoginGuard}, their outcome recorded, and their
 * answer given after the policy's response time at the earliest, whatever the outcome.
 */
public final class GuardProxy implements AutoCloseable {
    /** Headers that belong to one connection, or that the HTTP client sets itself. */
    private static final Set<String> HOP = Set.of("connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
            "te", "trailer", "trailers", "transfer-encoding", "upgrade", "host", "content-length", "expect", "date");
    private static final int MAX_BODY = 1_000_000;

    private final HttpsServer server;
    private final ExecutorService workers;
    private final ScheduledExecutorService sweeper;
    private final KubernetesClient kube;

    private GuardProxy(HttpsServer server, ExecutorService workers, ScheduledExecutorService sweeper, KubernetesClient kube) {
        this.server = server;
        this.workers = workers;
        this.sweeper = sweeper;
        this.kube = kube;
    }

    public static GuardProxy start(GuardConfig config) throws IOException {
        KubernetesClient kube = new KubernetesClientBuilder().build();
        LoginGuard guard = new LoginGuard(new KubeFailureStore(kube, config.namespace), config.policy(), Clock.systemUTC(),
                new KubeLockoutEvents(kube, config.namespace));
        HttpClient dex = HttpClient.newBuilder().sslContext(TrustStores.trusting(Path.of(config.dex.caFile)))
                .followRedirects(HttpClient.Redirect.NEVER).version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(5)).build();
        Handler handler = new Handler(guard, dex, URI.create(config.dex.url.replaceAll("/+$", "")),
                new PasswordRequests(config.issuerPath, config.passwordConnector),
                new ServiceDiscovery(config.serviceUrl, config.issuerPath), config.trustedProxies);
        HttpsServer server = HttpsServer.create(new InetSocketAddress(config.listen.address, config.listen.port), 256);
        server.setHttpsConfigurator(new HttpsConfigurator(serverTls(config)));
        // Padded answers wait in their thread: enough threads that waiting attempts never hold up pages.
        ExecutorService workers = Executors.newFixedThreadPool(128);
        server.setExecutor(workers);
        server.createContext("/", handler);
        server.start();
        ScheduledExecutorService sweeper = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "login-guard-sweep");
            t.setDaemon(true);
            return t;
        });
        sweeper.scheduleWithFixedDelay(() -> {
            try {
                guard.sweep();
            } catch (RuntimeException e) {
                System.err.println("login-guard: sweep of expired records failed: " + e.getClass().getSimpleName());
            }
        }, 1, 5, TimeUnit.MINUTES);
        System.out.println("login-guard: listening on " + config.listen.address + ":" + config.listen.port + ", Dex at "
                + config.dex.url + "; lockout after " + config.policy.maxFailures + " failures in "
                + config.policy.windowSeconds + " s, answers after " + config.policy.responseMillis + " ms");
        return new GuardProxy(server, workers, sweeper, kube);
    }

    private static SSLContext serverTls(GuardConfig config) throws IOException {
        try {
            KeyStore ks = TrustStores.keyStore(Path.of(config.tls.certFile), Path.of(config.tls.keyFile));
            KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(ks, new char[0]);
            SSLContext ctx = SSLContext.getInstance("TLSv1.3");
            ctx.init(kmf.getKeyManagers(), null, null);
            return ctx;
        } catch (java.security.GeneralSecurityException e) {
            throw new Invalid("tls", "cannot load the serving certificate " + config.tls.certFile + ": " + e.getMessage());
        }
    }

    @Override
    public void close() {
        server.stop(1);
        workers.shutdownNow();
        sweeper.shutdownNow();
        kube.close();
    }

    /** One request: checked if it is a password attempt, then passed to Dex. */
    private static final class Handler implements com.sun.net.httpserver.HttpHandler {
        private final LoginGuard guard;
        private final HttpClient dex;
        private final URI dexUrl;
        private final PasswordRequests requests;
        private final ServiceDiscovery serviceDiscovery;
        private final List<String> trustedProxies;
        private final java.util.concurrent.atomic.AtomicLong lastSlowWarning =
                new java.util.concurrent.atomic.AtomicLong(System.nanoTime() - TimeUnit.MINUTES.toNanos(2));

        Handler(LoginGuard guard, HttpClient dex, URI dexUrl, PasswordRequests requests, ServiceDiscovery serviceDiscovery,
                List<String> trustedProxies) {
            this.guard = guard;
            this.dex = dex;
            this.dexUrl = dexUrl;
            this.requests = requests;
            this.serviceDiscovery = serviceDiscovery;
            this.trustedProxies = trustedProxies;
        }

        @Override
        public void handle(HttpExchange ex) throws IOException {
            long start = System.nanoTime();
            try (ex) {
                byte[] body = readBody(ex.getRequestBody());
                if (body == null) {
                    send(ex, Answers.text(413, "request too large"));
                    return;
                }
                URI uri = ex.getRequestURI();
                Optional<PasswordRequests.Attempt> attempt;
                try {
                    attempt = requests.attempt(ex.getRequestMethod(), uri.getPath() == null ? "/" : uri.getPath(),
                            uri.getRawQuery(), ex.getRequestHeaders().getFirst("Content-Type"), body);
                } catch (PasswordRequests.Unreadable e) {
                    send(ex, Answers.text(415, e.getMessage()));
                    return;
                }
                if (attempt.isEmpty()) {
                    Answer answer = forward(ex, body);
                    if (serviceDiscovery.applies(ex.getRequestMethod(), uri.getPath(), ex.getRequestHeaders().getFirst("Host"))) {
                        answer = serviceDiscovery.rewrite(answer);
                    }
                    send(ex, answer);
                    return;
                }
                Answer answer = guarded(ex, body, attempt.get());
                padUntil(start);
                send(ex, answer);
            }
        }

        private Answer guarded(HttpExchange ex, byte[] body, PasswordRequests.Attempt attempt) {
            String address = ClientAddress.of(ex.getRemoteAddress().getAddress().getHostAddress(),
                    ex.getRequestHeaders().getFirst("X-Forwarded-For"), trustedProxies);
            try {
                Optional<LoginGuard.Refusal> refusal = guard.check(attempt.account(), address);
                if (refusal.isPresent()) return Answers.refused(attempt.kind(), refusal.get());
                Answer answer = forward(ex, body);
                switch (PasswordRequests.outcome(attempt.kind(), answer.status())) {
                    case ACCEPTED -> guard.succeeded(attempt.account());
                    case REFUSED -> guard.failed(attempt.account(), address);
                    case OTHER -> { }
                }
                return answer;
            } catch (RuntimeException e) {
                // No counter, no password check: Dex keeps its own data in the same Kubernetes API.
                System.err.println("login-guard: password attempt not checked: " + e.getClass().getSimpleName()
                        + (e instanceof io.fabric8.kubernetes.client.KubernetesClientException k ? " (HTTP " + k.getCode() + ")" : ""));
                return Answers.unavailable(attempt.kind());
            }
        }

        private void padUntil(long start) {
            long rest = guard.policy().responseTime().toNanos() - (System.nanoTime() - start);
            if (rest <= 0) {
                long now = System.nanoTime();
                long last = lastSlowWarning.get();
                // At most one line a minute: under a flood of attempts every one may be slow.
                if (now - last > TimeUnit.MINUTES.toNanos(1) && lastSlowWarning.compareAndSet(last, now)) {
                    System.err.println("login-guard: a password attempt took " + Duration.ofNanos(-rest)
                            .plus(guard.policy().responseTime()).toMillis() + " ms, more than the response time"
                            + " (pillar dexauth:login_guard:response_time_ms): answers may differ in time; raise it");
                }
                return;
            }
            try {
                TimeUnit.NANOSECONDS.sleep(rest);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        private Answer forward(HttpExchange ex, byte[] body) {
            URI uri = ex.getRequestURI();
            URI target = URI.create(dexUrl + uri.getRawPath() + (uri.getRawQuery() == null ? "" : "?" + uri.getRawQuery()));
            HttpRequest.Builder req = HttpRequest.newBuilder(target).timeout(Duration.ofSeconds(60))
                    .method(ex.getRequestMethod(), body.length == 0 ? HttpRequest.BodyPublishers.noBody()
                            : HttpRequest.BodyPublishers.ofByteArray(body));
            ex.getRequestHeaders().forEach((name, values) -> {
                if (HOP.contains(name.toLowerCase(Locale.ROOT))) return;
                values.forEach(v -> req.header(name, v));
            });
            try {
                HttpResponse<byte[]> resp = dex.send(req.build(), HttpResponse.BodyHandlers.ofByteArray());
                Map<String, List<String>> headers = new java.util.LinkedHashMap<>();
                resp.headers().map().forEach((name, values) -> {
                    if (!HOP.contains(name.toLowerCase(Locale.ROOT)) && !name.startsWith(":")) headers.put(name, values);
                });
                return new Answer(resp.statusCode(), headers, resp.body());
            } catch (IOException e) {
                System.err.println("login-guard: Dex did not answer: " + e.getClass().getSimpleName());
                return Answers.text(502, "Dex is not reachable");
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return new Answer(503, Map.of(), new byte[0]);
            }
        }

        private static byte[] readBody(InputStream in) throws IOException {
            byte[] b = in.readNBytes(MAX_BODY + 1);
            return b.length > MAX_BODY ? null : b;
        }

        private static void send(HttpExchange ex, Answer a) throws IOException {
            a.headers().forEach((name, values) -> values.forEach(v -> ex.getResponseHeaders().add(name, v)));
            boolean empty = a.body().length == 0 || "HEAD".equalsIgnoreCase(ex.getRequestMethod());
            ex.sendResponseHeaders(a.status(), empty ? -1 : a.body().length);
            if (!empty) {
                try (OutputStream out = ex.getResponseBody()) {
                    out.write(a.body());
                }
            }
        }
    }
}
