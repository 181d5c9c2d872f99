package dexauth.kubectl;

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

/**
 * Dex as the public kubectl client sees it: discovery, the four ways to get tokens (password,
 * refresh, device code, authorization code with PKCE) and the ID token's verification against
 * Dex's keys. Every token is verified (signature, iss, aud, exp, nonce) before it is returned.
 */
final class DexClient {
    private static final int TIMEOUT_MS = 30_000;

    /** A verified login. */
    record Tokens(String idToken, String refreshToken, IDTokenClaimsSet claims) {
        TokenCache.Entry entry() {
            long exp = claims.getExpirationTime().toInstant().getEpochSecond();
            long iat = claims.getIssueTime() == null ? exp : claims.getIssueTime().toInstant().getEpochSecond();
            String email = claims.getStringClaim("email");
            return new TokenCache.Entry(idToken, refreshToken, exp, TokenCache.Entry.refreshAt(iat, exp),
                    email != null ? email : claims.getSubject().getValue());
        }
    }

    /** A started device flow: what the person must open and type. */
    record DeviceLogin(DeviceAuthorizationSuccessResponse response, Instant deadline) {
        URI verificationUri() { return response.getVerificationURI(); }
        URI verificationUriComplete() { return response.getVerificationURIComplete(); }
        String userCode() { return response.getUserCode().getValue(); }
    }

    private final LoginSettings settings;
    private final SSLSocketFactory tls;
    private final OIDCProviderMetadata metadata;
    private JWKSet keys;

    private DexClient(LoginSettings settings, SSLSocketFactory tls, OIDCProviderMetadata metadata) {
        this.settings = settings;
        this.tls = tls;
        this.metadata = metadata;
    }

    /** Reads Dex's discovery document, trusting only the settings' CA. */
    static DexClient discover(LoginSettings settings) {
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
    boolean offersOnlyLocalUsers() {
        URI probe = new AuthenticationRequest.Builder(ResponseType.CODE, new Scope("openid"), client(),
                URI.create("http://127.0.0.1/callback")).endpointURI(metadata.getAuthorizationEndpointURI())
                .state(new State()).build().toURI();
        HTTPResponse r = send(get(probe), tls, "Dex's login page");
        String location = r.getHeaderValue("Location");
        return r.getStatusCode() / 100 == 3 && location != null
                && URI.create(settings.issuer().toString()).resolve(location).getPath()
                .equals(settings.issuer().getPath() + "/auth/local");
    }

    Tokens password(String username, char[] password) {
        return token(new ResourceOwnerPasswordCredentialsGrant(username, new Secret(new String(password))), scope(),
                "the login of " + username);
    }

    /** Refused when Dex no longer honours the refresh token (revoked, expired, user deleted). */
    Tokens refresh(String refreshToken) {
        // No scope: Dex keeps the login's own (narrowing is all a refresh may do anyway).
        return token(new RefreshTokenGrant(new RefreshToken(refreshToken)), null, "the refresh token");
    }

    DeviceLogin startDevice() {
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
    Tokens awaitDevice(DeviceLogin login) {
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

    /** Authorization code with PKCE through a browser and a loopback redirect. */
    Tokens browser(LoopbackReceiver receiver, java.util.function.Consumer<URI> show, Duration timeout) {
        CodeVerifier verifier = new CodeVerifier();
        State state = new State();
        Nonce nonce = new Nonce();
        URI redirect = receiver.redirectUri();
        URI url = new AuthenticationRequest.Builder(ResponseType.CODE, scope(), client(), redirect)
                .endpointURI(metadata.getAuthorizationEndpointURI()).state(state).nonce(nonce)
                .codeChallenge(verifier, CodeChallengeMethod.S256).build().toURI();
        show.accept(url);
        AuthorizationCode code = receiver.await(state, timeout);
        TokenResponse r = exchange(new AuthorizationCodeGrant(code, redirect, verifier));
        if (!r.indicatesSuccess()) {
            throw new Unauthenticated("Dex refused the login: " + describe(((TokenErrorResponse) r).getErrorObject()));
        }
        return verified((OIDCTokenResponse) r.toSuccessResponse(), nonce);
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
        HTTPRequest req = new TokenRequest(metadata.getTokenEndpointURI(), client(), grant, scope).toHTTPRequest();
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
            JWT jwt = JWTParser.parse(idToken);
            JWSAlgorithm alg = (JWSAlgorithm) jwt.getHeader().getAlgorithm();
            if (metadata.getIDTokenJWSAlgs() != null && !metadata.getIDTokenJWSAlgs().contains(alg)) {
                throw new Unavailable(Unavailable.Dependency.DEX, "the ID token is signed with " + alg + ", which Dex does not announce", null);
            }
            IDTokenClaimsSet claims = new IDTokenValidator(new Issuer(settings.issuer()), client(), alg, keys())
                    .validate(jwt, nonce);
            String audience = settings.audience();
            if (audience != null && !claims.getAudience().contains(new Audience(audience))) {
                throw new Unavailable(Unavailable.Dependency.DEX, "the ID token is not for " + audience
                        + " (is the kubectl client a trusted peer of it in Dex?)", null);
            }
            return new Tokens(idToken, refresh == null ? null : refresh.getValue(), claims);
        } catch (java.text.ParseException | com.nimbusds.jose.proc.BadJOSEException | com.nimbusds.jose.JOSEException e) {
            throw new Unavailable(Unavailable.Dependency.DEX, "the ID token from Dex failed verification: " + e.getMessage(), e);
        }
    }

    private JWKSet keys() {
        if (keys == null) {
            HTTPResponse r = send(get(metadata.getJWKSetURI()), tls, "Dex's signing keys");
            try {
                keys = JWKSet.parse(r.getBody());
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
