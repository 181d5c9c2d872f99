package dexauth.apiserver;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dexauth.config.DeploymentConfig;
import io.fabric8.kubernetes.api.model.authentication.TokenReviewBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.HexFormat;
import java.util.Optional;

/**
 * Is one node's kube-apiserver healthy after its authentication changed? In this order: it answers
 * /readyz; it runs the new process (when the manifest changed); it runs the new authentication
 * configuration (its {@code last_config_info} hash is the file's); and it fetched Dex's keys for
 * the issuer after the change: a probe token naming the issuer (signed by nobody, so never
 * accepted) makes it fetch them, exactly as a user's token would.
 */
public final class ApiserverHealth {
    private static final String CONFIG_INFO = "apiserver_authentication_config_controller_last_config_info";
    private static final String RELOAD = "apiserver_authentication_config_controller_automatic_reload_last_timestamp_seconds";
    private static final String JWKS_FETCH = "apiserver_authentication_jwt_authenticator_jwks_fetch_last_timestamp_seconds";
    private static final String REFUSED = "kube-apiserver refused the new authentication configuration ";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final KubernetesClient kube;
    private final DeploymentConfig cfg;

    public ApiserverHealth(KubernetesClient kube, DeploymentConfig cfg) {
        this.kube = kube;
        this.cfg = cfg;
    }

    /**
     * Waits until the node is healthy; empty when it is, else what was still wrong at the deadline.
     * {@code restarted}: the manifest changed, so only a process started after {@code since} counts.
     */
    public Optional<String> await(Instant since, boolean restarted, String writtenConfig, Duration timeout)
            throws InterruptedException {
        Instant deadline = Instant.now().plus(timeout);
        String problem;
        while (true) {
            problem = problem(since, restarted, writtenConfig);
            if (problem == null) return Optional.empty();
            // A refused file stays refused: kube-apiserver only retries when the file changes.
            if (problem.startsWith(REFUSED)) return Optional.of(problem);
            if (Instant.now().isAfter(deadline)) return Optional.of(problem + " (waited " + timeout.toSeconds() + " s)");
            Thread.sleep(1000);
        }
    }

    /** Waits for /readyz only (after a rollback); false if it never came. */
    public boolean awaitReady(Duration timeout) throws InterruptedException {
        Instant deadline = Instant.now().plus(timeout);
        while (Instant.now().isBefore(deadline)) {
            if ("ok".equals(raw("/readyz"))) return true;
            Thread.sleep(1000);
        }
        return false;
    }

    private String problem(Instant since, boolean restarted, String writtenConfig) {
        String url = kube.getConfiguration().getMasterUrl();
        if (!"ok".equals(raw("/readyz"))) return "kube-apiserver at " + url + " is not ready (/readyz)";
        String metrics = raw("/metrics");
        if (metrics == null) return "kube-apiserver at " + url + " does not answer /metrics";
        if (restarted && metric(metrics, "process_start_time_seconds", "") < since.getEpochSecond()) {
            return "kube-apiserver at " + url + " still runs the process from before the manifest changed";
        }
        if (writtenConfig != null) {
            String hash = "hash=\"sha256:" + sha256(writtenConfig) + "\"";
            if (!metrics.lines().anyMatch(l -> l.startsWith(CONFIG_INFO + "{") && l.contains(hash))) {
                return metric(metrics, RELOAD, "status=\"failure\"") >= since.getEpochSecond()
                        ? REFUSED + cfg.authenticationConfig()
                                + " (its automatic reload failed; kube-apiserver's log says why)"
                        : "kube-apiserver has not loaded the new authentication configuration " + cfg.authenticationConfig();
            }
        }
        probe();
        String issuerHash = "jwt_issuer_hash=\"sha256:" + sha256(cfg.issuer().toString()) + "\"";
        metrics = raw("/metrics");
        if (metrics == null || metric(metrics, JWKS_FETCH, issuerHash, "result=\"success\"") < since.getEpochSecond()) {
            return "kube-apiserver could not fetch Dex's keys for issuer " + cfg.issuer()
                    + " (discovery or keys unreachable from this node, or not signed by Dex's CA)";
        }
        return null;
    }

    /** A token review of a token naming the issuer: kube-apiserver fetches the issuer's keys to check it. */
    private void probe() {
        long now = Instant.now().getEpochSecond();
        ObjectNode header = JSON.createObjectNode().put("alg", "RS256").put("typ", "JWT").put("kid", "dexauth-health-probe");
        ObjectNode claims = JSON.createObjectNode().put("iss", cfg.issuer().toString())
                .put("aud", cfg.audienceClientId()).put("sub", "dexauth-health-probe").put("iat", now).put("exp", now + 300);
        byte[] signature = new byte[256];
        new SecureRandom().nextBytes(signature);
        Base64.Encoder b64 = Base64.getUrlEncoder().withoutPadding();
        String token = b64.encodeToString(header.toString().getBytes(StandardCharsets.UTF_8)) + "."
                + b64.encodeToString(claims.toString().getBytes(StandardCharsets.UTF_8)) + "." + b64.encodeToString(signature);
        try {
            kube.resource(new TokenReviewBuilder().withNewSpec().withToken(token).endSpec().build()).create();
        } catch (RuntimeException e) {
            // the fetch it triggers is what counts, read from the metrics
        }
    }

    private String raw(String path) {
        try {
            return kube.raw(path);
        } catch (RuntimeException e) {
            return null;
        }
    }

    /** The largest value of a metric among the series whose labels contain all of {@code labels}; 0 when none. */
    static double metric(String metrics, String name, String... labels) {
        double best = 0;
        for (String line : metrics.split("\n")) {
            if (!line.startsWith(name + "{") && !line.startsWith(name + " ")) continue;
            boolean all = true;
            for (String label : labels) all &= label.isEmpty() || line.contains(label);
            if (!all) continue;
            try {
                best = Math.max(best, Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1).trim()));
            } catch (NumberFormatException e) {
                // not a sample line
            }
        }
        return best;
    }

    static String sha256(String text) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
