package dexauth.idp;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

/**
 * Checks an OAuth2 IdP (OIDC, GitLab, GitHub): DNS, TCP, TLS trust, then, where the provider
 * publishes one, the discovery document and its issuer. A client secret can only be proven by a
 * real login, which this cannot do.
 */
public final class OAuthProbe {
    private OAuthProbe() {}

    /** Checks the provider at {@code base}; with {@code readDiscovery}, also its OpenID discovery document. */
    public static ProbeReport run(IdpSpec spec, URI base, boolean readDiscovery) {
        ProbeReport r = new ProbeReport();
        var c = spec.config();
        String host = base.getHost();
        int port = base.getPort() > 0 ? base.getPort() : 443;
        if (!NetworkCheck.dns(r, host) || !NetworkCheck.tcp(r, host, port)) return r;
        NetworkCheck.Trust trust = NetworkCheck.trust(r, c);
        if (trust == null || !NetworkCheck.tls(r, host, port, trust)) return r;
        if (!readDiscovery) return r;

        String issuer = base.toString().replaceAll("/$", "");
        URI discovery = URI.create(issuer + "/.well-known/openid-configuration");
        HttpClient http = HttpClient.newBuilder().sslContext(trust.context()).connectTimeout(Duration.ofSeconds(5)).build();
        try {
            HttpResponse<String> res = http.send(HttpRequest.newBuilder(discovery).timeout(Duration.ofSeconds(10)).GET().build(),
                    HttpResponse.BodyHandlers.ofString());
            if (res.statusCode() != 200) {
                r.fail("Discovery", discovery + " answered HTTP " + res.statusCode(),
                        "check the issuer URL: it is the URL before /.well-known/openid-configuration");
                return r;
            }
            JsonNode doc = new ObjectMapper().readTree(res.body());
            String announced = doc.path("issuer").asText();
            if (!announced.equals(issuer) && !announced.equals(issuer + "/")) {
                r.fail("Discovery", "the provider calls itself " + announced + ", not " + issuer,
                        "use exactly " + announced + " as the issuer");
                return r;
            }
            r.pass("Discovery", "issuer " + announced + ", authorization endpoint "
                    + doc.path("authorization_endpoint").asText());
        } catch (IOException e) {
            r.fail("Discovery", "cannot read " + discovery + ": " + dexauth.errors.Causes.messages(e), "check the issuer URL");
            return r;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            r.fail("Discovery", "interrupted", null);
            return r;
        }
        r.note("The client secret is checked by the first login (" + spec.name() + " on the login page).");
        return r;
    }
}
