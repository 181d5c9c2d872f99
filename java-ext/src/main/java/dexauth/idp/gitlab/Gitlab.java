package dexauth.idp.gitlab;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dexauth.errors.Invalid;
import dexauth.idp.ConfigChecks;
import dexauth.idp.IdpKind;
import dexauth.idp.IdpSettings;
import dexauth.idp.IdpSpec;
import dexauth.idp.OAuthKind;
import dexauth.idp.OAuthProbe;
import dexauth.idp.ProbeReport;

import java.net.URI;
import java.util.List;
import java.util.function.Supplier;

/** GitLab (gitlab.com or self-managed) through Dex's gitlab connector. */
public final class Gitlab extends OAuthKind {
    public static final Gitlab KIND = new Gitlab();
    public static final String DEFAULT_URL = "https://gitlab.com";

    private Gitlab() {}

    /**
     * @param baseUrl null: {@link #DEFAULT_URL}
     * @param groups  only members of these GitLab groups may log in; null: anyone, if {@code allowAnyAccount}
     * @param ca      PEM text of the instance's CA; null: the system CAs
     * @param allowAnyAccount whether any account of the instance may log in (no {@code groups}): said knowingly
     */
    public record Settings(String baseUrl, String clientId, List<String> groups, String ca, boolean allowAnyAccount)
            implements IdpSettings {
        @Override public IdpKind kind() { return KIND; }

        @Override
        public ObjectNode toConfig() {
            if ((groups == null || groups.isEmpty()) && !allowAnyAccount) {
                throw new Invalid("groups", "is required: without it every account of " + (baseUrl != null ? baseUrl
                        : DEFAULT_URL) + " may log in (anyone can sign up on a public GitLab, and create a group of"
                        + " any name); name the GitLab groups whose members may log in, or give --allow-any-account"
                        + " to allow every account knowingly");
            }
            ObjectNode c = new ObjectMapper().createObjectNode();
            c.put("baseURL", (baseUrl != null ? baseUrl : DEFAULT_URL).replaceAll("/$", "")).put("clientID", clientId);
            if (groups != null) groups.forEach(c.withArray("groups")::add);
            if (ca != null) c.put("rootCAData", ConfigChecks.base64(ca));
            return c;
        }
    }

    @Override public String id() { return "gitlab"; }

    @Override public boolean groupsOpenToAnyone() { return true; }

    @Override
    public void validate(String key, JsonNode config) {
        ConfigChecks.required(key, config, "clientID");
        if (config.has("baseURL")) ConfigChecks.httpsUrl(key + ":baseURL", config.path("baseURL").asText());
        ConfigChecks.pemData(key, config, "rootCAData");
    }

    /** GitLab publishes an OpenID discovery document at its base URL. */
    @Override
    public ProbeReport check(IdpSpec spec, Supplier<char[]> secret, String user) {
        return OAuthProbe.run(spec, URI.create(server(spec.config())), true);
    }

    @Override
    public String server(JsonNode config) { return config.path("baseURL").asText(DEFAULT_URL); }
}
