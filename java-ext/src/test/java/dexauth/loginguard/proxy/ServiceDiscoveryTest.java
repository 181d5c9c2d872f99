package dexauth.loginguard.proxy;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ServiceDiscoveryTest {
  private static final String DOC = "{\"issuer\":\"https://login.example.com/oidc\","
      + "\"authorization_endpoint\":\"https://login.example.com/oidc/auth\","
      + "\"jwks_uri\":\"https://login.example.com/oidc/keys\"}";
  private final ServiceDiscovery discovery = new ServiceDiscovery("https://10.96.0.56:5556/oidc", "/oidc");

  @Test
  void onlyTheDocumentAskedAtTheServiceAddressIsRewritten() {
    String path = "/oidc/.well-known/openid-configuration";
    assertTrue(discovery.applies("GET", path, "10.96.0.56:5556"));
    assertTrue(discovery.applies("GET", path, "10.96.0.56"));
    assertFalse(discovery.applies("GET", path, "login.example.com"), "browsers and clients keep the issuer's keys URL");
    assertFalse(discovery.applies("GET", path, "10.96.0.560"));
    assertFalse(discovery.applies("GET", path, null));
    assertFalse(discovery.applies("POST", path, "10.96.0.56"));
    assertFalse(discovery.applies("GET", "/oidc/keys", "10.96.0.56"));
    assertFalse(new ServiceDiscovery("", "/oidc").applies("GET", path, "10.96.0.56"), "no Service address: never");
  }

  @Test
  void keysMoveToTheServiceAndNothingElseChanges() throws Exception {
    Answer out = discovery.rewrite(answer(200, DOC));
    var doc = new ObjectMapper().readTree(out.body());
    assertEquals("https://10.96.0.56:5556/oidc/keys", doc.path("jwks_uri").asText());
    assertEquals("https://login.example.com/oidc", doc.path("issuer").asText(), "kube-apiserver checks the issuer: kept");
    assertEquals("https://login.example.com/oidc/auth", doc.path("authorization_endpoint").asText());
    assertEquals(List.of("application/json"), out.headers().get("Content-Type"));
  }

  @Test
  void anythingUnexpectedPassesUnchanged() {
    for (Answer a : List.of(answer(500, DOC), answer(200, "not json"), answer(200, "[1]"),
        answer(200, "{\"issuer\":\"https://a/oidc\",\"jwks_uri\":\"https://elsewhere/keys\"}"))) {
      assertArrayEquals(a.body(), discovery.rewrite(a).body());
    }
  }

  @Test
  void hostHeadersOfEveryForm() {
    assertTrue(ServiceDiscovery.sameHost("[fd00::56]:5556", "[fd00::56]"));
    assertTrue(ServiceDiscovery.sameHost("[FD00::56]", "[fd00::56]"));
    assertFalse(ServiceDiscovery.sameHost("[fd00::57]", "[fd00::56]"));
    assertTrue(ServiceDiscovery.sameHost("Dex.Example:443", "dex.example"));
  }

  private static Answer answer(int status, String body) {
    return new Answer(status, Map.of("Content-Type", List.of("application/json")), body.getBytes(StandardCharsets.UTF_8));
  }
}
