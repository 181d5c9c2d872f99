package dexauth.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dexauth.errors.Conflict;
import dexauth.errors.DomainException;
import dexauth.errors.Forbidden;
import dexauth.errors.Invalid;
import dexauth.errors.LoginRequired;
import dexauth.errors.NotFound;
import dexauth.errors.Unauthenticated;
import dexauth.errors.Unavailable;
import dexauth.pki.TrustStores;
import dexauth.rbac.Role;
import dexauth.users.UserService;

import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The account service's JSON API as `authctl` uses it without root: every call carries the
 * logged-in person's ID token, and the service lets Kubernetes decide on that identity. Its
 * refusals come back as the same domain errors (and exit codes) as the direct mode's.
 */
final class AccountApi implements UserOps {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final URI base;
    private final String token;
    private final HttpClient http;

    AccountApi(URI base, Path caFile, String token) {
        this.base = base;
        this.token = token;
        try {
            this.http = HttpClient.newBuilder().sslContext(TrustStores.trusting(caFile))
                    .connectTimeout(Duration.ofSeconds(10)).build();
        } catch (IOException e) {
            throw new Invalid("dex.caFile", "cannot use the CA " + caFile + ": " + e.getMessage());
        }
    }

    /** The service's URL: the configuration's account.url, else the issuer's host with /account. */
    static URI baseUrl(CliConfig cfg) {
        if (cfg.account.url != null && !cfg.account.url.isBlank()) return URI.create(cfg.account.url.replaceAll("/+$", ""));
        if (cfg.dex.issuer == null) throw new UserError("dex.issuer (or account.url) must be set in the configuration file");
        URI issuer = URI.create(cfg.dex.issuer);
        return URI.create(issuer.getScheme() + "://" + issuer.getRawAuthority() + "/account");
    }

    @Override
    public void add(String email, String username, Set<Role> roles, char[] password) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("email", email);
        body.put("username", username);
        body.put("roles", roles.stream().map(Role::id).toList());
        body.put("password", password == null ? null : new String(password));
        call("POST", "/users", body);
    }

    /** Creates a user with a password the service generates; returns it. */
    String addGenerated(String email, String username, Set<Role> roles) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("email", email);
        body.put("username", username);
        body.put("roles", roles.stream().map(Role::id).toList());
        return call("POST", "/users", body).path("oneTimePassword").asText();
    }

    @Override
    public List<UserService.Row> list() {
        List<UserService.Row> rows = new ArrayList<>();
        int offset = 0;
        while (true) {
            JsonNode page = call("GET", "/users?limit=5000&offset=" + offset, null);
            for (JsonNode u : page.path("users")) rows.add(row(u));
            offset += page.path("users").size();
            if (page.path("users").isEmpty() || offset >= page.path("total").asInt()) return rows;
        }
    }

    @Override
    public UserService.Row show(String email) {
        return row(call("GET", "/users/" + path(email), null).path("user"));
    }

    @Override
    public void resetPassword(String email, char[] password) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("password", new String(password));
        call("POST", "/users/" + path(email) + "/password", body);
    }

    @Override
    public void delete(String email) {
        call("DELETE", "/users/" + path(email), null);
    }

    @Override
    public boolean unlock(String email, String idp) {
        String query = idp == null ? "" : "?idp=" + URLEncoder.encode(idp, StandardCharsets.UTF_8);
        return call("DELETE", "/users/" + path(email) + "/lockout" + query, null).path("wasLocked").asBoolean();
    }

    @Override
    public void grant(String email, Role role, boolean revoke) {
        call(revoke ? "DELETE" : "PUT", "/users/" + path(email) + "/roles/" + role.id(), null);
    }

    @Override
    public void grantGroup(String idp, String group, Role role, boolean revoke) {
        call(revoke ? "DELETE" : "PUT", "/idps/" + path(idp) + "/groups/" + path(group) + "/roles/" + role.id(), null);
    }

    /** The person's own password: the current one proven to Dex by the service. */
    void changeOwnPassword(char[] current, char[] fresh) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("current", new String(current));
        body.put("password", new String(fresh));
        call("POST", "/me/password", body);
    }

    @Override
    public void close() {
        // java.net.http.HttpClient has no close() on Java 17; its threads end with the process
    }

    private static UserService.Row row(JsonNode u) {
        List<String> roles = new ArrayList<>();
        u.path("roles").forEach(r -> roles.add(r.asText()));
        return new UserService.Row(u.path("email").asText(), u.path("username").asText(), String.join(",", roles),
                u.path("mustChangePassword").asBoolean(), u.path("createdBy").asText(), u.path("createdAt").asText(), "");
    }

    private static String path(String segment) {
        return URLEncoder.encode(segment, StandardCharsets.UTF_8).replace("+", "%20");
    }

    private JsonNode call(String method, String path, Object body) {
        URI uri = URI.create(base + "/api/v1" + path);
        HttpRequest.Builder req = HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(60))
                .header("Authorization", "Bearer " + token).header("Accept", "application/json");
        try {
            req.method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                    : HttpRequest.BodyPublishers.ofByteArray(JSON.writeValueAsBytes(body)));
            if (body != null) req.header("Content-Type", "application/json");
            HttpResponse<byte[]> r = http.send(req.build(), HttpResponse.BodyHandlers.ofByteArray());
            JsonNode answer = r.body().length == 0 ? JSON.createObjectNode() : parse(r.body(), uri, r.statusCode());
            if (r.statusCode() / 100 == 2) return answer;
            throw failure(r.statusCode(), answer);
        } catch (IOException e) {
            throw new Unavailable(Unavailable.Dependency.KUBERNETES, "cannot reach the account service at " + base
                    + ": " + dexauth.errors.Causes.messages(e) + " (set account.url in the configuration file if it is"
                    + " elsewhere)", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new Unavailable(Unavailable.Dependency.KUBERNETES, "interrupted", e);
        }
    }

    private static JsonNode parse(byte[] body, URI uri, int status) {
        try {
            return JSON.readTree(body);
        } catch (IOException e) {
            throw new Unavailable(Unavailable.Dependency.KUBERNETES, uri + " answered HTTP " + status
                    + " with something that is not the account service's JSON (is account.url right?)", null);
        }
    }

    /** The service's error, as the domain error it was. */
    static DomainException failure(int status, JsonNode answer) {
        String msg = Optional.ofNullable(answer.path("error").textValue()).orElse("HTTP " + status);
        return switch (answer.path("kind").asText(status == 401 ? "unauthenticated" : "")) {
            case "invalid" -> new Invalid(answer.path("field").asText("request"), msg);
            case "notfound" -> new NotFound(msg);
            case "conflict" -> new Conflict(msg);
            case "forbidden" -> new Forbidden(msg);
            case "unauthenticated" -> new Unauthenticated(msg);
            case "loginrequired" -> new LoginRequired(msg);
            default -> new Unavailable(dependency(answer.path("dependency").asText("")), msg, null);
        };
    }

    private static Unavailable.Dependency dependency(String name) {
        for (Unavailable.Dependency d : Unavailable.Dependency.values()) {
            if (d.name().equalsIgnoreCase(name)) return d;
        }
        return Unavailable.Dependency.KUBERNETES;
    }
}
