package dexauth.oidc;

import dexauth.errors.Invalid;
import dexauth.errors.Unauthenticated;
import dexauth.errors.Unavailable;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jwt.JWT;
import com.nimbusds.jwt.JWTParser;
import com.nimbusds.oauth2.sdk.AuthorizationCode;
import com.nimbusds.oauth2.sdk.AuthorizationCodeGrant;
import com.nimbusds.oauth2.sdk.AuthorizationGrant;
import com.nimbusds.oauth2.sdk.ErrorObject;
import com.nimbusds.oauth2.sdk.ResourceOwnerPasswordCredentialsGrant;
import com.nimbusds.oauth2.sdk.ResponseType;
import com.nimbusds.oauth2.sdk.Scope;
import com.nimbusds.oauth2.sdk.TokenErrorResponse;
import com.nimbusds.oauth2.sdk.TokenRequest;
import com.nimbusds.oauth2.sdk.TokenResponse;
import com.nimbusds.oauth2.sdk.RefreshTokenGrant;
import com.nimbusds.oauth2.sdk.auth.ClientAuthentication;
import com.nimbusds.oauth2.sdk.auth.ClientSecretBasic;
import com.nimbusds.oauth2.sdk.auth.Secret;
import com.nimbusds.oauth2.sdk.device.DeviceAuthorizationErrorResponse;
import com.nimbusds.oauth2.sdk.device.DeviceAuthorizationRequest;
import com.nimbusds.oauth2.sdk.device.DeviceAuthorizationResponse;
import com.nimbusds.oauth2.sdk.device.DeviceAuthorizationSuccessResponse;
import com.nimbusds.oauth2.sdk.device.DeviceCodeGrant;
import com.nimbusds.oauth2.sdk.http.HTTPRequest;
import com.nimbusds.oauth2.sdk.http.HTTPResponse;
import com.nimbusds.oauth2.sdk.id.ClientID;
import com.nimbusds.oauth2.sdk.id.Issuer;
import com.nimbusds.oauth2.sdk.id.State;
import com.nimbusds.oauth2.sdk.pkce.CodeChallengeMethod;
import com.nimbusds.oauth2.sdk.pkce.CodeVerifier;
import com.nimbusds.oauth2.sdk.token.RefreshToken;
import com.nimbusds.openid.connect.sdk.AuthenticationRequest;
import com.nimbusds.openid.connect.sdk.Nonce;
import com.nimbusds.openid.connect.sdk.OIDCTokenResponse;
import com.nimbusds.openid.connect.sdk.OIDCTokenResponseParser;
import com.nimbusds.openid.connect.sdk.claims.IDTokenClaimsSet;
import com.nimbusds.openid.connect.sdk.op.OIDCProviderMetadata;
import com.nimbusds.openid.connect.sdk.validators.IDTokenValidator;
import com.nimbusds.oauth2.sdk.id.Audience;
import dexauth.pki.TrustStores;

import javax.net.ssl.SSLSocketFactory;
import java.io.IOException;
import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Set;

/**
 * Dex as one of its clients sees it: discovery, the ways to get tokens (password, refresh,
 * device code, authorization code with PKCE) and the ID token's verification against Dex's
 * keys. Every token is verified (signature, iss, aud, exp, nonce) before it is returned.
 * Shared by kubectl's exec plugin (public client) and the account service (confidential).
 */
public final class DexClient {
    private static final int TIMEOUT_MS = 30_000;

    /**
     * Who we are at Dex. {@code clientSecret} is null for a public client; {@code audience}, when
     * set, is the other client (kube-apiserver's) whose audience every ID token must carry too.
     */
    public record Client(URI issuer, String caPem, String clientId, String clientSecret, List<String> scopes,
                         String audience) {
        @Override
        public String toString() { // never the secret
            return "Client[" + clientId + " at " + issuer + "]";
        }
    }

    /** A verified login. */
    public record Tokens(String idToken, String refreshToken, IDTokenClaimsSet claims) {
        public Instant expiresAt() { return claims.getExpirationTime().toInstant(); }

        public Instant issuedAt() { return claims.getIssueTime() == null ? expiresAt() : claims.getIssueTime().toInstant(); }

        /** The person's login name: the email claim (Dex always sets it for local users), else the subject. */
        public String email() {
            String email = claims.getStringClaim("email");
            return email != null ? email : claims.getSubject().getValue();
        }
    }

    /** A started device flow: what the person must open and type. */
    public record DeviceLogin(DeviceAuthorizationSuccessResponse response, Instant deadline) {
        public URI verificationUri() { return response.getVerificationURI(); }
        public URI verificationUriComplete() { return response.getVerificationURIComplete(); }
        public String userCode() { return response.getUserCode().getValue(); }
    }

    /** A started authorization-code login: the URL to send the browser to, and what its answer must match. */
    public record AuthRequest(URI url, URI redirect, State state, Nonce nonce, CodeVerifier verifier) {}

    private final Client settings;
    private final SSLSocketFactory tls;
    private final OIDCProviderMetadata metadata;
    private volatile JWKSet keys;

    private DexClient(Client settings, SSLSocketFactory tls, OIDCProviderMetadata metadata) {
        this.settings = settings;
        this.tls = tls;
        this.metadata = metadata;
    }

    /** Reads Dex's discovery document, trusting only the settings' CA. */
    public static DexClient discover(Client settings) {
        SSLSocketFactory tls;
        try {
            tls = TrustStores.trustingPem(settings.caPem()).getSocketFactory();
        } catch (IOException e) {
            throw new Invalid("issuer CA", "cannot be used: " + e.getMessage());
        }
        URI discovery = URI.create(settings.issuer() + "/.well-known/openid-configuration");
        HTTPResponse r = send(get(discovery), tls, "Dex's discovery document");
        if (r.getStatusCode() != 200) {
            throw new Unavailable(Unavailable.Dependency.DEX, "Dex's discovery document " + discovery + " answered HTTP "
                    + r.getStatusCode(), null);
        }
        try {
            OIDCProviderMetadata m = OIDCProviderMetadata.parse(r.getBody());
            if (!m.getIssuer().getValue().equals(settings.issuer().toString())) {
                throw new Unavailable(Unavailable.Dependency.DEX, "Dex at " + discovery + " names itself " + m.getIssuer()
                        + ", not the configured issuer " + settings.issuer(), null);
            }
            return new DexClient(settings, tls, m);
        } catch (com.nimbusds.oauth2.sdk.ParseException e) {
            throw new Unavailable(Unavailable.Dependency.DEX, "Dex's discovery document is malformed: " + e.getMessage(), e);
        }
    }

    private static HTTPRequest get(URI uri) {
        return new HTTPRequest(HTTPRequest.Method.GET, uri);
    }

    private static HTTPResponse send(HTTPRequest req, SSLSocketFactory tls, String what) {
        req.setSSLSocketFactory(tls);
        req.setConnectTimeout(TIMEOUT_MS);
        req.setReadTimeout(TIMEOUT_MS);
        req.setFollowRedirects(false);
        try {
            return req.send();
        } catch (IOException e) {
            throw new Unavailable(Unavailable.Dependency.DEX, "cannot reach " + what + " at " + req.getURI() + ": " + e.getMessage(), e);
        }
    }

    private ClientID client() { return new ClientID(settings.clientId()); }

    private Scope scope() { return new Scope(settings.scopes().toArray(String[]::new)); }

    /** True when Dex's login page goes straight to its local users (no upstream IdP to choose). */
    public boolean offersOnlyLocalUsers() {
        URI probe = new AuthenticationRequest.Builder(ResponseType.CODE, new Scope("openid"), client(),
                URI.create("http://127.0.0.1/callback")).endpointURI(metadata.getAuthorizationEndpointURI())
                .state(new State()).build().toURI();
        HTTPResponse r = send(get(probe), tls, "Dex's login page");
        String location = r.getHeaderValue("Location");
        return r.getStatusCode() / 100 == 3 && location != null
                && URI.create(settings.issuer().toString()).resolve(location).getPath()
                .equals(settings.issuer().getPath() + "/auth/local");
    }

    public Tokens password(String username, char[] password) {
        return token(new ResourceOwnerPasswordCredentialsGrant(username, new Secret(new String(password))), scope(),
                "the login of " + username);
    }

    /** Refused when Dex no longer honours the refresh token (revoked, expired, user deleted). */
    public Tokens refresh(String refreshToken) {
        // No scope: Dex keeps the login's own (narrowing is all a refresh may do anyway).
        return token(new RefreshTokenGrant(new RefreshToken(refreshToken)), null, "the refresh token");
    }

    public DeviceLogin startDevice() {
        URI endpoint = metadata.getDeviceAuthorizationEndpointURI();
        if (endpoint == null) throw new Unavailable(Unavailable.Dependency.DEX, "Dex does not offer the device flow", null);
        HTTPRequest req = new DeviceAuthorizationRequest(endpoint, client(), scope()).toHTTPRequest();
        try {
            DeviceAuthorizationResponse r = DeviceAuthorizationResponse.parse(send(req, tls, "Dex's device endpoint"));
            if (!r.indicatesSuccess()) {
                ErrorObject e = ((DeviceAuthorizationErrorResponse) r).getErrorObject();
                throw new Unauthenticated("Dex refused the device login: " + describe(e));
            }
            DeviceAuthorizationSuccessResponse ok = r.toSuccessResponse();
            return new DeviceLogin(ok, Instant.now().plusSeconds(ok.getLifetime()));
        } catch (com.nimbusds.oauth2.sdk.ParseException e) {
            throw new Unavailable(Unavailable.Dependency.DEX, "Dex's device endpoint answered something unexpected: " + e.getMessage(), e);
        }
    }

    /** Polls until the person completed (or refused) the login, or the code expired. */
    public Tokens awaitDevice(DeviceLogin login) {
        long interval = Math.max(1, login.response().getInterval());
        AuthorizationGrant grant = new DeviceCodeGrant(login.response().getDeviceCode());
        while (Instant.now().isBefore(login.deadline())) {
            sleep(Duration.ofSeconds(interval));
            TokenResponse r = exchange(grant);
            if (r.indicatesSuccess()) return verified((OIDCTokenResponse) r.toSuccessResponse(), null);
            String code = ((TokenErrorResponse) r).getErrorObject().getCode();
            if ("slow_down".equals(code)) interval += 5;
            else if (!"authorization_pending".equals(code)) {
                throw new Unauthenticated("the device login ended: " + describe(((TokenErrorResponse) r).getErrorObject()));
            }
        }
        throw new Unauthenticated("the device code expired before the login was completed");
    }

    /** Starts an authorization-code login with PKCE (S256), state and nonce, answered at {@code redirect}. */
    public AuthRequest authorization(URI redirect) {
        CodeVerifier verifier = new CodeVerifier();
        State state = new State();
        Nonce nonce = new Nonce();
        URI url = new AuthenticationRequest.Builder(ResponseType.CODE, scope(), client(), redirect)
                .endpointURI(metadata.getAuthorizationEndpointURI()).state(state).nonce(nonce)
                .codeChallenge(verifier, CodeChallengeMethod.S256).build().toURI();
        return new AuthRequest(url, redirect, state, nonce, verifier);
    }

    /** Exchanges the code the browser brought back (its state already checked by the caller). */
    public Tokens redeem(AuthRequest request, AuthorizationCode code) {
        TokenResponse r = exchange(new AuthorizationCodeGrant(code, request.redirect(), request.verifier()), null);
        if (!r.indicatesSuccess()) {
            throw new Unauthenticated("Dex refused the login: " + describe(((TokenErrorResponse) r).getErrorObject()));
        }
        return verified((OIDCTokenResponse) r.toSuccessResponse(), request.nonce());
    }

    /**
     * Verifies an ID token someone presents as a bearer token: Dex signed it, for kube-apiserver's
     * audience (what kubectl sends), issued to one of {@code clients}, not expired.
     */
    public IDTokenClaimsSet verifyBearer(String idToken, Set<String> clients) {
        try {
            JWT jwt = JWTParser.parse(idToken);
            Object azp = jwt.getJWTClaimsSet().getClaim("azp");
            List<String> aud = jwt.getJWTClaimsSet().getAudience();
            String issuedTo = azp instanceof String s ? s : aud.size() == 1 ? aud.get(0) : null;
            if (issuedTo == null || !clients.contains(issuedTo)) {
                throw new Unauthenticated("the token was not issued to a client this service accepts");
            }
            return validate(jwt, new ClientID(issuedTo), null);
        } catch (java.text.ParseException e) {
            throw new Unauthenticated("the token is not a JWT");
        } catch (Unavailable e) {
            throw new Unauthenticated("the token failed verification");
        }
    }

    private Tokens token(AuthorizationGrant grant, Scope scope, String what) {
        TokenResponse r = exchange(grant, scope);
        if (!r.indicatesSuccess()) {
            ErrorObject e = ((TokenErrorResponse) r).getErrorObject();
            boolean badCredentials = grant instanceof ResourceOwnerPasswordCredentialsGrant
                    && ("invalid_grant".equals(e.getCode()) || "access_denied".equals(e.getCode())
                    || e.getHTTPStatusCode() == 401);
            throw new Unauthenticated("Dex refused " + what + ": " + (badCredentials ? "wrong email or password" : describe(e)));
        }
        return verified((OIDCTokenResponse) r.toSuccessResponse(), null);
    }

    private TokenResponse exchange(AuthorizationGrant grant) {
        return exchange(grant, null);
    }

    private TokenResponse exchange(AuthorizationGrant grant, Scope scope) {
        ClientAuthentication auth = settings.clientSecret() == null ? null
                : new ClientSecretBasic(client(), new Secret(settings.clientSecret()));
        HTTPRequest req = (auth == null ? new TokenRequest(metadata.getTokenEndpointURI(), client(), grant, scope)
                : new TokenRequest(metadata.getTokenEndpointURI(), auth, grant, scope)).toHTTPRequest();
        HTTPResponse resp = send(req, tls, "Dex's token endpoint");
        try {
            return OIDCTokenResponseParser.parse(resp);
        } catch (com.nimbusds.oauth2.sdk.ParseException e) {
            throw new Unavailable(Unavailable.Dependency.DEX, "Dex's token endpoint answered HTTP " + resp.getStatusCode()
                    + " with something unexpected: " + e.getMessage(), e);
        }
    }

    private Tokens verified(OIDCTokenResponse r, Nonce nonce) {
        String idToken = r.getOIDCTokens().getIDTokenString();
        if (idToken == null) throw new Unavailable(Unavailable.Dependency.DEX, "Dex returned no ID token", null);
        RefreshToken refresh = r.getOIDCTokens().getRefreshToken();
        try {
            IDTokenClaimsSet claims = validate(JWTParser.parse(idToken), client(), nonce);
            return new Tokens(idToken, refresh == null ? null : refresh.getValue(), claims);
        } catch (java.text.ParseException e) {
            throw new Unavailable(Unavailable.Dependency.DEX, "the ID token from Dex is not a JWT: " + e.getMessage(), e);
        }
    }

    /** Signature (keys reloaded once when Dex rotated them), iss, aud, exp, nonce; then the apiserver's audience. */
    private IDTokenClaimsSet validate(JWT jwt, ClientID expectedClient, Nonce nonce) {
        JWSAlgorithm alg = (JWSAlgorithm) jwt.getHeader().getAlgorithm();
        if (metadata.getIDTokenJWSAlgs() != null && !metadata.getIDTokenJWSAlgs().contains(alg)) {
            throw new Unavailable(Unavailable.Dependency.DEX, "the ID token is signed with " + alg + ", which Dex does not announce", null);
        }
        IDTokenClaimsSet claims;
        try {
            claims = validator(expectedClient, alg, keys()).validate(jwt, nonce);
        } catch (com.nimbusds.jose.proc.BadJOSEException | com.nimbusds.jose.JOSEException first) {
            keys = null; // Dex may have rotated its signing keys since we read them
            try {
                claims = validator(expectedClient, alg, keys()).validate(jwt, nonce);
            } catch (com.nimbusds.jose.proc.BadJOSEException | com.nimbusds.jose.JOSEException e) {
                throw new Unavailable(Unavailable.Dependency.DEX, "the ID token from Dex failed verification: " + e.getMessage(), e);
            }
        }
        String audience = settings.audience();
        if (audience != null && !claims.getAudience().contains(new Audience(audience))) {
            throw new Unavailable(Unavailable.Dependency.DEX, "the ID token is not for " + audience
                    + " (is " + expectedClient + " a trusted peer of it in Dex?)", null);
        }
        return claims;
    }

    private IDTokenValidator validator(ClientID expectedClient, JWSAlgorithm alg, JWKSet set) {
        return new IDTokenValidator(new Issuer(settings.issuer()), expectedClient, alg, set);
    }

    private JWKSet keys() {
        JWKSet keys = this.keys;
        if (keys == null) {
            HTTPResponse r = send(get(metadata.getJWKSetURI()), tls, "Dex's signing keys");
            try {
                keys = JWKSet.parse(r.getBody());
                this.keys = keys;
            } catch (java.text.ParseException e) {
                throw new Unavailable(Unavailable.Dependency.DEX, "Dex's signing keys are malformed: " + e.getMessage(), e);
            }
        }
        return keys;
    }

    private static String describe(ErrorObject e) {
        String d = e.getDescription();
        return (e.getCode() == null ? "HTTP " + e.getHTTPStatusCode() : e.getCode()) + (d == null || d.isBlank() ? "" : " (" + d + ")");
    }

    private static void sleep(Duration d) {
        try {
            Thread.sleep(d.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new Unauthenticated("the login was interrupted");
        }
    }
}
