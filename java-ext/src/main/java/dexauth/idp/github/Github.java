package dexauth.idp.github;

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

/** GitHub or GitHub Enterprise through Dex's github connector. */
public final class Github extends OAuthKind {
    public static final Github KIND = new Github();
    static final String DEFAULT_HOST = "github.com";

    private Github() {}

    /**
     * @param orgs     only members of these organisations may log in; null: anyone, if {@code allowAnyAccount}
     * @param hostName GitHub Enterprise host name; null: github.com
     * @param ca       must be null: Dex's github connector reads its CA from a file in the pod
     * @param allowAnyAccount whether any account of the host may log in (no {@code orgs}): said knowingly
     */
    public record Settings(String clientId, List<String> orgs, String hostName, String ca, boolean allowAnyAccount)
            implements IdpSettings {
        @Override public IdpKind kind() { return KIND; }

        @Override
        public ObjectNode toConfig() {
            if ((orgs == null || orgs.isEmpty()) && !allowAnyAccount) {
                throw new Invalid("orgs", "is required: without it every account of " + (hostName != null ? hostName
                        : DEFAULT_HOST) + " may log in (anyone can sign up on github.com); name the organisations whose"
                        + " members may log in, or give --allow-any-account to allow every account knowingly");
            }
            if (ca != null) {
                throw new Invalid("ca", "is not supported for GitHub: Dex reads GitHub's CA from a file in its pod;"
                        + " add the CA to the Dex image instead");
            }
            ObjectNode c = new ObjectMapper().createObjectNode();
            c.put("clientID", clientId);
            if (hostName != null) c.put("hostName", hostName);
            if (orgs != null) {
                orgs.forEach(o -> c.withArray("orgs").addObject().put("name", o));
                c.put("loadAllGroups", false);
            }
            return c;
        }
    }

    @Override public String id() { return "github"; }

    @Override public boolean groupsOpenToAnyone() { return true; }

    @Override
    public void validate(String key, JsonNode config) {
        ConfigChecks.required(key, config, "clientID");
        ConfigChecks.pemData(key, config, "rootCAData");
    }

    /** GitHub has no discovery document: the checks end with TLS. */
    @Override
    public ProbeReport check(IdpSpec spec, Supplier<char[]> secret, String user) {
        return OAuthProbe.run(spec, URI.create("https://" + server(spec.config())), false);
    }

    @Override
    public String server(JsonNode config) { return config.path("hostName").asText(DEFAULT_HOST); }
}
