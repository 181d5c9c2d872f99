package dexauth.adminui;

import dexauth.chart.ChartSecrets;
import dexauth.errors.NotFound;
import dexauth.rbac.Role;
import dexauth.rbac.RoleAssignments;
import dexauth.users.MockCluster;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The admin UIs' objects on fabric8's mock API server: created once, quiet re-applies, dry runs, removal. */
class AdminUiObjectsTest {
    private static final AdminUi GRAFANA = new AdminUi("grafana", "/grafana", "monitoring", "grafana", 80,
            AdminUi.Mode.OIDC, AdminUi.App.GRAFANA, List.of("https://cp.example.com/grafana/login/generic_oauth"), List.of());
    private static final AdminUi PROMETHEUS = new AdminUi("prometheus", "/prometheus", "monitoring", "prometheus", 9090,
            AdminUi.Mode.FORWARD_AUTH, AdminUi.App.GENERIC, List.of(), List.of());
    private static final AdminUiObjects.Context CTX = new AdminUiObjects.Context("dexauth",
            URI.create("https://dex-account.dexauth.svc.cluster.local:8443/account"), "/account",
            URI.create("https://cp.example.com"), URI.create("https://cp.example.com/oidc"), () -> "CA PEM",
            "nginx-control-plane", List.of(), "Cluster login");

    MockCluster cluster;
    KubernetesClient kube;

    @BeforeEach
    void start() {
        cluster = new MockCluster();
        kube = cluster.kube;
        kube.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName("monitoring").endMetadata().build())
                .create();
    }

    @AfterEach
    void stop() { cluster.close(); }

    private Map<String, String> ensure(List<AdminUi> uis, boolean dry) {
        RoleAssignments.Holders holders = RoleAssignments.Holders.empty();
        holders.users().get(Role.CLUSTER_ADMIN).add("admin@cluster.local");
        return AdminUiObjects.ensure(kube, CTX, uis, () -> holders, dry);
    }

    @Test
    void aDryRunSaysWhatAnApplyDoesWhichARepeatDoesNot() {
        Map<String, String> planned = ensure(List.of(GRAFANA, PROMETHEUS), true);
        assertNull(kube.network().v1().ingresses().inNamespace("monitoring").withName("dexauth-prometheus").get());
        assertEquals(planned.keySet(), ensure(List.of(GRAFANA, PROMETHEUS), false).keySet());
        assertEquals(Map.of(), ensure(List.of(GRAFANA, PROMETHEUS), false), "a re-apply changes nothing");

        var secret = kube.secrets().inNamespace("monitoring").withName("dexauth-grafana-oidc").get().getData();
        String clientSecret = decode(secret.get(OidcSecret.CLIENT_SECRET));
        assertEquals(clientSecret, decode(kube.secrets().inNamespace("dexauth").withName(ChartSecrets.CLIENT_SECRETS)
                .get().getData().get("admin-ui-grafana")), "the UI's copy of its Dex client secret");
        assertEquals("CA PEM", decode(secret.get(OidcSecret.CA)));
        assertTrue(decode(secret.get(OidcSecret.GRAFANA_INI)).contains("`[\"admin@cluster.local\"]`"), "the role holders");
        var notes = kube.network().v1().ingresses().inNamespace("monitoring").withName("dexauth-prometheus").get()
                .getMetadata().getAnnotations();
        assertEquals("https://dex-account.dexauth.svc.cluster.local:8443/account/auth/verify",
                notes.get("nginx.ingress.kubernetes.io/auth-url"));
        assertFalse(kube.network().v1().ingresses().inNamespace("monitoring").withName("dexauth-grafana").get()
                .getMetadata().getAnnotations().containsKey("nginx.ingress.kubernetes.io/auth-url"));

        // A new role holder changes Grafana's role expression, and nothing else.
        RoleAssignments.Holders more = RoleAssignments.Holders.empty();
        more.users().get(Role.READ_ONLY).add("reader@cluster.local");
        assertEquals(Map.of("secret/monitoring/dexauth-grafana-oidc", "updated"),
                AdminUiObjects.ensure(kube, CTX, List.of(GRAFANA, PROMETHEUS), () -> more, false));
    }

    @Test
    void aUiRemovedFromPillarLosesItsObjectsAndClientSecret() {
        ensure(List.of(GRAFANA, PROMETHEUS), false);
        Map<String, String> dry = AdminUiObjects.prune(kube, "dexauth", List.of(PROMETHEUS), true);
        assertNotNull(kube.secrets().inNamespace("monitoring").withName("dexauth-grafana-oidc").get());
        assertEquals(dry, AdminUiObjects.prune(kube, "dexauth", List.of(PROMETHEUS), false));
        assertTrue(dry.containsKey("secret/monitoring/dexauth-grafana-oidc") && dry.containsKey("ingress/monitoring/dexauth-grafana"), dry.toString());
        assertNull(kube.secrets().inNamespace("monitoring").withName("dexauth-grafana-oidc").get());
        assertFalse(kube.secrets().inNamespace("dexauth").withName(ChartSecrets.CLIENT_SECRETS).get().getData()
                .containsKey("admin-ui-grafana"));
        assertNotNull(kube.network().v1().ingresses().inNamespace("monitoring").withName("dexauth-prometheus").get());
        assertEquals(Map.of(), AdminUiObjects.prune(kube, "dexauth", List.of(PROMETHEUS), false));
        AdminUiObjects.prune(kube, "dexauth", List.of(), false);
        assertNull(kube.network().v1().ingresses().inNamespace("monitoring").withName("dexauth-prometheus").get());
    }

    @Test
    void aMissingNamespaceIsNamed() {
        AdminUi elsewhere = new AdminUi("x", "/x", "nowhere", "x", 80, AdminUi.Mode.FORWARD_AUTH, AdminUi.App.GENERIC,
                List.of(), List.of());
        assertTrue(assertThrows(NotFound.class, () -> ensure(List.of(elsewhere), false)).getMessage().contains("'nowhere'"));
    }

    private static String decode(String b64) {
        return new String(Base64.getDecoder().decode(b64), StandardCharsets.UTF_8);
    }
}
