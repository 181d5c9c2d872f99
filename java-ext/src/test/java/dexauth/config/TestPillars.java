package dexauth.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;

/** Valid {@code dexauth} pillars for tests, built from the shipped salt/dexauth/defaults.yaml. */
public final class TestPillars {
    // Surefire runs in java-ext/, the Salt tree lives at the repository root.
    public static final Path DEFAULTS = Path.of("..", "salt", "dexauth", "defaults.yaml");
    public static final String ISSUER = "https://127.0.0.1:5556/oidc";
    private static final ObjectMapper JSON = new ObjectMapper();

    private TestPillars() {}

    /** The defaults plus the one key they leave empty (the issuer). */
    public static ObjectNode valid() {
        try {
            JsonNode root = new YAMLMapper().readTree(DEFAULTS.toFile());
            ObjectNode pillar = ((ObjectNode) root.get("dexauth")).deepCopy();
            pillar.put("issuer", ISSUER);
            return pillar;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + DEFAULTS.toAbsolutePath(), e);
        }
    }

    /** Sets a colon-separated key such as {@code dex:ports:https}; strings, numbers, lists all work. */
    public static ObjectNode set(ObjectNode pillar, String key, Object value) {
        String[] parts = key.split(":");
        ObjectNode node = pillar;
        for (int i = 0; i < parts.length - 1; i++) node = node.withObjectProperty(parts[i]);
        node.set(parts[parts.length - 1], JSON.valueToTree(value));
        return pillar;
    }

    /** Parses {@link #valid()} after {@code key} is set to {@code value}. */
    public static DeploymentConfig with(String key, Object value) {
        return DeploymentConfig.fromPillar(set(valid(), key, value));
    }
}
