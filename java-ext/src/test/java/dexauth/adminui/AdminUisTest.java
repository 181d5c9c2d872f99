package dexauth.adminui;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dexauth.account.ForwardAuth;
import dexauth.chart.ChartValues;
import dexauth.config.DeploymentConfig;
import dexauth.config.TestPillars;
import dexauth.errors.Invalid;
import dexauth.rbac.Role;
import dexauth.rbac.RoleAssignments;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class AdminUisTest {
    private static Map<String, Object> ui(String name, String path, String mode, String app) {
        var m = new java.util.LinkedHashMap<String, Object>(Map.of("name", name, "path", path, "namespace", "monitoring",
                "service", Map.of("name", name, "port", 3000), "mode", mode));
        if (app != null) m.put("app", app);
        return m;
    }

    private static DeploymentConfig with(Object uis) {
        ObjectNode p = TestPillars.valid();
        TestPillars.set(p, "account:trusted_proxies", List.of("10.0.0.5"));
        return DeploymentConfig.fromPillar(TestPillars.set(p, "admin_uis", uis));
    }

    @Test
    void grafanaInModeOidcGetsItsCallbackOnTheAdminHostAndIsADexClient() {
        DeploymentConfig cfg = with(List.of(ui("grafana", "/grafana", "oidc", "grafana"),
                ui("prometheus", "/prometheus", "forward-auth", null)));
        AdminUi g = cfg.adminUis().get(0);
        assertEquals(List.of("https://127.0.0.1:5556/grafana/login/generic_oauth"), g.redirectUris());
        Map<String, String> v = ChartValues.of(cfg);
        assertEquals("admin-ui-grafana", v.get("clients.extra[0].id"));
        assertEquals("admin-ui-grafana", v.get("clients.extra[0].secretKey"));
        assertEquals(g.redirectUris().get(0), v.get("clients.extra[0].redirectURIs[0]"));
        assertFalse(v.containsKey("clients.extra[1].id"), "a forward-auth UI is no Dex client");
    }

    @Test
    void mistakesNameTheirPillarKey() {
        assertEquals("dexauth:admin_uis[0]:mode", assertThrows(Invalid.class,
                () -> with(List.of(ui("a", "/a", "basic", null)))).field());
        assertEquals("dexauth:admin_uis[1]:path", assertThrows(Invalid.class,
                () -> with(List.of(ui("a", "/a", "oidc", "grafana"), ui("b", "/a", "oidc", "grafana")))).field());
        assertEquals("dexauth:admin_uis[0]:path", assertThrows(Invalid.class,
                () -> with(List.of(ui("a", "/account", "forward-auth", null)))).field());
        assertEquals("dexauth:admin_uis[0]:redirect_uris", assertThrows(Invalid.class,
                () -> with(List.of(ui("a", "/a", "oidc", null)))).field(), "a generic OIDC UI names its callback");
        var noPort = ui("a", "/a", "forward-auth", null);
        noPort.put("service", Map.of("name", "a"));
        assertEquals("dexauth:admin_uis[0]:service:port", assertThrows(Invalid.class, () -> with(List.of(noPort))).field());
        ObjectNode p = TestPillars.valid();
        TestPillars.set(p, "admin_uis", List.of(ui("grafana", "/grafana", "forward-auth", "grafana")));
        assertEquals("dexauth:admin_uis[0]:proxy_addresses", assertThrows(Invalid.class,
                () -> DeploymentConfig.fromPillar(p)).field(), "Grafana's auth proxy needs a whitelist");
    }

    @Test
    void grafanaBehindForwardAuthTrustsOurHeadersFromTheProxiesOnly() {
        AdminUi g = with(List.of(ui("grafana", "/grafana", "forward-auth", "grafana"))).adminUis().get(0);
        var s = GrafanaSettings.authProxy(g, URI.create("https://cp.example.com"), "/account").sections();
        assertEquals(ForwardAuth.USER, s.get("auth.proxy").get("header_name"));
        assertTrue(s.get("auth.proxy").get("headers").contains("Role:" + ForwardAuth.GRAFANA_ROLE));
        assertEquals("10.0.0.5", s.get("auth.proxy").get("whitelist"));
        assertEquals("https://cp.example.com/grafana/", s.get("server").get("root_url"));
        assertEquals("true", s.get("auth").get("disable_login_form"));
    }

    @Test
    void theRoleExpressionListsHoldersHighestRoleFirst() {
        RoleAssignments.Holders h = RoleAssignments.Holders.empty();
        h.users().get(Role.CLUSTER_ADMIN).add("admin@x.io");
        h.groups().get(Role.READ_ONLY).add("corp:ops`team");
        h.groups().get(Role.READ_ONLY).add("corp:cn=a:b");
        String e = RoleExpression.of(h);
        assertTrue(e.indexOf("'Admin'") < e.indexOf("'Editor'") && e.indexOf("'Editor'") < e.indexOf("'Viewer'"), e);
        assertTrue(e.contains("`[\"admin@x.io\"]`"), e);
        // a group matches only for the IdP it was granted for
        assertTrue(e.contains("federated_claims.connector_id == 'corp' && length((groups || `[]`)[?contains("
                + "`[\"cn=a:b\",\"ops\\`team\"]`, @)]) > `0`"), e);
        assertTrue(e.endsWith("''"), "no role: empty, which strict mode refuses");
    }
}
