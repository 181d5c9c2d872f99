package dexauth.idp.oidc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dexauth.errors.Invalid;
import dexauth.idp.IdpSpec;
import java.net.URI;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The OIDC kind: scopes, groups, the CA as Dex's oidc connector takes it, the callback, the checks. */
class OidcTest {
  private static final URI DEX = URI.create("https://dex.example.com/oidc/");

  @Test
  void defaultsAskForOpenidProfileEmailAndTrustNoGroups() {
    IdpSpec spec = IdpSpec.of("sso-2", "SSO", new Oidc.Settings("https://sso.example.com/", "k8s", null, null, false, null));
    JsonNode c = spec.config();
    assertEquals("https://sso.example.com", c.path("issuer").asText());
    assertEquals("[\"openid\",\"profile\",\"email\"]", c.path("scopes").toString());
    assertFalse(c.has("insecureEnableGroups"));
    JsonNode connector = spec.connector(DEX);
    assertEquals("oidc", connector.path("type").asText());
    assertEquals("https://dex.example.com/oidc/callback", connector.path("config").path("redirectURI").asText());
    assertEquals("$DEXAUTH_IDP_SSO_2", connector.path("config").path("clientSecret").asText());
    assertEquals("https://sso.example.com", spec.server());
  }

  @Test
  void aGroupsClaimAsksForGroupsAndTheCaGoesInline() {
    String pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    JsonNode c = new Oidc.Settings("https://sso", "k8s", List.of("openid", "email"), "roles", true, pem).toConfig();
    assertEquals("[\"openid\",\"email\",\"groups\"]", c.path("scopes").toString());
    assertTrue(c.path("insecureEnableGroups").asBoolean());
    assertEquals("roles", c.path("claimMapping").path("groups").asText());
    assertTrue(c.path("insecureSkipEmailVerified").asBoolean());
    assertEquals(pem, c.path("rootCAs").get(0).asText());
  }

  @Test
  void anIssuerMustBeHttps() {
    Invalid e = assertThrows(Invalid.class,
        () -> IdpSpec.of("sso", null, new Oidc.Settings("http://sso", "k", null, null, false, null)));
    assertEquals("dexauth:idps:sso:config:issuer", e.field());
    assertEquals("'http://sso' must be an https:// URL", e.getMessage());
    assertEquals("dexauth:idps:sso:config:clientID", assertThrows(Invalid.class,
        () -> IdpSpec.of("sso", null, new Oidc.Settings("https://sso", "", null, null, false, null))).field());
  }

  @Test
  void anUnreachableProviderFailsAtTcp() throws Exception {
    int port;
    try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
      port = s.getLocalPort();
    }
    IdpSpec spec = IdpSpec.of("sso", null, new Oidc.Settings("https://127.0.0.1:" + port, "k", null, null, false, null));
    assertEquals("TCP", spec.check(() -> {
      throw new AssertionError("checks never need the client secret");
    }, null).failure().step());
  }
}
