package dexauth.idp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dexauth.errors.Invalid;
import dexauth.idp.ldap.DirectorySettings;
import dexauth.idp.ldap.Ldap;
import dexauth.idp.oidc.Oidc;
import java.net.URI;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** What every kind shares: names, secrets kept out of pillar, the pillar file, the Dex connector. */
class IdpSpecTest {
  static final URI ISSUER = URI.create("https://dex.example.com/oidc");

  static IdpSpec openLdap() {
    DirectorySettings s = Ldap.settings();
    s.host = "ldap.example.com";
    s.userBaseDN = "ou=people,dc=example,dc=com";
    s.bindDN = "cn=dex,dc=example,dc=com";
    return IdpSpec.of("corp", "Corp", s);
  }

  @Test
  void connectorCarriesTheSecretOnlyAsAnEnvironmentReference() {
    IdpSpec spec = openLdap();
    ObjectNode connector = spec.connector(ISSUER);
    assertEquals("ldap", connector.path("type").asText());
    assertEquals("corp", connector.path("id").asText());
    assertEquals("Corp", connector.path("name").asText());
    assertEquals("$DEXAUTH_IDP_CORP", connector.path("config").path("bindPW").asText());
    assertEquals("dexauth-idp-corp", spec.secretName());
    assertFalse(spec.toPillar().path("config").has("bindPW"), "pillar must never hold the bind password");
    assertEquals("sso-2", IdpSpec.of("sso-2", null, new Oidc.Settings("https://sso", "k", null, null, false, null))
        .displayName(), "the display name defaults to the IdP name");
  }

  @Test
  void invalidNamesAndSecretsInPillarNameTheirPillarKey() {
    ObjectNode good = openLdap().config();
    Invalid e = assertThrows(Invalid.class, () -> new IdpSpec("local", Ldap.KIND, "x", good));
    assertTrue(e.getMessage().contains("built-in local"), e.getMessage());
    assertEquals("dexauth:idps:local", e.field());
    assertThrows(Invalid.class, () -> new IdpSpec("Corp_LDAP", Ldap.KIND, "x", good));

    ObjectNode secretInPillar = good.deepCopy().put("bindPW", "hunter2");
    e = assertThrows(Invalid.class, () -> new IdpSpec("corp", Ldap.KIND, "x", secretInPillar));
    assertEquals("dexauth:idps:corp:config:bindPW", e.field());
    assertFalse(e.getMessage().contains("hunter2"), "an error must not echo a secret");

    ObjectNode skipVerify = good.deepCopy().put("insecureSkipVerify", true);
    assertEquals("dexauth:idps:corp:config:insecureSkipVerify",
        assertThrows(Invalid.class, () -> new IdpSpec("corp", Ldap.KIND, "x", skipVerify)).field());
  }

  @Test
  void pillarFileRoundTripsAndRejectsUnknownTypes() {
    String text = IdpCatalog.render(Map.of("corp", openLdap()));
    assertTrue(text.startsWith("#!yaml"), "the renderer line keeps Jinja away from LDAP filters");
    Map<String, IdpSpec> back = IdpCatalog.parse(text);
    assertEquals(openLdap(), back.get("corp"));
    assertTrue(IdpCatalog.parse("#!yaml\n{}\n").isEmpty());
    assertTrue(IdpCatalog.parse(null).isEmpty());
    Invalid e = assertThrows(Invalid.class,
        () -> IdpCatalog.parse("dexauth:\n  idps:\n    x:\n      type: kerberos\n      config: {}\n"));
    assertEquals("dexauth:idps:x:type", e.field());
    assertTrue(e.getMessage().contains("ldap, ad, oidc, gitlab, github"), e.getMessage());
    assertEquals("dexauth:idps", assertThrows(Invalid.class, () -> IdpCatalog.parse("dexauth: {idps: [a]}\n")).field());
  }

  @Test
  void numberLikeTextStaysQuotedAndAnUnquotedNumberIsRefusedNamingTheKey() {
    var gh = new dexauth.idp.github.Github.Settings("12:30", java.util.List.of("acme"), null, null, false);
    String text = IdpCatalog.render(java.util.Map.of("gh", IdpSpec.of("gh", null, gh)));
    assertTrue(text.contains("clientID: \"12:30\""), text);
    assertEquals("12:30", IdpCatalog.parse(text).get("gh").config().get("clientID").textValue());
    Invalid e = assertThrows(Invalid.class, () -> IdpCatalog.parse(
        "dexauth:\n  idps:\n    gh:\n      type: github\n      config:\n        clientID: 26\n"));
    assertEquals("dexauth:idps:gh:config:clientID", e.field());
    assertTrue(e.getMessage().contains("quotes"), e.getMessage());
  }

  @Test
  void showMasksTheSecretAndAbbreviatesTheCa() {
    DirectorySettings s = Ldap.settings();
    s.host = "ldap.example.com";
    s.userBaseDN = "dc=example";
    s.bindDN = "cn=dex";
    s.ca = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    String shown = IdpCatalog.show(IdpSpec.of("corp", null, s));
    assertTrue(shown.contains("bindPW: \"******** (Secret dexauth-idp-corp)\""), shown);
    assertTrue(shown.contains("rootCAData: \"<PEM CA, 80 base64 chars>\""), shown);
    assertFalse(shown.contains("MIIB"), shown);
  }

  @Test
  void probeHintsNameSettingsTheCallerRenders() {
    ProbeReport r = new ProbeReport();
    r.pass("DNS", "ok");
    r.fail("TLS", "untrusted", "pass {ca} with the CA certificate");
    r.note("a note");
    assertFalse(r.ok());
    assertEquals("TLS", r.failure().step());
    assertEquals(java.util.List.of("ok   DNS       ok", "FAIL TLS       untrusted",
        "               fix: pass --ca-file with the CA certificate", "     a note"),
        r.lines(s -> "ca".equals(s) ? "--ca-file" : s));
  }

  @Test
  void adminRefusesToOverwriteAndNamesAMissingIdp() {
    String[] file = {IdpCatalog.render(Map.of("corp", openLdap()))};
    IdpAdmin admin = new IdpAdmin(new IdpAdmin.CatalogFile() {
      @Override public String read() { return file[0]; }
      @Override public void write(String text) { file[0] = text; }
    }, null);
    assertEquals(openLdap(), admin.get("corp"));
    assertEquals("no IdP named other", assertThrows(dexauth.errors.NotFound.class, () -> admin.get("other")).getMessage());
    String before = file[0];
    assertThrows(dexauth.errors.Conflict.class, () -> admin.save(openLdap(), "pw".toCharArray(), false));
    assertEquals(before, file[0], "a refused save changes nothing");
  }

  @Test
  void registryListsEachKindOnceByItsId() {
    assertEquals(java.util.List.of("ldap", "ad", "oidc", "gitlab", "github"),
        IdpKinds.ALL.stream().map(IdpKind::id).toList());
    for (IdpKind k : IdpKinds.ALL) assertEquals(k, IdpKinds.find(k.id()).orElseThrow());
    assertTrue(IdpKinds.find("kerberos").isEmpty());
  }
}
