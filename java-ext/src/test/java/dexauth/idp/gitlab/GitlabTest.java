package dexauth.idp.gitlab;

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

/** The GitLab kind: gitlab.com by default, group restriction, the CA as base64 PEM. */
class GitlabTest {
  @Test
  void gitlabComByDefaultWithTheCallback() {
    IdpSpec spec = IdpSpec.of("gitlab", "GitLab", new Gitlab.Settings(null, "k8s", null, null, true));
    JsonNode c = spec.connector(URI.create("https://dex.example.com")).path("config");
    assertEquals("https://gitlab.com", c.path("baseURL").asText());
    assertEquals("https://dex.example.com/callback", c.path("redirectURI").asText());
    assertFalse(c.has("groups"));
    assertEquals("https://gitlab.com", spec.server());
    assertEquals("gitlab", spec.connector(URI.create("https://dex")).path("type").asText());
  }

  @Test
  void selfManagedWithGroupsAndItsCa() {
    String pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    IdpSpec spec = IdpSpec.of("gl", null, new Gitlab.Settings("https://git.example.com/", "k8s", List.of("ops", "dev"), pem, false));
    com.fasterxml.jackson.databind.node.ObjectNode c = spec.config();
    assertEquals("https://git.example.com", c.path("baseURL").asText());
    assertEquals("[\"ops\",\"dev\"]", c.path("groups").toString());
    assertTrue(c.path("rootCAData").asText().length() > 0);
    assertEquals("k:baseURL", assertThrows(Invalid.class,
        () -> Gitlab.KIND.validate("k", c.deepCopy().put("baseURL", "http://git"))).field());
  }
}
