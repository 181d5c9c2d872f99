package dexauth.account;

import dexauth.chart.Kube;
import dexauth.errors.LoginRequired;
import dexauth.errors.Unauthenticated;
import dexauth.oidc.DexClient;
import dexauth.rbac.Access;
import io.fabric8.kubernetes.client.KubernetesClient;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;

/**
 * A verified person: the claims of an ID token Dex signed, and that token, with which the
 * service asks Kubernetes on the person's behalf. A console login also holds a refresh token
 * and renews the short ID token before it runs out; an API caller's token is used as given.
 */
final class Identity implements AutoCloseable {
    private static final Duration MARGIN = Duration.ofSeconds(60);
    private static final Duration ANSWER_TTL = Duration.ofSeconds(5);

    /** Where the person's requests to Kubernetes go (the in-cluster apiserver and its CA). */
    record Apiserver(String url, String caFile, String caData) {}

    final String email;
    final String name;
    final List<String> groups;
    private final Apiserver apiserver;
    private final DexClient dex;
    private final Clock clock;
    private DexClient.Tokens tokens;
    private KubernetesClient kube;
    private final java.util.Map<String, Answer> answers = new java.util.concurrent.ConcurrentHashMap<>();

    Identity(DexClient.Tokens tokens, Apiserver apiserver, DexClient dex, Clock clock) {
        this.tokens = tokens;
        this.apiserver = apiserver;
        this.dex = dex;
        this.clock = clock;
        this.email = tokens.email().toLowerCase(java.util.Locale.ROOT);
        String n = tokens.claims().getStringClaim("name");
        this.name = n == null ? email : n;
        this.groups = groupsOf(tokens.claims());
    }

    /**
     * The token's groups as {@code <idp>:<group>}, as Kubernetes names them (without {@code oidc:}):
     * a UI given them never takes one IdP's "ops" for another's. None without the connector's name.
     */
    static List<String> groupsOf(com.nimbusds.openid.connect.sdk.claims.IDTokenClaimsSet claims) {
        List<String> g = claims.getStringListClaim("groups");
        Object federated = claims.getClaim("federated_claims");
        Object connector = federated instanceof java.util.Map<?, ?> m ? m.get("connector_id") : null;
        if (g == null || !(connector instanceof String idp) || idp.isEmpty()) return List.of();
        return g.stream().map(group -> idp + ":" + group).toList();
    }

    synchronized Instant expiresAt() { return tokens.expiresAt(); }

    /** The current ID token, renewed with the refresh token when due. */
    synchronized String idToken() {
        if (clock.instant().isAfter(tokens.expiresAt().minus(MARGIN))) {
            if (tokens.refreshToken() == null) throw new LoginRequired("the token has expired: log in again");
            try {
                replace(dex.refresh(tokens.refreshToken()));
            } catch (Unauthenticated ended) {
                throw new LoginRequired("your session has ended (password changed or access revoked): log in again");
            }
        }
        return tokens.idToken();
    }

    /** After a login with fresh tokens (e.g. the new password): later calls use them. */
    synchronized void replace(DexClient.Tokens fresh) {
        tokens = fresh;
        answers.clear(); // e.g. roles that apply since the password change
        if (kube != null) kube.close();
        kube = null;
    }

    /** Kubernetes as this person: every call is decided by Kubernetes on their own identity. */
    synchronized KubernetesClient kube() {
        String token = idToken();
        if (kube == null) kube = Kube.asBearer(apiserver.url(), apiserver.caFile(), apiserver.caData(), token);
        return kube;
    }

    /**
     * Kubernetes' answer to "may this person ...?", remembered for a few seconds: one page asks
     * the same question more than once. A write is decided by Kubernetes itself anyway.
     */
    boolean can(String verb, String group, String resource, String namespace) {
        return can(verb, group, resource, namespace, null);
    }

    boolean can(String verb, String group, String resource, String namespace, String name) {
        String key = verb + " " + group + "/" + resource + "/" + name + " -n " + namespace;
        Answer a = answers.get(key);
        if (a != null && clock.instant().isBefore(a.until())) return a.allowed();
        boolean allowed = Access.can(kube(), verb, group, resource, namespace, name);
        answers.put(key, new Answer(allowed, clock.instant().plus(ANSWER_TTL)));
        return allowed;
    }

    private record Answer(boolean allowed, java.time.Instant until) {}

    @Override
    public synchronized void close() {
        if (kube != null) kube.close();
        kube = null;
    }
}
