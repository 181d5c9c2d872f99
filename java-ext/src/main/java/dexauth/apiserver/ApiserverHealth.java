package dexauth.apiserver;

import dexauth.config.DeploymentConfig;
import dexauth.dex.PasswordHasher;
import dexauth.errors.DomainException;
import dexauth.errors.Unauthenticated;
import dexauth.kubectl.LoginSettings;
import dexauth.loginguard.AccountKey;
import dexauth.loginguard.Lockouts;
import dexauth.oidc.DexClient;
import dexauth.users.ProbeAccount;
import io.fabric8.kubernetes.api.model.authentication.TokenReview;
import io.fabric8.kubernetes.api.model.authentication.TokenReviewBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;

/**
 * Is one node's kube-apiserver healthy after its authentication changed? In this order: it answers
 * /readyz; it runs the new process (when the manifest changed); it runs the new authentication
 * configuration (its {@code last_config_info} hash is the file's); and it accepts a real Dex token:
 * the reserved probe account ({@link ProbeAccount}) logs in with Dex's password grant at the issuer,
 * exactly as a user's kubectl does, and a TokenReview of that ID token on this node must authenticate
 * it as {@code oidc:<probe email>}, which proves the keys, the issuer, the audience, the claim
 * mappings and the validation rules at once.
 */
public final class ApiserverHealth {
    private static final String CONFIG_INFO = "apiserver_authentication_config_controller_last_config_info";
    private static final String RELOAD = "apiserver_authentication_config_controller_automatic_reload_last_timestamp_seconds";
    private static final String JWKS_FETCH = "apiserver_authentication_jwt_authenticator_jwks_fetch_last_timestamp_seconds";
    private static final String REFUSED = "kube-apiserver refused the new authentication configuration ";
    /** A problem no wait mends (the stored probe password is wrong, a token refused for good): no more retries. */
    private static final String FINAL = "final: ";
    /** How often Dex is asked for a token while it does not give one (each ask is a login). */
    private static final Duration TOKEN_RETRY = Duration.ofSeconds(5);
    private static final int MAX_REFUSALS = 3;
    /** How long a token may stay refused although kube-apiserver fetched keys again meanwhile. */
    private static final Duration PERSISTENT_REFUSAL = Duration.ofSeconds(15);
    /** What the audit trail names as who unlocked the probe account. */
    static final String ACTOR = "kube-apiserver health check";
    private static final String NO_TOKEN = "no token from Dex for the probe account ";

    private final KubernetesClient kube;
    private final DeploymentConfig cfg;
    private final String dexCa;
    private DexClient.Tokens token;
    private Instant nextTokenAttempt = Instant.MIN;
    private String tokenProblem;
    private int refusals;
    private Instant firstRefusal;
    private String accepted;

    /** {@code kube}: this node's kube-apiserver as a cluster admin; {@code dexCa}: the CA of Dex's HTTPS. */
    public ApiserverHealth(KubernetesClient kube, DeploymentConfig cfg, String dexCa) {
        this.kube = kube;
        this.cfg = cfg;
        this.dexCa = dexCa;
    }

    /** What the last successful check proved, for the state's report. */
    public String accepted() { return accepted; }

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
            if (problem.startsWith(FINAL)) return Optional.of(problem.substring(FINAL.length()));
            if (Instant.now().isAfter(deadline)) return Optional.of(problem + " (waited " + timeout.toSeconds() + " s)");
            Thread.sleep(1000);
        }
    }

    /**
     * Waits until the node runs {@code writtenConfig} (no token is checked: for a configuration that
     * trusts no issuer); empty when it does, else what was still wrong at the deadline.
     */
    public Optional<String> awaitLoaded(Instant since, String writtenConfig, Duration timeout) throws InterruptedException {
        Instant deadline = Instant.now().plus(timeout);
        while (true) {
            String problem = loadProblem(since, false, writtenConfig);
            if (problem == null) return Optional.empty();
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
        String notLoaded = loadProblem(since, restarted, writtenConfig);
        if (notLoaded != null) return notLoaded;
        String review = tokenReview();
        if (review == null) return null;
        if (review.startsWith(FINAL) || review.startsWith(NO_TOKEN)) return review;
        String issuerHash = "jwt_issuer_hash=\"sha256:" + sha256(cfg.issuer().toString()) + "\"";
        // The review made kube-apiserver fetch Dex's keys if it could: whether it did tells the likelier cause.
        String metrics = raw("/metrics");
        if (!cfg.structuredAuthentication() || metrics == null) return review;
        double fetched = metric(metrics, JWKS_FETCH, issuerHash, "result=\"success\"");
        if (fetched < since.getEpochSecond()) {
            return "kube-apiserver could not fetch Dex's keys for issuer " + cfg.issuer()
                    + " (discovery or keys unreachable from this node, or not signed by Dex's CA): " + review;
        }
        // Keys fetched again after the refusals began and the token still refused: the keys are not
        // Dex's, or a rule refuses its tokens; no wait mends that, so the node is rolled back now.
        Instant now = Instant.now();
        if (firstRefusal == null) firstRefusal = now;
        else if (fetched > firstRefusal.getEpochSecond() && !now.isBefore(firstRefusal.plus(PERSISTENT_REFUSAL))) {
            return FINAL + review;
        }
        return review;
    }

    /**
     * Null when the node answers /readyz and runs {@code writtenConfig} (when not null), in a process
     * started after {@code since} when {@code restarted}; else what is wrong.
     */
    private String loadProblem(Instant since, boolean restarted, String writtenConfig) {
        String url = kube.getConfiguration().getMasterUrl();
        if (!"ok".equals(raw("/readyz"))) return "kube-apiserver at " + url + " is not ready (/readyz)";
        String metrics = raw("/metrics");
        if (metrics == null) return "kube-apiserver at " + url + " does not answer /metrics";
        if (restarted && metric(metrics, "process_start_time_seconds", "") < since.getEpochSecond()) {
            return "kube-apiserver at " + url + " still runs the process from before the manifest changed";
        }
        if (writtenConfig == null) return null;
        String hash = "hash=\"sha256:" + sha256(writtenConfig) + "\"";
        if (metrics.lines().anyMatch(l -> l.startsWith(CONFIG_INFO + "{") && l.contains(hash))) return null;
        return metric(metrics, RELOAD, "status=\"failure\"") >= since.getEpochSecond()
                ? REFUSED + cfg.authenticationConfig() + " (its automatic reload failed; kube-apiserver's log says why)"
                : "kube-apiserver has not loaded the new authentication configuration " + cfg.authenticationConfig();
    }

    /**
     * Null when this node accepted a Dex token of the probe account as {@code oidc:<probe email>};
     * otherwise what failed: no token from Dex, or kube-apiserver's refusal (the TokenReview's error).
     */
    private String tokenReview() {
        String url = kube.getConfiguration().getMasterUrl();
        if (token == null || token.expiresAt().isBefore(Instant.now().plusSeconds(30))) {
            token = null;
            if (Instant.now().isBefore(nextTokenAttempt)) return tokenProblem;
            nextTokenAttempt = Instant.now().plus(TOKEN_RETRY);
            try {
                token = probeToken();
            } catch (Unauthenticated e) {
                // Refused thrice (a lock set again between the unlock and the login would be once): the stored
                // password is not Dex's, no wait mends it, and each retry would be one more failure for the guard.
                tokenProblem = NO_TOKEN + ProbeAccount.EMAIL + " (" + e.getMessage()
                        + "): re-apply dexauth.deployed on the bootstrap node, which sets its password again";
                return ++refusals >= MAX_REFUSALS ? FINAL + tokenProblem : tokenProblem;
            } catch (DomainException | io.fabric8.kubernetes.client.KubernetesClientException e) {
                tokenProblem = NO_TOKEN + ProbeAccount.EMAIL + " at " + cfg.issuer() + ": " + dexauth.errors.Causes.messages(e);
                return tokenProblem;
            }
        }
        String expected = "oidc:" + ProbeAccount.EMAIL;
        TokenReview r;
        try {
            r = kube.resource(new TokenReviewBuilder().withNewSpec().withToken(token.idToken()).endSpec().build()).create();
        } catch (RuntimeException e) {
            return "kube-apiserver at " + url + " did not answer a TokenReview: " + dexauth.errors.Causes.messages(e);
        }
        var status = r == null ? null : r.getStatus();
        String outcome = verdict(status == null ? null : status.getAuthenticated(),
                status == null || status.getUser() == null ? null : status.getUser().getUsername(),
                status == null ? null : status.getError(), expected);
        if (outcome == null) {
            accepted = "kube-apiserver at " + url + " accepted a Dex token of the probe account as " + expected;
            return null;
        }
        return "kube-apiserver at " + url + " " + outcome;
    }

    /** Null when the review authenticated the expected user; else what kube-apiserver did with the token. */
    static String verdict(Boolean authenticated, String username, String error, String expected) {
        if (Boolean.TRUE.equals(authenticated) && expected.equals(username)) return null;
        if (Boolean.TRUE.equals(authenticated)) {
            return "accepted Dex's token of the probe account as '" + username + "', not '" + expected
                    + "' (the username mapping differs)";
        }
        return "refused Dex's token of the probe account (TokenReview: "
                + (error == null || error.isBlank() ? "not authenticated, no error given" : error) + ")";
    }

    /**
     * A Dex ID token of the probe account, as kubectl gets one: the password grant of the CLI client
     * with the apiserver's audience. Its lockout is ended first: anyone may lock an account by
     * failing to log in, and that must never block a kube-apiserver change.
     */
    private DexClient.Tokens probeToken() {
        char[] password = ProbeAccount.password(kube, cfg.namespace()).orElseThrow(() -> new Unauthenticated(
                "secret/" + cfg.namespace() + "/" + ProbeAccount.SECRET + " holds no password"));
        try {
            Lockouts.unlock(kube, cfg.namespace(), AccountKey.local(ProbeAccount.EMAIL), ACTOR);
            DexClient dex = DexClient.discover(new DexClient.Client(cfg.issuer(), dexCa, cfg.cliClientId(), null,
                    List.of("openid", "email", "profile", "federated:id",
                            LoginSettings.AUDIENCE_SCOPE + cfg.audienceClientId()), cfg.audienceClientId()));
            return dex.password(ProbeAccount.EMAIL, password);
        } finally {
            PasswordHasher.wipe(password);
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
