package dexauth.chart;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import dexauth.config.DeploymentConfig;
import dexauth.config.TestPillars;
import dexauth.config.Versions;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

class ChartValuesTest {
    /** Long runs of base64/hex-like characters: what a generated secret or key material looks like. */
    private static final Pattern SECRET_LIKE = Pattern.compile("[A-Za-z0-9+/_=-]{24,}");

    private static Map<String, String> values(String key, Object value) {
        return ChartValues.of(TestPillars.with(key, value));
    }

    private static Map<String, String> values() {
        ObjectNode pillar = TestPillars.set(TestPillars.valid(), "ingress:hosts",
                List.of("dex.example.com", "login.example.com"));
        return ChartValues.of(DeploymentConfig.fromPillar(pillar));
    }

    @Test
    void carriesIssuerPortsAndSecretNames() {
        Map<String, String> v = values();
        assertEquals(TestPillars.ISSUER, v.get("issuer"));
        assertEquals("5556", v.get("ports.https"));
        assertEquals("5557", v.get("ports.grpc"));
        assertEquals("5558", v.get("ports.telemetry"));
        assertEquals(ChartSecrets.HTTPS_SECRET, v.get("tls.httpsSecret"));
        assertEquals(ChartSecrets.GRPC_SECRET, v.get("tls.grpcSecret"));
        assertEquals(ChartSecrets.CLIENT_SECRETS, v.get("clientSecrets.secretName"));
        assertEquals("kubernetes", v.get("clients.apiserver.id"));
        assertEquals("authctl", v.get("clients.cli.id"));
        assertEquals("kubectl", v.get("clients.kubectl.id"));
        assertEquals("10m", v.get("expiry.idTokens"));
        assertEquals("168h", v.get("expiry.refreshTokens.validIfNotUsedFor"));
        assertEquals("720h", v.get("expiry.refreshTokens.absoluteLifetime"));
    }

    @Test
    void dexReplicasFromPillar() {
        assertEquals("1", values().get("replicaCount"));
        assertEquals("3", values("dex:replicas", 3).get("replicaCount"));
    }

    @Test
    void accountServiceValuesNameItsSecretsAndConsoleClient() {
        Map<String, String> v = values();
        assertEquals("true", v.get("account.enabled"));
        assertEquals(Versions.authctl(), v.get("account.image.tag"));
        assertEquals("https://127.0.0.1:5556/account", v.get("account.publicUrl"));
        assertEquals("https://127.0.0.1:5556/account/callback", v.get("clients.console.redirectURIs[0]"));
        assertEquals("dexauth-console", v.get("clients.console.secretKey"));
        assertEquals(ChartSecrets.ACCOUNT_TLS_SECRET, v.get("account.tlsSecret"));
        assertEquals(ChartSecrets.GRPC_CLIENT_SECRET, v.get("account.grpcClientSecret"));
        assertEquals("cluster-admin", v.get("account.bindableClusterRoles[0]"));
        assertEquals("30", v.get("account.session.idleMinutes"));
        Map<String, String> off = values("account:enabled", false);
        assertEquals("false", off.get("account.enabled"));
        assertFalse(off.containsKey("clients.console.id"));
    }

    @Test
    void ingressHostsAreIndexed() {
        Map<String, String> v = values();
        assertEquals("true", v.get("ingress.enabled"));
        assertEquals("/oidc", v.get("ingress.path"));
        assertEquals("dex.example.com", v.get("ingress.hosts[0]"));
        assertEquals("login.example.com", v.get("ingress.hosts[1]"));
        assertFalse(v.containsKey("ingress.hosts[2]"));
    }

    @Test
    void withoutPillarHostsDexsIngressAnswersForTheIssuersHostOnly() {
        Map<String, String> named = values("issuer", "https://login.example.com/oidc");
        assertEquals("login.example.com", named.get("ingress.hosts[0]"));
        assertFalse(named.containsKey("ingress.hosts[1]"));
        // An Ingress host cannot be an IP address: an issuer on one keeps a host-less rule.
        assertFalse(values("issuer", TestPillars.ISSUER).containsKey("ingress.hosts[0]"));
    }

    @Test
    void imageIsSplitIntoRepositoryAndTag() {
        Map<String, String> v = values("dex:image", "ghcr.io/dexidp/dex:v9.8.7");
        assertEquals("ghcr.io/dexidp/dex", v.get("image.repository"));
        assertEquals("v9.8.7", v.get("image.tag"));
    }

    @Test
    void withoutAnImageTheDexOfVersionsEnvIsDeployed() {
        Map<String, String> v = values("dex:image", "");
        assertEquals(Versions.DEX_IMAGE_REPOSITORY, v.get("image.repository"));
        assertEquals(Versions.dex(), v.get("image.tag"));
        v = values("dex:image", "registry.local/dex");
        assertEquals(Versions.dex(), v.get("image.tag"), "an image without a tag gets the targeted version");
    }

    @Test
    void objectsAreNamedAfterTheReleaseWithTheChartNameOnce() {
        assertEquals("dex", ChartValues.fullname("dex"));
        assertEquals("my-dex", ChartValues.fullname("my-dex"));
        assertEquals("auth-dex", ChartValues.fullname("auth"));
        assertEquals("auth-dex", values("chart:release", "auth").get("fullname"));
        assertEquals(63, ChartValues.fullname("a".repeat(70)).length());
        assertEquals("a".repeat(61), ChartValues.fullname("a".repeat(61) + "--x"), "no trailing '-' after truncation");
    }

    @Test
    void registryPortIsNotMistakenForATag() {
        Map<String, String> v = values("dex:image", "registry.local:5000/dex:v1");
        assertEquals("registry.local:5000/dex", v.get("image.repository"));
        assertEquals("v1", v.get("image.tag"));

        assertEquals("registry.local:5000/dex", values("dex:image", "registry.local:5000/dex").get("image.repository"));
    }

    @Test
    void noValueLooksLikeASecret() {
        values().forEach((key, value) -> {
            assertFalse(SECRET_LIKE.matcher(value).find(), () -> key + "=" + value + " looks like a secret");
            assertFalse(value.contains("PRIVATE KEY") || value.contains("CERTIFICATE"), key);
            assertFalse(value.startsWith("$2"), () -> key + " holds a bcrypt hash");
            assertFalse(key.toLowerCase().matches(".*(password|token|\\.secret)$"), () -> key + " is a secret value key");
        });
    }

    @Test
    void everyKeyExistsInTheChartsValues() throws Exception {
        JsonNode chartValues = new YAMLMapper().readTree(Path.of("..", "charts", "dex", "values.yaml").toFile());
        for (String key : values().keySet()) {
            String pointer = "/" + key.replaceAll("\\[\\d+]$", "").replace('.', '/');
            assertFalse(chartValues.at(pointer).isMissingNode(), () -> key + " is not a value of charts/dex");
        }
        assertTrue(values().size() > 10);
    }

    @Test
    void brandingReachesTheLoginPages() {
        Map<String, String> v = values("branding:product_name", "Acme cluster");
        assertEquals("Acme cluster", v.get("frontend.issuerName"));
        assertEquals("#1f5fae", v.get("frontend.primaryColor"));
    }
}
