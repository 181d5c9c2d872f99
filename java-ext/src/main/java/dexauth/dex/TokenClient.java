package dexauth.dex;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dexauth.errors.Unauthenticated;
import dexauth.errors.Unavailable;

import javax.net.ssl.SSLContext;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Collectors;

/** Dex's token endpoint: the password grant for the CLI's public client. */
public final class TokenClient {
    private final URI issuer;
    private final HttpClient http;

    public TokenClient(URI issuer, SSLContext tls) {
        this.issuer = issuer;
        this.http = HttpClient.newBuilder().sslContext(tls).connectTimeout(Duration.ofSeconds(5)).build();
    }

    /** Tokens of one successful login. */
    public record Tokens(String idToken, String refreshToken, long expiresIn) {}

    /**
     * Password grant; the token's audience includes {@code audienceClientId} (cross-client
     * trust), so kube-apiserver accepts it. Refused credentials are {@link Unauthenticated}; a Dex
     * that cannot be reached or answers otherwise is {@link Unavailable}.
     */
    public Tokens passwordGrant(String clientId, String audienceClientId, String username, char[] password)
            throws InterruptedException {
        Map<String, String> form = new LinkedHashMap<>();
        form.put("grant_type", "password");
        form.put("client_id", clientId);
        form.put("username", username);
        form.put("password", new String(password));
        form.put("scope", "openid email profile groups offline_access federated:id audience:server:client_id:" + audienceClientId);
        String body = form.entrySet().stream()
                .map(e -> e.getKey() + "=" + URLEncoder.encode(e.getValue(), StandardCharsets.UTF_8))
                .collect(Collectors.joining("&"));
        HttpRequest req = HttpRequest.newBuilder(URI.create(issuer + "/token")).timeout(Duration.ofSeconds(30))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build();
        HttpResponse<String> resp;
        JsonNode json;
        try {
            resp = http.send(req, HttpResponse.BodyHandlers.ofString());
            json = new ObjectMapper().readTree(resp.body().isEmpty() ? "{}" : resp.body());
        } catch (IOException e) {
            throw new Unavailable(Unavailable.Dependency.DEX, "Dex's token endpoint " + issuer + "/token: " + e.getMessage(), e);
        }
        if (resp.statusCode() != 200) {
            String error = json.path("error").asText("http " + resp.statusCode());
            if ("invalid_grant".equals(error) || "access_denied".equals(error) || resp.statusCode() == 401) {
                throw new Unauthenticated("Dex refused the login for " + username + ": wrong email or password");
            }
            throw new Unavailable(Unavailable.Dependency.DEX, "Dex token endpoint answered " + resp.statusCode() + ": "
                    + error + " " + json.path("error_description").asText(""), null);
        }
        return new Tokens(json.path("id_token").asText(), json.path("refresh_token").asText(null),
                json.path("expires_in").asLong());
    }
}
