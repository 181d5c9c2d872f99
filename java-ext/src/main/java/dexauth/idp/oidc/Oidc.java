package dexauth.idp.oidc;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dexauth.idp.ConfigChecks;
import dexauth.idp.IdpKind;
import dexauth.idp.IdpSettings;
import dexauth.idp.IdpSpec;
import dexauth.idp.OAuthKind;
import dexauth.idp.OAuthProbe;
import dexauth.idp.ProbeReport;

import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

/** An OpenID Connect provider (Keycloak, another Dex, Azure AD...) through Dex's oidc connector. */
public final class Oidc extends OAuthKind {
    public static final Oidc KIND = new Oidc();
    static final List<String> DEFAULT_SCOPES = List.of("openid", "profile", "email");

    private Oidc() {}

    /**
     * @param scopes      null: {@link #DEFAULT_SCOPES}
     * @param groupsClaim the claim with the user's groups; null: no groups (the provider's are not trusted)
     * @param ca          PEM text of the provider's CA; null: the system CAs
     */
    public record Settings(String issuer, String clientId, List<String> scopes, String groupsClaim,
                           boolean skipEmailVerified, String ca) implements IdpSettings {
        @Override public IdpKind kind() { return KIND; }

        @Override
        public ObjectNode toConfig() {
            ObjectNode c = new ObjectMapper().createObjectNode();
            c.put("issuer", issuer.replaceAll("/$", "")).put("clientID", clientId);
            List<String> sc = new ArrayList<>(scopes != null ? scopes : DEFAULT_SCOPES);
            if (groupsClaim != null) {
                if (!sc.contains("groups")) sc.add("groups");
                c.put("insecureEnableGroups", true);
                c.putObject("claimMapping").put("groups", groupsClaim);
            }
            sc.forEach(c.withArray("scopes")::add);
            if (skipEmailVerified) c.put("insecureSkipEmailVerified", true);
            if (ca != null) c.putArray("rootCAs").add(ca);
            return c;
        }
    }

    @Override public String id() { return "oidc"; }

    @Override
    public void validate(String key, JsonNode config) {
        ConfigChecks.httpsUrl(key + ":issuer", config.path("issuer").asText(""));
        ConfigChecks.required(key, config, "clientID");
        ConfigChecks.pemData(key, config, "rootCAData");
    }

    /** Up to the discovery document, whose issuer must be exactly the configured one. */
    @Override
    public ProbeReport check(IdpSpec spec, Supplier<char[]> secret, String user) {
        return OAuthProbe.run(spec, URI.create(spec.config().path("issuer").asText()), true);
    }

    @Override
    public String server(JsonNode config) { return config.path("issuer").asText(); }
}
