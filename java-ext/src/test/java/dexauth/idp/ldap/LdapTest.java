package dexauth.idp.ldap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.unboundid.ldap.listener.InMemoryDirectoryServer;
import com.unboundid.ldap.listener.InMemoryDirectoryServerConfig;
import com.unboundid.ldap.listener.InMemoryListenerConfig;
import dexauth.errors.Invalid;
import dexauth.idp.IdpSpec;
import dexauth.idp.ProbeReport;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The LDAP kind: OpenLDAP presets, the connector config, its checks against a real (in-memory) directory. */
class LdapTest {
  private static final String BIND_DN = "cn=dex,dc=example,dc=org";
  private static InMemoryDirectoryServer directory;

  @BeforeAll
  static void startDirectory() throws Exception {
    InMemoryDirectoryServerConfig cfg = new InMemoryDirectoryServerConfig("dc=example,dc=org");
    cfg.setListenerConfigs(InMemoryListenerConfig.createLDAPConfig("ldap", 0));
    cfg.setSchema(null); // the entries below need no schema checking
    directory = new InMemoryDirectoryServer(cfg);
    directory.add("dn: dc=example,dc=org", "objectClass: top", "objectClass: domain", "dc: example");
    directory.add("dn: " + BIND_DN, "objectClass: person", "cn: dex", "sn: dex", "userPassword: bind-secret");
    directory.add("dn: ou=people,dc=example,dc=org", "objectClass: organizationalUnit", "ou: people");
    directory.add("dn: ou=groups,dc=example,dc=org", "objectClass: organizationalUnit", "ou: groups");
    directory.add("dn: uid=alice,ou=people,dc=example,dc=org", "objectClass: inetOrgPerson", "uid: alice",
        "cn: Alice", "sn: Liddell", "mail: alice@example.org");
    directory.add("dn: uid=bob,ou=people,dc=example,dc=org", "objectClass: inetOrgPerson", "uid: bob", "cn: Bob", "sn: B");
    directory.add("dn: cn=developers,ou=groups,dc=example,dc=org", "objectClass: groupOfNames", "cn: developers",
        "member: uid=alice,ou=people,dc=example,dc=org");
    directory.add("dn: cn=ldapusers,ou=groups,dc=example,dc=org", "objectClass: posixGroup", "cn: ldapusers",
        "memberUid: alice");
    directory.startListening();
  }

  @AfterAll
  static void stopDirectory() {
    directory.shutDown(true);
  }

  private static DirectorySettings plain() {
    DirectorySettings s = Ldap.settings();
    s.host = "127.0.0.1";
    s.port = directory.getListenPort();
    s.tls = DirectorySettings.Tls.NONE;
    s.bindDN = BIND_DN;
    s.userBaseDN = "ou=people,dc=example,dc=org";
    s.groupBaseDN = "ou=groups,dc=example,dc=org";
    return s;
  }

  private static List<String> lines(ProbeReport r) {
    return r.lines(setting -> "<" + setting + ">");
  }

  @Test
  void presetsGiveLdapsUidLoginsAndBothGroupKinds() {
    DirectorySettings s = Ldap.settings();
    s.host = "ldap.example.com";
    s.userBaseDN = "ou=people,dc=example,dc=com";
    JsonNode c = s.toConfig();
    assertEquals("ldap.example.com:636", c.path("host").asText());
    assertFalse(c.has("startTLS") || c.has("insecureNoSSL"));
    assertEquals("uid", c.path("userSearch").path("username").asText());
    assertEquals("Username", c.path("usernamePrompt").asText());
    assertEquals("ou=people,dc=example,dc=com", c.path("groupSearch").path("baseDN").asText());
    List<String> matchers = new ArrayList<>();
    c.path("groupSearch").path("userMatchers").forEach(m -> matchers.add(m.path("userAttr").asText() + "=" + m.path("groupAttr").asText()));
    assertEquals(List.of("DN=member", "DN=uniqueMember", "uid=memberUid"), matchers);
    assertFalse(IdpSpec.of("anon", null, s).hasSecret(), "no bind DN: anonymous bind, no secret");
    assertEquals("ldaps://ldap.example.com:636", IdpSpec.of("anon", null, s).server());
  }

  @Test
  void tlsModesPortsAndEmailSuffix() {
    DirectorySettings s = Ldap.settings();
    s.host = "ldap";
    s.userBaseDN = "dc=x";
    s.tls = DirectorySettings.Tls.STARTTLS;
    s.ca = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    JsonNode c = s.toConfig();
    assertEquals("ldap:389", c.path("host").asText());
    assertTrue(c.path("startTLS").asBoolean());
    assertTrue(c.has("rootCAData"));
    assertEquals("ldap+starttls://ldap:389", Ldap.KIND.server(c));
    s.tls = DirectorySettings.Tls.NONE;
    s.emailSuffix = "example.org";
    c = s.toConfig();
    assertTrue(c.path("insecureNoSSL").asBoolean());
    assertFalse(c.has("rootCAData"), "no CA without TLS");
    assertEquals("example.org", c.path("userSearch").path("emailSuffix").asText());
    assertFalse(c.path("userSearch").has("emailAttr"), "a suffix replaces the email attribute");
    s.host = "::1";
    assertEquals("[::1]:389", s.toConfig().path("host").asText());
  }

  @Test
  void wrongSettingsNameTheSettingAndWrongPillarNamesTheKey() {
    DirectorySettings s = Ldap.settings();
    assertEquals("host", assertThrows(Invalid.class, s::toConfig).field());
    s.host = "ldap";
    Invalid e = assertThrows(Invalid.class, s::toConfig);
    assertEquals("userBaseDN", e.field());
    assertTrue(e.getMessage().startsWith("is required"), e.getMessage());
    s.userBaseDN = "dc=x";
    s.groupMatchers = List.of("member");
    assertEquals("groupMatchers", assertThrows(Invalid.class, s::toConfig).field());

    ObjectNode good = plain().toConfig();
    assertEquals("k:host", assertThrows(Invalid.class,
        () -> Ldap.KIND.validate("k", good.deepCopy().put("host", "ldap.example.com"))).field());
    assertEquals("k:startTLS", assertThrows(Invalid.class,
        () -> Ldap.KIND.validate("k", good.deepCopy().put("startTLS", true))).field());
    ObjectNode noEmail = good.deepCopy();
    ((ObjectNode) noEmail.get("userSearch")).remove("emailAttr");
    assertEquals("k:userSearch:emailAttr", assertThrows(Invalid.class, () -> Ldap.KIND.validate("k", noEmail)).field());
    assertEquals("k:rootCAData", assertThrows(Invalid.class,
        () -> Ldap.KIND.validate("k", good.deepCopy().put("rootCAData", "bm90IGEgY2VydA=="))).field());
  }

  @Test
  void checkFollowsDexThroughBindUserAndGroups() {
    IdpSpec spec = IdpSpec.of("corp", null, plain());
    ProbeReport r = spec.check("bind-secret"::toCharArray, "alice");
    assertTrue(r.ok(), String.join("\n", lines(r)));
    String out = String.join("\n", lines(r));
    assertTrue(out.contains("ok   Bind      as " + BIND_DN + " accepted"), out);
    assertTrue(out.contains("alice is uid=alice,ou=people,dc=example,dc=org (email alice@example.org)"), out);
    assertTrue(out.contains("ok   Groups    developers, ldapusers"), out);
    assertTrue(out.contains("Kubernetes username: oidc:corp:alice@example.org"), out);
    assertTrue(out.contains("plain LDAP (<noTls>)"), "the TLS mode is named as a setting: " + out);
  }

  @Test
  void failedStepsSayWhichSettingToFix() {
    IdpSpec spec = IdpSpec.of("corp", null, plain());
    ProbeReport wrong = spec.check("nope"::toCharArray, null);
    assertEquals("Bind", wrong.failure().step());
    assertTrue(wrong.failure().detail().contains("invalid credentials"), wrong.failure().detail());

    assertEquals("User", spec.check("bind-secret"::toCharArray, "nobody").failure().step());
    ProbeReport noMail = spec.check("bind-secret"::toCharArray, "bob");
    assertTrue(noMail.failure().detail().contains("lacks mail"), noMail.failure().detail());
    assertTrue(String.join("\n", lines(noMail)).contains("(<emailAttr>...)"), String.join("\n", lines(noMail)));

    DirectorySettings s = plain();
    s.userBaseDN = "ou=nobody,dc=example,dc=org";
    ProbeReport base = IdpSpec.of("corp", null, s).check("bind-secret"::toCharArray, null);
    assertTrue(String.join("\n", lines(base)).contains("fix: check <userBaseDN> against the directory"),
        String.join("\n", lines(base)));

    s = plain();
    s.port = 1; // nothing listens there
    assertEquals("TCP", IdpSpec.of("corp", null, s).check(() -> {
      throw new AssertionError("the secret is not needed before the bind");
    }, null).failure().step());
  }
}
