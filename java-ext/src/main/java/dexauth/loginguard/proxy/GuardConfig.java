package dexauth.loginguard.proxy;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dexauth.errors.Invalid;
import dexauth.loginguard.GuardPolicy;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/** The login guard's settings (guard.yaml, rendered by the chart from pillar dexauth:login_guard; no secret). */
@JsonIgnoreProperties(ignoreUnknown = true)
public final class GuardConfig {
    @JsonIgnoreProperties(ignoreUnknown = true)
    public static final class Listen {
        public String address = "0.0.0.0";
        public int port = 5556;
    }

    @JsonIgnoreProperties(ignoreUnknown = true)
    public static final class Tls {
        public String certFile;
        public String keyFile;
    }

    @JsonIgnoreProperties(ignoreUnknown = true)
    public static final class Dex {
        /** Dex's HTTPS listener inside the pod, e.g. https://127.0.0.1:5554. */
        public String url;
        public String caFile;
    }

    @JsonIgnoreProperties(ignoreUnknown = true)
    public static final class Policy {
        public int maxFailures = 10;
        public long windowSeconds = 900;
        public long lockoutSeconds = 900;
        public int addressMaxFailures = 100;
        public long addressWindowSeconds = 900;
        public long responseMillis = 1000;
    }

    public Listen listen = new Listen();
    public Tls tls = new Tls();
    public Dex dex = new Dex();
    /** The issuer URL's path ("/oidc"): Dex's endpoints are below it. */
    public String issuerPath = "";
    /** Dex at its Service (https://<cluster IP>:<port><issuer path>), where kube-apiserver reads discovery; "" for none. */
    public String serviceUrl = "";
    /** The connector of Dex's password grant (oauth2.passwordConnector). */
    public String passwordConnector = "local";
    public String namespace = "dexauth";
    public List<String> trustedProxies = List.of();
    public Policy policy = new Policy();

    public static GuardConfig load(Path file) {
        if (!Files.isReadable(file)) throw new Invalid("config", file + " is missing or unreadable");
        GuardConfig c;
        try {
            c = new ObjectMapper(new YAMLFactory()).configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false)
                    .readValue(file.toFile(), GuardConfig.class);
        } catch (IOException e) {
            throw new Invalid("config", "cannot read " + file + ": " + e.getMessage());
        }
        c.validate();
        return c;
    }

    void validate() {
        require("tls.certFile", tls.certFile);
        require("tls.keyFile", tls.keyFile);
        require("dex.caFile", dex.caFile);
        require("dex.url", dex.url);
        URI u = URI.create(dex.url);
        if (!"https".equals(u.getScheme()) || u.getHost() == null) throw new Invalid("dex.url", "'" + dex.url + "' is not an https:// URL");
        if (issuerPath == null || issuerPath.endsWith("/")) throw new Invalid("issuerPath", "'" + issuerPath + "' must not end with '/'");
        if (serviceUrl != null && !serviceUrl.isBlank()) {
            URI s = URI.create(serviceUrl);
            if (!"https".equals(s.getScheme()) || s.getHost() == null) {
                throw new Invalid("serviceUrl", "'" + serviceUrl + "' is not an https:// URL");
            }
        }
        require("namespace", namespace);
        if (listen.port < 1 || listen.port > 65535) throw new Invalid("listen.port", listen.port + " is not a TCP port");
        try {
            policy();
        } catch (IllegalArgumentException e) {
            throw new Invalid("policy", e.getMessage());
        }
    }

    public GuardPolicy policy() {
        return new GuardPolicy(policy.maxFailures, Duration.ofSeconds(policy.windowSeconds), Duration.ofSeconds(policy.lockoutSeconds),
                policy.addressMaxFailures, Duration.ofSeconds(policy.addressWindowSeconds), Duration.ofMillis(policy.responseMillis));
    }

    private static void require(String key, String value) {
        if (value == null || value.isBlank()) throw new Invalid(key, "must be set");
    }
}
