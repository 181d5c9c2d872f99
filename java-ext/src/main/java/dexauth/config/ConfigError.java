package dexauth.config;

/**
 * A pillar value is wrong; the message names the pillar key and says how to fix it.
 * Only the IdP pillar still throws this; everything else throws {@link DeploymentConfig#invalid}
 * (a typed {@link dexauth.errors.Invalid}), which replaces it once the IdP kinds are rewritten.
 */
public final class ConfigError extends IllegalArgumentException {
    private final String key;

    public ConfigError(String key, String problem) {
        super("pillar key " + key + ": " + problem);
        this.key = key;
    }

    public String key() { return key; }
}
