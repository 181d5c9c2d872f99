package dexauth.idp;

import com.fasterxml.jackson.databind.JsonNode;
import dexauth.errors.Invalid;

import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.util.Base64;

/** Checks the kinds share on connector configs; each failure names the full pillar key. */
public final class ConfigChecks {
    private ConfigChecks() {}

    /** The non-blank text of {@code parent.field}, or Invalid naming {@code key:field}. */
    public static String required(String key, JsonNode parent, String field) {
        JsonNode n = parent.path(field);
        if (n.isNumber() || n.isBoolean()) {
            throw new Invalid(key + ":" + field, "must be text, but the pillar's YAML made it the "
                    + (n.isNumber() ? "number " : "boolean ") + n.asText() + ": put the value in quotes, e.g. "
                    + field + ": '0x1A' (unquoted, YAML reads 12345, 0x1A, 0123 or 12:30 as numbers)");
        }
        String v = n.asText("");
        if (v.isBlank()) throw new Invalid(key + ":" + field, "is required");
        return v;
    }

    public static void httpsUrl(String key, String value) {
        try {
            URI u = new URI(value);
            if (!"https".equals(u.getScheme()) || u.getHost() == null) {
                throw new Invalid(key, "'" + value + "' must be an https:// URL");
            }
        } catch (URISyntaxException e) {
            throw new Invalid(key, "'" + value + "' is not a URL");
        }
    }

    /** {@code config.field}, when present, holds a base64-encoded PEM certificate. */
    public static void pemData(String key, JsonNode config, String field) {
        if (!config.has(field)) return;
        String pem;
        try {
            pem = new String(Base64.getDecoder().decode(config.path(field).asText()), StandardCharsets.US_ASCII);
        } catch (IllegalArgumentException e) {
            throw new Invalid(key + ":" + field, "is not valid base64");
        }
        if (!pem.contains("-----BEGIN CERTIFICATE-----")) {
            throw new Invalid(key + ":" + field, "is not a base64-encoded PEM certificate");
        }
    }

    /** Base64 of a PEM text, as Dex's rootCAData fields take it. */
    public static String base64(String pem) {
        return Base64.getEncoder().encodeToString(pem.getBytes(StandardCharsets.US_ASCII));
    }
}
