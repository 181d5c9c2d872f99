package dexauth.account;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dexauth.errors.Invalid;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/**
 * The account service's settings: the file the chart renders from pillar (a ConfigMap, no
 * secret). The console client's secret comes from the environment variable it names.
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public final class ServiceConfig {
    @JsonIgnoreProperties(ignoreUnknown = true)
    public static final class Listen {
        public String address = "0.0.0.0";
        public int port = 8443;
    }

    @JsonIgnoreProperties(ignoreUnknown = true)
    public static final class Tls {
        public String certFile;
        public String keyFile;
    }

    @JsonIgnoreProperties(ignoreUnknown = true)
    public static final class Grpc {
        public String address;
        public String caFile;
        public String certFile;
        public String keyFile;
    }

    @JsonIgnoreProperties(ignoreUnknown = true)
    public static final class Users {
        public int bcryptCost = 12;
        public int passwordMinLength = 12;
    }

    @JsonIgnoreProperties(ignoreUnknown = true)
    public static final class Session {
        public int idleMinutes = 30;
        public int absoluteMinutes = 720;
    }

    /** The URL people open, e.g. https://cp.example.com/account (no trailing slash). */
    public String publicUrl;
    public Listen listen = new Listen();
    public Tls tls = new Tls();
    public String issuer;
    public String dexCaFile;
    public String clientId = "dexauth-console";
    public String clientSecretEnv = "DEXAUTH_CONSOLE_CLIENT_SECRET";
    public String audienceClientId = "kubernetes";
    public String kubectlClientId = "kubectl";
    /** authctl's own client: its logins may call the JSON API too. */
    public String cliClientId = "authctl";
    public Grpc dexGrpc = new Grpc();
    public String namespace = "dexauth";
    public Users users = new Users();
    public Session session = new Session();
    public String productName = "Cluster login";
    /**
     * Addresses of the proxies in front of the service (the ingress controller's pods): from
     * them, the client's address is the last one they add to X-Forwarded-For. Empty: the
     * connection's address is the client's.
     */
    public java.util.List<String> trustedProxies = java.util.List.of();
    /** The accent colour (#rrggbb), as on Dex's login pages (pillar dexauth:branding:primary_color). */
    public String primaryColor = "#1f5fae";

    public static ServiceConfig load(Path file) {
        if (!Files.isReadable(file)) throw new Invalid("config", file + " is missing or unreadable");
        ServiceConfig c;
        try {
            c = new ObjectMapper(new YAMLFactory()).configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false)
                    .readValue(file.toFile(), ServiceConfig.class);
        } catch (IOException e) {
            throw new Invalid("config", "cannot read " + file + ": " + e.getMessage());
        }
        c.validate();
        return c;
    }

    void validate() {
        URI pub = https("publicUrl", publicUrl);
        if (pub.getPath() == null || pub.getPath().isEmpty() || pub.getPath().endsWith("/")) {
            throw new Invalid("publicUrl", "'" + publicUrl + "' must have a path and no trailing slash, e.g. https://host/account");
        }
        https("issuer", issuer);
        require("tls.certFile", tls.certFile);
        require("tls.keyFile", tls.keyFile);
        require("dexCaFile", dexCaFile);
        require("dexGrpc.address", dexGrpc.address);
        require("dexGrpc.caFile", dexGrpc.caFile);
        require("dexGrpc.certFile", dexGrpc.certFile);
        require("dexGrpc.keyFile", dexGrpc.keyFile);
        require("namespace", namespace);
        if (primaryColor == null || !primaryColor.matches("#[0-9a-fA-F]{6}")) {
            throw new Invalid("primaryColor", "'" + primaryColor + "' is not a colour written #rrggbb");
        }
        if (listen.port < 1 || listen.port > 65535) throw new Invalid("listen.port", listen.port + " is not a TCP port");
        if (session.idleMinutes < 1 || session.absoluteMinutes < session.idleMinutes) {
            throw new Invalid("session", "idleMinutes must be at least 1 and absoluteMinutes at least idleMinutes");
        }
    }

    /** The path the service answers under (the Ingress path), e.g. "/account". */
    public String basePath() { return URI.create(publicUrl).getPath(); }

    public String clientSecret() {
        String s = System.getenv(clientSecretEnv);
        if (s == null || s.isBlank()) {
            throw new Invalid("clientSecretEnv", "the environment variable " + clientSecretEnv + " (the console client's secret) is empty");
        }
        return s;
    }

    public Duration idleTimeout() { return Duration.ofMinutes(session.idleMinutes); }

    public Duration absoluteTimeout() { return Duration.ofMinutes(session.absoluteMinutes); }

    private static URI https(String key, String value) {
        require(key, value);
        try {
            URI u = URI.create(value);
            if (!"https".equals(u.getScheme()) || u.getHost() == null) throw new IllegalArgumentException();
            return u;
        } catch (IllegalArgumentException e) {
            throw new Invalid(key, "'" + value + "' is not an https:// URL");
        }
    }

    private static void require(String key, String value) {
        if (value == null || value.isBlank()) throw new Invalid(key, "must be set");
    }
}
