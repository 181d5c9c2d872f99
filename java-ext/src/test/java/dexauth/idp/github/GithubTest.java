package dexauth.idp.github;

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

/** The GitHub kind: organisations, Enterprise host names, and no CA (Dex reads it from its pod). */
class GithubTest {
  @Test
  void organisationsRestrictLoginsWithoutLoadingEveryGroup() {
    IdpSpec spec = IdpSpec.of("gh", "GitHub", new Github.Settings("k8s", List.of("acme"), null, null, false));
    JsonNode c = spec.connector(URI.create("https://dex.example.com")).path("config");
    assertEquals("acme", c.path("orgs").get(0).path("name").asText());
    assertFalse(c.path("loadAllGroups").asBoolean(true));
    assertEquals("https://dex.example.com/callback", c.path("redirectURI").asText());
    assertEquals("github.com", spec.server());
    assertEquals("github", spec.connector(URI.create("https://dex")).path("type").asText());
  }

  @Test
  void enterpriseHostAndNoOrganisation() {
    JsonNode c = new Github.Settings("k8s", null, "github.example.com", null, true).toConfig();
    assertEquals("github.example.com", c.path("hostName").asText());
    assertFalse(c.has("orgs") || c.has("loadAllGroups"));
    assertTrue(Github.KIND.hasSecret(c));
  }

  @Test
  void aCaIsRefusedNamingTheSetting() {
    Invalid e = assertThrows(Invalid.class,
        () -> new Github.Settings("k8s", null, null, "-----BEGIN CERTIFICATE-----", true).toConfig());
    assertEquals("ca", e.field());
    assertTrue(e.getMessage().startsWith("is not supported for GitHub"), e.getMessage());
  }
}
