package dexauth.idp;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import dexauth.errors.Invalid;

import java.io.IOException;
import java.util.Map;
import java.util.TreeMap;

/**
 * The IdPs as desired state: the pillar file {@value #PILLAR_FILE} that {@code authctl idp}
 * writes (through salt-api) in the operator's pillar root, which upgrades never replace.
 * It holds no secret, so it may be read, reviewed and versioned like any pillar.
 */
public final class IdpCatalog {
    public static final String PILLAR_FILE = "dexauth_idps.sls";
    private static final String HEADER = """
            #!yaml
            # Upstream identity providers of Dex (pillar dexauth:idps), written by `authctl idp`.
            # Secrets are not here: each IdP's bind password or client secret is in the Kubernetes
            # Secret dexauth-idp-<name>. Edit with `authctl idp add/remove`, or by hand in this shape.
            """;
    /**
     * Every string value in quotes: Salt reads pillar as YAML 1.1, where a plain 12345, 0x1A, 0123 or
     * 12:30 (sexagesimal) is a number and yes/on a boolean, and Dex then refuses the number where its
     * config wants a string (a client id).
     */
    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory()
            .disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER)
            .disable(YAMLGenerator.Feature.MINIMIZE_QUOTES));

    private IdpCatalog() {}

    /** The IdPs of a {@code dexauth:idps} pillar dict (absent or null: none); Invalid names the pillar key. */
    public static Map<String, IdpSpec> fromPillar(JsonNode idps) {
        Map<String, IdpSpec> out = new TreeMap<>();
        if (idps == null || idps.isNull() || idps.isMissingNode()) return out;
        if (!idps.isObject()) throw new Invalid(IdpSpec.PILLAR_KEY, "must be a dict of IdP name to settings");
        idps.fields().forEachRemaining(e -> out.put(e.getKey(), IdpSpec.fromPillar(e.getKey(), e.getValue())));
        return out;
    }

    /** Parses the pillar file; null or empty text means no IdP. */
    public static Map<String, IdpSpec> parse(String text) {
        if (text == null || text.isBlank()) return new TreeMap<>();
        try {
            JsonNode root = YAML.readTree(text);
            return fromPillar(root == null ? null : root.path("dexauth").get("idps"));
        } catch (IOException e) {
            throw new Invalid(IdpSpec.PILLAR_KEY, "the pillar file " + PILLAR_FILE + " is not valid YAML: "
                    + e.getMessage());
        }
    }

    /** One IdP for a terminal: its pillar entry with the secret's place named and CAs abbreviated. */
    public static String show(IdpSpec spec) {
        ObjectNode view = spec.toPillar();
        ObjectNode cfg = (ObjectNode) view.get("config");
        if (spec.hasSecret()) cfg.put(spec.kind().secretField(), "******** (Secret " + spec.secretName() + ")");
        if (cfg.has("rootCAData")) cfg.put("rootCAData", "<PEM CA, " + cfg.path("rootCAData").asText().length() + " base64 chars>");
        if (cfg.has("rootCAs")) cfg.put("rootCAs", "<PEM CA>");
        ObjectNode root = YAML.createObjectNode();
        root.set(spec.name(), view);
        return write(root);
    }

    public static String render(Map<String, IdpSpec> idps) {
        ObjectNode root = YAML.createObjectNode();
        ObjectNode list = root.putObject("dexauth").putObject("idps");
        new TreeMap<>(idps).forEach((name, spec) -> list.set(name, spec.toPillar()));
        return HEADER + write(root);
    }

    private static String write(JsonNode node) {
        try {
            return YAML.writeValueAsString(node);
        } catch (IOException e) {
            throw new IllegalStateException("cannot write YAML", e);
        }
    }
}
