package dexauth.kubectl;

import dexauth.errors.Invalid;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;

/**
 * Everything a workstation needs to log in to one cluster's Dex: what a kubeconfig's exec entry
 * carries. Nothing here is secret (the CA is public); tokens live only in the {@link TokenCache}.
 *
 * @param issuer   Dex's issuer URL, exactly as tokens carry it in {@code iss}
 * @param caPem    the CA that signed Dex's HTTPS certificate (PEM)
 * @param clientId Dex's public client for kubectl
 * @param scopes   requested scopes, including {@code audience:server:client_id:<apiserver client>}
 * @param username the login name to prefill, or null (part of the cache key: one cache per user)
 * @param mode     how to log in when no token can be used or refreshed
 */
public record LoginSettings(URI issuer, String caPem, String clientId, List<String> scopes, String username,
                            LoginMode mode) {
    /** Scope prefix that asks Dex for a token whose audience is another (trusting) client. */
    public static final String AUDIENCE_SCOPE = "audience:server:client_id:";

    /** The scopes the kubectl client asks for: refresh tokens, groups, and the apiserver's audience. */
    public static List<String> defaultScopes(String apiserverClientId) {
        return List.of("openid", "email", "profile", "groups", "offline_access", "federated:id",
                AUDIENCE_SCOPE + apiserverClientId);
    }

    public LoginSettings {
        if (issuer == null || !"https".equals(issuer.getScheme()) || issuer.getHost() == null) {
            throw new Invalid("issuer", "'" + issuer + "' is not an https:// URL");
        }
        if (clientId == null || clientId.isBlank()) throw new Invalid("client id", "is empty");
        if (scopes == null || !scopes.contains("openid")) {
            throw new Invalid("scopes", "must include openid");
        }
        if (caPem == null || !caPem.contains("BEGIN CERTIFICATE")) {
            throw new Invalid("issuer CA", "holds no PEM certificate");
        }
        scopes = List.copyOf(scopes);
        if (username != null && username.isBlank()) username = null;
        if (mode == null) mode = LoginMode.AUTO;
    }

    /** The client the ID token must be for besides ours (kube-apiserver's), or null. */
    public String audience() {
        return scopes.stream().filter(s -> s.startsWith(AUDIENCE_SCOPE)).map(s -> s.substring(AUDIENCE_SCOPE.length()))
                .findFirst().orElse(null);
    }

    /** This login as a client of Dex (kubectl's is public: no secret). */
    public dexauth.oidc.DexClient.Client client() {
        return new dexauth.oidc.DexClient.Client(issuer, caPem, clientId, null, scopes, audience());
    }

    /** Cache file name: one per issuer, client, scopes and user, without revealing any of them. */
    public String cacheKey() {
        return cacheKey(issuer.toString(), clientId, String.join(" ", scopes), username);
    }

    /** Shared with {@link CachedCredential}, which must find the same file without building this record. */
    public static String cacheKey(String issuer, String clientId, String scopes, String username) {
        String identity = String.join("\n", issuer, clientId, scopes, username == null ? "" : username);
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(identity.getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(digest, 0, 16);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this Java runtime", e);
        }
    }
}
