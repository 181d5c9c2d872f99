package dexauth.idp;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dexauth.errors.Invalid;

import java.net.URI;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * One upstream identity provider as kept in pillar ({@code dexauth:idps:<name>}): its kind, the
 * name shown on the login page and the Dex connector config, which never holds a secret.
 * The secret (bind password, client secret) lives in the Kubernetes Secret {@link #secretName()}
 * and reaches Dex as the environment variable {@link #secretEnv()}.
 */
public record IdpSpec(String name, IdpKind kind, String displayName, ObjectNode config) {
    public static final String PILLAR_KEY = "dexauth:idps";
    private static final Pattern NAME = Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?");
    /**
     * Names that read as Kubernetes' or dexauth's own (usernames become {@code oidc:<idp>:<email>}):
     * {@code system}, {@code kube*}, {@code kubernetes*}, {@code oidc}, {@code dex}, {@code dexauth*}.
     */
    private static final Pattern RESERVED = Pattern.compile("system(-.*)?|kube(-.*)?|kubernetes(-.*)?|oidc|dex|dexauth(-.*)?");
    private static final ObjectMapper JSON = new ObjectMapper();

    public IdpSpec {
        String key = PILLAR_KEY + ":" + name;
        checkName(name, key);
        key += ":config";
        if (config.has(kind.secretField())) {
            throw new Invalid(key + ":" + kind.secretField(), "secrets never go in pillar: authctl keeps them in"
                    + " a Kubernetes Secret; remove this key and store the secret with `authctl idp add`");
        }
        if (config.path("insecureSkipVerify").asBoolean(false)) {
            throw new Invalid(key + ":insecureSkipVerify", "TLS verification cannot be disabled; give the CA instead");
        }
        kind.validate(key, config);
    }

    /** An IdP from what an operator said; Invalid names the setting (from the settings) or the key. */
    public static IdpSpec of(String name, String displayName, IdpSettings settings) {
        checkName(name, PILLAR_KEY + ":" + name); // before the settings: a bad name is the first thing to say
        return new IdpSpec(name, settings.kind(), displayName != null ? displayName : name, settings.toConfig());
    }

    /** Checks a name given by an operator or found in pillar; Invalid names {@code key}. */
    public static void checkName(String name, String key) {
        if (name == null || name.length() > 40 || !NAME.matcher(name).matches()) {
            throw new Invalid(key, "'" + name + "' is not a valid IdP name: lowercase letters, digits and '-',"
                    + " at most 40 characters (it becomes the Dex connector id)");
        }
        if ("local".equals(name)) throw new Invalid(key, "'local' is the built-in local user store; pick another name");
        if (RESERVED.matcher(name).matches()) {
            throw new Invalid(key, "'" + name + "' looks like a Kubernetes or dexauth name (system, kube-*, kubernetes-*,"
                    + " oidc, dex, dexauth-* are reserved); name the IdP after the directory or provider, e.g. corp-ldap");
        }
    }

    public static IdpSpec fromPillar(String name, JsonNode node) {
        String key = PILLAR_KEY + ":" + name;
        checkName(name, key);
        if (node == null || !node.isObject()) throw new Invalid(key, "must be a dict with type, display_name and config");
        String type = node.path("type").asText();
        IdpKind kind = IdpKinds.find(type).orElseThrow(() -> new Invalid(key + ":type",
                "unknown IdP type '" + type + "'; use one of " + IdpKinds.ids()));
        JsonNode config = node.get("config");
        if (config == null || !config.isObject()) throw new Invalid(key + ":config", "must be a dict (the Dex connector config)");
        String display = node.path("display_name").asText(name);
        return new IdpSpec(name, kind, display.isBlank() ? name : display, (ObjectNode) config.deepCopy());
    }

    public ObjectNode toPillar() {
        ObjectNode n = JSON.createObjectNode();
        n.put("type", kind.id()).put("display_name", displayName);
        n.set("config", config.deepCopy());
        return n;
    }

    public boolean hasSecret() { return kind.hasSecret(config); }

    /** The Kubernetes Secret (in Dex's namespace) holding this IdP's secret. */
    public String secretName() { return secretName(name); }

    /** The Secret of IdP {@code name}, also when only the name is left (a removed IdP). */
    public static String secretName(String name) { return "dexauth-idp-" + name; }

    /** Environment variable of the Dex container, and key of {@link #secretName()}, carrying the secret. */
    public String secretEnv() { return "DEXAUTH_IDP_" + name.toUpperCase(Locale.ROOT).replace('-', '_'); }

    /** The Dex connector: the config plus the secret as a $VARIABLE Dex expands from its environment. */
    public ObjectNode connector(URI issuer) {
        ObjectNode cfg = config.deepCopy();
        if (hasSecret()) cfg.put(kind.secretField(), "$" + secretEnv());
        kind.complete(cfg, issuer);
        ObjectNode c = JSON.createObjectNode();
        c.put("type", kind.dexType()).put("id", name).put("name", displayName);
        c.set("config", cfg);
        return c;
    }

    /** Checks the connection as Dex will use it; see {@link IdpKind#check}. */
    public ProbeReport check(java.util.function.Supplier<char[]> secret, String user) {
        return kind.check(this, secret, user);
    }

    /** Where the IdP is, for listings. */
    public String server() { return kind.server(config); }
}
