package dexauth.idp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dexauth.config.ConfigError;
import java.net.URI;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Pure logic of IdP settings: presets, validation, pillar round trip, Dex connector rendering. */
class IdpSpecTest {
  private static final URI ISSUER = URI.create("https://dex.example.com/oidc");

  private static IdpSpec openLdap() {
    DirectorySettings s = DirectorySettings.openLdap();
    s.host = "ldap.example.com";
    s.userBaseDN = "ou=people,dc=example,dc=com";
    s.bindDN = "cn=dex,dc=example,dc=com";
    return new IdpSpec("corp", IdpType.LDAP, "Corp", s.toConfig());
  }

  @Test
  void openLdapPresetsGiveLdapsAndBothGroupKinds() {
    JsonNode c = openLdap().config();
    assertEquals("ldap.example.com:636", c.path("host").asText());
    assertFalse(c.has("startTLS"));
    assertEquals("uid", c.path("userSearch").path("username").asText());
    assertEquals("ou=people,dc=example,dc=com", c.path("groupSearch").path("baseDN").asText());
    List<String> matchers = new java.util.ArrayList<>();
    c.path("groupSearch").path("userMatchers").forEach(m -> matchers.add(m.path("userAttr").asText() + "=" + m.path("groupAttr").asText()));
    assertEquals(List.of("DN=member", "DN=uniqueMember", "uid=memberUid"), matchers);
  }

  @Test
  void activeDirectoryDerivesBaseDnAndUsesNestedGroups() {
    DirectorySettings s = DirectorySettings.activeDirectory("ad.example.test");
    s.host = "dc1.ad.example.test";
    JsonNode c = s.toConfig();
    assertEquals("DC=ad,DC=example,DC=test", c.path("userSearch").path("baseDN").asText());
    assertEquals("userPrincipalName", c.path("userSearch").path("username").asText());
    assertEquals("member:1.2.840.113556.1.4.1941:", c.path("groupSearch").path("userMatchers").get(0).path("groupAttr").asText());
    assertEquals("Email address", c.path("usernamePrompt").asText());
    assertThrows(IllegalArgumentException.class, () -> DirectorySettings.activeDirectory("not a domain"));
  }

  @Test
  void startTlsUses389AndPlainNeedsTheExplicitFlag() {
    DirectorySettings s = DirectorySettings.openLdap();
    s.host = "ldap";
    s.userBaseDN = "dc=x";
    s.tls = DirectorySettings.Tls.STARTTLS;
    assertEquals("ldap:389", s.toConfig().path("host").asText());
    assertTrue(s.toConfig().path("startTLS").asBoolean());
    s.tls = DirectorySettings.Tls.NONE;
    assertTrue(s.toConfig().path("insecureNoSSL").asBoolean());
  }

  @Test
  void connectorCarriesTheSecretOnlyAsAnEnvironmentReference() {
    IdpSpec spec = openLdap();
    ObjectNode connector = spec.connector(ISSUER);
    assertEquals("ldap", connector.path("type").asText());
    assertEquals("corp", connector.path("id").asText());
    assertEquals("$DEXAUTH_IDP_CORP", connector.path("config").path("bindPW").asText());
    assertEquals("dexauth-idp-corp", spec.secretName());
    assertFalse(spec.toPillar().path("config").has("bindPW"), "pillar must never hold the bind password");
  }

  @Test
  void oauthConnectorsGetDexCallbackAsRedirect() {
    ObjectNode c = new ObjectMapper().createObjectNode().put("issuer", "https://sso.example.com").put("clientID", "k8s");
    IdpSpec spec = new IdpSpec("sso-2", IdpType.OIDC, "SSO", c);
    JsonNode cfg = spec.connector(ISSUER).path("config");
    assertEquals("https://dex.example.com/oidc/callback", cfg.path("redirectURI").asText());
    assertEquals("$DEXAUTH_IDP_SSO_2", cfg.path("clientSecret").asText());
  }

  @Test
  void invalidSettingsNameTheirPillarKey() {
    ObjectNode good = openLdap().config();
    ConfigError e = assertThrows(ConfigError.class, () -> new IdpSpec("local", IdpType.LDAP, "x", good));
    assertTrue(e.getMessage().contains("built-in local"), e.getMessage());
    assertThrows(ConfigError.class, () -> new IdpSpec("Corp_LDAP", IdpType.LDAP, "x", good));

    ObjectNode secretInPillar = good.deepCopy().put("bindPW", "hunter2");
    e = assertThrows(ConfigError.class, () -> new IdpSpec("corp", IdpType.LDAP, "x", secretInPillar));
    assertEquals("dexauth:idps:corp:config:bindPW", e.key());
    assertFalse(e.getMessage().contains("hunter2"), "an error must not echo a secret");

    ObjectNode skipVerify = good.deepCopy().put("insecureSkipVerify", true);
    assertEquals("dexauth:idps:corp:config:insecureSkipVerify",
        assertThrows(ConfigError.class, () -> new IdpSpec("corp", IdpType.LDAP, "x", skipVerify)).key());

    ObjectNode noPort = good.deepCopy().put("host", "ldap.example.com");
    assertEquals("dexauth:idps:corp:config:host",
        assertThrows(ConfigError.class, () -> new IdpSpec("corp", IdpType.LDAP, "x", noPort)).key());

    ObjectNode httpIssuer = new ObjectMapper().createObjectNode().put("issuer", "http://sso").put("clientID", "k");
    assertEquals("dexauth:idps:sso:config:issuer",
        assertThrows(ConfigError.class, () -> new IdpSpec("sso", IdpType.OIDC, "x", httpIssuer)).key());
  }

  @Test
  void pillarFileRoundTripsAndRejectsUnknownTypes() {
    String text = IdpCatalog.render(Map.of("corp", openLdap()));
    assertTrue(text.startsWith("#!yaml"), "the renderer line keeps Jinja away from LDAP filters");
    Map<String, IdpSpec> back = IdpCatalog.parse(text);
    assertEquals(openLdap(), back.get("corp"));
    assertTrue(IdpCatalog.parse("#!yaml\n{}\n").isEmpty());
    assertTrue(IdpCatalog.parse(null).isEmpty());
    ConfigError e = assertThrows(ConfigError.class,
        () -> IdpCatalog.parse("dexauth:\n  idps:\n    x:\n      type: kerberos\n      config: {}\n"));
    assertEquals("dexauth:idps:x:type", e.key());
  }
}
