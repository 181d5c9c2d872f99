package dexauth.idp.ad;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.fasterxml.jackson.databind.JsonNode;
import dexauth.errors.Invalid;
import dexauth.idp.IdpSpec;
import dexauth.idp.ldap.DirectorySettings;
import org.junit.jupiter.api.Test;

/** The AD kind: presets derived from the domain, UPN logins, nested groups through Dex's LDAP connector. */
class ActiveDirectoryTest {
  @Test
  void presetsDeriveTheBaseDnAndUseNestedGroups() {
    DirectorySettings s = ActiveDirectory.settings("AD.example.test", true);
    s.host = "dc1.ad.example.test";
    IdpSpec spec = IdpSpec.of("corp", "Corp AD", s);
    JsonNode c = spec.config();
    assertEquals("ad", spec.kind().id());
    assertEquals("ldap", spec.connector(java.net.URI.create("https://dex")).path("type").asText());
    assertEquals("DC=ad,DC=example,DC=test", c.path("userSearch").path("baseDN").asText());
    assertEquals("DC=ad,DC=example,DC=test", c.path("groupSearch").path("baseDN").asText());
    assertEquals("userPrincipalName", c.path("userSearch").path("username").asText());
    assertEquals("sAMAccountName", c.path("userSearch").path("idAttr").asText());
    assertEquals("Email address", c.path("usernamePrompt").asText());
    assertEquals("member:1.2.840.113556.1.4.1941:", c.path("groupSearch").path("userMatchers").get(0).path("groupAttr").asText());
    assertEquals("ldaps://dc1.ad.example.test:636", spec.server());
  }

  @Test
  void shortNamesAndDirectGroupsOnRequest() {
    DirectorySettings s = ActiveDirectory.settings("example.com", false);
    s.host = "dc1";
    s.usernameAttr = "sAMAccountName";
    JsonNode c = s.toConfig();
    assertEquals("member", c.path("groupSearch").path("userMatchers").get(0).path("groupAttr").asText());
    assertEquals("Username", c.path("usernamePrompt").asText());
  }

  @Test
  void aDomainThatIsNotDnsIsRefusedNamingTheSetting() {
    Invalid e = assertThrows(Invalid.class, () -> ActiveDirectory.settings("not a domain", true));
    assertEquals("domain", e.field());
    assertEquals("'not a domain' is not a DNS domain like example.com", e.getMessage());
    assertThrows(Invalid.class, () -> ActiveDirectory.settings("localhost", true));
  }
}
