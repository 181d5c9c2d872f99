package dexauth.idp;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dexauth.config.ConfigError;

import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * One upstream identity provider as kept in pillar ({@code dexauth:idps:<name>}): its type, the
 * name shown on the login page and the Dex connector config, which never holds a secret.
 * The secret (bind password, client secret) lives in the Kubernetes Secret {@link #secretName()}
 * and reaches Dex as the environment variable {@link #secretEnv()}.
 */
public record IdpSpec(String name, IdpType type, String displayName, ObjectNode config) {
    public static final String PILLAR_KEY = "dexauth:idps";
    private static final Pattern NAME = Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?");
    private static final ObjectMapper JSON = new ObjectMapper();

    public IdpSpec {
        validate(name, type, config);
    }

    /** Checks a name given on the command line or found in pillar. */
    public static void checkName(String name, String key) {
        if (name == null || name.length() > 40 || !NAME.matcher(name).matches()) {
            throw new ConfigError(key, "'" + name + "' is not a valid IdP name: lowercase letters, digits and '-',"
                    + " at most 40 characters (it becomes the Dex connector id)");
        }
        if ("local".equals(name)) throw new ConfigError(key, "'local' is the built-in local user store; pick another name");
    }

    public static IdpSpec fromPillar(String name, JsonNode node) {
        String key = PILLAR_KEY + ":" + name;
        checkName(name, key);
        if (node == null || !node.isObject()) throw new ConfigError(key, "must be a dict with type, display_name and config");
        IdpType type;
        try {
            type = IdpType.of(node.path("type").asText());
        } catch (IllegalArgumentException e) {
            throw new ConfigError(key + ":type", e.getMessage());
        }
        JsonNode config = node.get("config");
        if (config == null || !config.isObject()) throw new ConfigError(key + ":config", "must be a dict (the Dex connector config)");
        String display = node.path("display_name").asText(name);
        return new IdpSpec(name, type, display.isBlank() ? name : display, (ObjectNode) config.deepCopy());
    }

    public ObjectNode toPillar() {
        ObjectNode n = JSON.createObjectNode();
        n.put("type", type.id()).put("display_name", displayName);
        n.set("config", config.deepCopy());
        return n;
    }

    /** Directory IdPs without a bind DN bind anonymously and have no secret. */
    public boolean hasSecret() {
        return !type.isDirectory() || !config.path("bindDN").asText().isBlank();
    }

    /** The Kubernetes Secret (in Dex's namespace) holding this IdP's secret. */
    public String secretName() { return secretName(name); }

    /** The Secret of IdP {@code name}, also when only the name is left (a removed IdP). */
    public static String secretName(String name) { return "dexauth-idp-" + name; }

    /** Environment variable of the Dex container, and key of {@link #secretName()}, carrying the secret. */
    public String secretEnv() { return "DEXAUTH_IDP_" + name.toUpperCase(Locale.ROOT).replace('-', '_'); }

    /** The Dex connector: the config plus the secret as a $VARIABLE Dex expands from its environment. */
    public ObjectNode connector(URI issuer) {
        ObjectNode cfg = config.deepCopy();
        if (hasSecret()) cfg.put(type.secretField(), "$" + secretEnv());
        if (type.needsRedirect()) cfg.put("redirectURI", issuer.toString().replaceAll("/$", "") + "/callback");
        ObjectNode c = JSON.createObjectNode();
        c.put("type", type.dexType()).put("id", name).put("name", displayName);
        c.set("config", cfg);
        return c;
    }

    /** Address "host:port" of a directory server. */
    public String host() { return config.path("host").asText(); }

    private static void validate(String name, IdpType type, ObjectNode config) {
        String key = PILLAR_KEY + ":" + name + ":config";
        checkName(name, PILLAR_KEY + ":" + name);
        if (config.has(type.secretField())) {
            throw new ConfigError(key + ":" + type.secretField(), "secrets never go in pillar: authctl keeps them in"
                    + " a Kubernetes Secret; remove this key and run `authctl idp add ... --replace`");
        }
        if (config.path("insecureSkipVerify").asBoolean(false)) {
            throw new ConfigError(key + ":insecureSkipVerify", "TLS verification cannot be disabled; give the CA instead");
        }
        switch (type) {
            case LDAP, AD -> validateDirectory(key, config);
            case OIDC -> {
                httpsUrl(key + ":issuer", config.path("issuer").asText(""));
                required(key + ":clientID", config);
            }
            case GITLAB -> {
                required(key + ":clientID", config);
                if (config.has("baseURL")) httpsUrl(key + ":baseURL", config.path("baseURL").asText());
            }
            case GITHUB -> required(key + ":clientID", config);
        }
        if (config.has("rootCAData")) pemData(key + ":rootCAData", config.path("rootCAData").asText());
    }

    private static void validateDirectory(String key, ObjectNode config) {
        String host = required(key + ":host", config);
        int colon = host.lastIndexOf(':');
        if (colon <= 0 || !host.substring(colon + 1).matches("\\d{1,5}")
                || Integer.parseInt(host.substring(colon + 1)) > 65535) {
            throw new ConfigError(key + ":host", "'" + host + "' must be host:port, e.g. ldap.example.com:636");
        }
        if (config.path("insecureNoSSL").asBoolean(false) && config.path("startTLS").asBoolean(false)) {
            throw new ConfigError(key + ":startTLS", "cannot be combined with insecureNoSSL");
        }
        JsonNode users = config.path("userSearch");
        required(key + ":userSearch:baseDN", users);
        required(key + ":userSearch:username", users);
        if (users.path("emailAttr").asText("").isBlank() && users.path("emailSuffix").asText("").isBlank()) {
            throw new ConfigError(key + ":userSearch:emailAttr", "is required (or emailSuffix): Kubernetes"
                    + " usernames are email addresses");
        }
        JsonNode groups = config.path("groupSearch");
        if (!groups.isMissingNode()) {
            required(key + ":groupSearch:baseDN", groups);
            JsonNode matchers = groups.path("userMatchers");
            if (!matchers.isArray() || matchers.isEmpty()) {
                throw new ConfigError(key + ":groupSearch:userMatchers", "needs at least one {userAttr, groupAttr}");
            }
        }
    }

    private static String required(String key, JsonNode parent) {
        String field = key.substring(key.lastIndexOf(':') + 1);
        String v = parent.path(field).asText("");
        if (v.isBlank()) throw new ConfigError(key, "is required");
        return v;
    }

    private static void httpsUrl(String key, String value) {
        try {
            URI u = new URI(value);
            if (!"https".equals(u.getScheme()) || u.getHost() == null) throw new ConfigError(key, "'" + value + "' must be an https:// URL");
        } catch (java.net.URISyntaxException e) {
            throw new ConfigError(key, "'" + value + "' is not a URL");
        }
    }

    private static void pemData(String key, String base64) {
        try {
            String pem = new String(Base64.getDecoder().decode(base64), StandardCharsets.US_ASCII);
            if (!pem.contains("-----BEGIN CERTIFICATE-----")) throw new ConfigError(key, "is not a base64-encoded PEM certificate");
        } catch (IllegalArgumentException e) {
            if (e instanceof ConfigError ce) throw ce;
            throw new ConfigError(key, "is not valid base64");
        }
    }
}
