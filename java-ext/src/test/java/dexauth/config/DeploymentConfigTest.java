package dexauth.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dexauth.errors.Invalid;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class DeploymentConfigTest {

    /** Asserts the pillar is rejected with an error that names {@code key}, and returns the message. */
    private static String rejected(String key, Executable parse) {
        Invalid e = assertThrows(Invalid.class, parse);
        assertEquals(key, e.field(), e::getMessage);
        assertTrue(e.getMessage().contains(key), e::getMessage);
        return e.getMessage();
    }

    @Test
    void defaultsWithAnIssuerParse() {
        DeploymentConfig cfg = DeploymentConfig.fromPillar(TestPillars.valid());
        assertEquals(TestPillars.ISSUER, cfg.issuer().toString());
        assertEquals("127.0.0.1", cfg.issuerHost());
        assertEquals("dexauth", cfg.namespace());
        assertEquals(5556, cfg.httpsPort());
        assertEquals(5557, cfg.grpcPort());
        assertEquals(12, cfg.bcryptCost());
        assertEquals(Path.of("/etc/dexauth/certs-kubernetes"), cfg.certDir());
        assertEquals(Versions.dexImage(), DeploymentConfig.fromPillar(TestPillars.set(TestPillars.valid(), "dex:image", ""))
                .image(), "without dex:image, the Dex of toolchain/versions.env");
        assertTrue(Versions.dex().matches("v\\d+\\.\\d+\\.\\d+"), Versions::dex);
    }

    @Test
    void idpsNeedStructuredAuthenticationAndCheckTheirKeys() {
        java.util.Map<String, Object> ldap = java.util.Map.of("type", "ldap", "config", java.util.Map.of(
                "host", "ldap.example.com:636", "bindDN", "cn=dex",
                "userSearch", java.util.Map.of("baseDN", "dc=example", "username", "uid", "emailAttr", "mail")));
        ObjectNode pillar = TestPillars.set(TestPillars.valid(), "idps:corp", ldap);
        assertEquals(java.util.Set.of("corp"), DeploymentConfig.fromPillar(pillar).idps().keySet());
        String msg = rejected("dexauth:idps", () -> DeploymentConfig.fromPillar(
                TestPillars.set(pillar.deepCopy(), "kubernetes:version", "1.29.4")));
        assertTrue(msg.contains("1.30"), msg);
        rejected("dexauth:idps:corp:config:host", () -> DeploymentConfig.fromPillar(
                TestPillars.set(pillar.deepCopy(), "idps:corp:config:host", "ldap.example.com")));
    }

    @Test
    void missingIssuerNamesTheKey() {
        ObjectNode pillar = TestPillars.valid();
        pillar.remove("issuer");
        rejected("dexauth:issuer", () -> DeploymentConfig.fromPillar(pillar));
    }

    @Test
    void emptyIssuerFromTheDefaultsIsMissing() {
        rejected("dexauth:issuer", () -> TestPillars.with("issuer", ""));
    }

    @Test
    void plainHttpIssuerIsRejected() {
        String msg = rejected("dexauth:issuer", () -> TestPillars.with("issuer", "http://127.0.0.1:5556/oidc"));
        assertTrue(msg.contains("https://"), msg);
    }

    @Test
    void issuerWithTrailingSlashIsRejected() {
        String msg = rejected("dexauth:issuer", () -> TestPillars.with("issuer", TestPillars.ISSUER + "/"));
        assertTrue(msg.contains("trailing '/'"), msg);
    }

    @Test
    void theServiceAccountIssuerOrAQueryOrFragmentIsRejected() {
        String msg = rejected("dexauth:issuer", () -> TestPillars.with("issuer", "https://kubernetes.default.svc"));
        assertTrue(msg.contains("service-account issuer"), msg);
        rejected("dexauth:issuer", () -> TestPillars.with("issuer", TestPillars.ISSUER + "?tenant=a"));
        rejected("dexauth:issuer", () -> TestPillars.with("issuer", TestPillars.ISSUER + "#x"));
    }

    @Test
    void badIpSanNamesItsIndex() {
        String msg = rejected("dexauth:certificates:ip_sans[1]",
                () -> TestPillars.with("certificates:ip_sans", List.of("127.0.0.1", "10.0.0.300")));
        assertTrue(msg.contains("10.0.0.300"), msg);
    }

    @Test
    void ipAndDnsSansAreKept() {
        ObjectNode pillar = TestPillars.set(TestPillars.valid(), "certificates:ip_sans", List.of("10.0.0.1", "::1"));
        TestPillars.set(pillar, "certificates:dns_sans", List.of("dex.example.com"));
        DeploymentConfig cfg = DeploymentConfig.fromPillar(pillar);
        assertEquals(List.of("10.0.0.1", "::1"), cfg.ipSans());
        assertEquals(List.of("dex.example.com"), cfg.dnsSans());
    }

    @ParameterizedTest
    @ValueSource(ints = {9, 17})
    void bcryptCostOutsideTenToSixteenIsRejected(int cost) {
        String msg = rejected("dexauth:password:bcrypt_cost", () -> TestPillars.with("password:bcrypt_cost", cost));
        assertTrue(msg.contains(Integer.toString(cost)), msg);
    }

    @ParameterizedTest
    @ValueSource(ints = {10, 16})
    void bcryptCostBoundsAreAccepted(int cost) {
        assertEquals(cost, TestPillars.with("password:bcrypt_cost", cost).bcryptCost());
    }

    @Test
    void loginGuardDurationsAreSecondsAndItsDexPortIsItsOwn() {
        DeploymentConfig.LoginGuard g = TestPillars.with("login_guard:window", "1h30m").loginGuard();
        assertEquals(5400, g.windowSeconds());
        assertEquals(900, g.lockoutSeconds());
        assertEquals(10, g.maxFailures());
        String msg = rejected("dexauth:login_guard:lockout", () -> TestPillars.with("login_guard:lockout", "15 minutes"));
        assertTrue(msg.contains("15 minutes"), msg);
        msg = rejected("dexauth:login_guard:dex_port", () -> TestPillars.with("login_guard:dex_port", 5556));
        assertTrue(msg.contains("dex:ports"), msg);
        rejected("dexauth:login_guard:max_failures", () -> TestPillars.with("login_guard:max_failures", 0));
    }

    @Test
    void uppercaseNamespaceIsRejected() {
        String msg = rejected("dexauth:namespace", () -> TestPillars.with("namespace", "DexAuth"));
        assertTrue(msg.contains("DNS-1123"), msg);
    }

    @Test
    void nonNumericPortIsRejected() {
        rejected("dexauth:dex:ports:https", () -> TestPillars.with("dex:ports:https", "https"));
    }

    @Test
    void portOutOfRangeIsRejected() {
        rejected("dexauth:dex:ports:grpc", () -> TestPillars.with("dex:ports:grpc", 70000));
    }

    @Test
    void hostNetworkAndApiserverAddressDefaultOffAndAreChecked() {
        assertFalse(TestPillars.with("dex:ports:https", 5556).hostNetwork());
        assertNull(TestPillars.with("dex:ports:https", 5556).apiserverAddress());
        assertTrue(TestPillars.with("dex:host_network", true).hostNetwork());
        assertEquals("127.0.0.1:6443", TestPillars.with("dex:apiserver_address", "127.0.0.1:6443").apiserverAddress());
        rejected("dexauth:dex:apiserver_address", () -> TestPillars.with("dex:apiserver_address", "https://x:6443"));
        rejected("dexauth:dex:host_network", () -> TestPillars.with("dex:host_network", "yes"));
    }

    @Test
    void badSuperadminEmailIsRejected() {
        String msg = rejected("dexauth:superadmin:email", () -> TestPillars.with("superadmin:email", "admin-at-cluster"));
        assertTrue(msg.contains("admin-at-cluster"), msg);
    }

    @Test
    void theProbeAccountCannotBeTheSuperadmin() {
        String msg = rejected("dexauth:superadmin:email",
                () -> TestPillars.with("superadmin:email", dexauth.users.ProbeAccount.EMAIL));
        assertTrue(msg.contains("reserved for the kube-apiserver health check"), msg);
    }

    @Test
    void relativeManifestPathIsRejected() {
        rejected("dexauth:kubernetes:apiserver_manifest",
                () -> TestPillars.with("kubernetes:apiserver_manifest", "manifests/kube-apiserver.yaml"));
    }

    @Test
    void missingPillarNamesTheRoot() {
        rejected("dexauth", () -> DeploymentConfig.fromPillar(null));
    }

    @Test
    void kubernetesMinorFromVersion() {
        assertEquals(36, TestPillars.with("kubernetes:version", "1.36.3").kubernetesMinor());
        DeploymentConfig old = TestPillars.with("kubernetes:version", "v1.29.0");
        assertEquals(29, old.kubernetesMinor());
        assertEquals("1.29.0", old.kubernetesVersion());
    }

    @Test
    void malformedKubernetesVersionIsRejected() {
        rejected("dexauth:kubernetes:version", () -> TestPillars.with("kubernetes:version", "latest"));
    }

    @Test
    void accountPublicUrlDefaultsToTheIssuersOriginAndPath() {
        DeploymentConfig.Account a = DeploymentConfig.fromPillar(TestPillars.valid()).account();
        assertTrue(a.enabled());
        assertEquals("https://127.0.0.1:5556/account", a.publicUrl().toString());
        assertEquals("https://127.0.0.1:5556/account/callback", a.redirectUri());
        assertEquals("dexauth-console", a.clientId());
        assertEquals("https://login.example.com/console",
                TestPillars.with("account:public_url", "https://login.example.com/console").account().publicUrl().toString());
    }

    @Test
    void dexReplicasAreOneToTwenty() {
        assertEquals(1, DeploymentConfig.fromPillar(TestPillars.valid()).dexReplicas());
        assertEquals(3, TestPillars.with("dex:replicas", 3).dexReplicas());
        rejected("dexauth:dex:replicas", () -> TestPillars.with("dex:replicas", 0));
        rejected("dexauth:dex:replicas", () -> TestPillars.with("dex:replicas", 21));
        rejected("dexauth:dex:replicas", () -> TestPillars.with("dex:replicas", "three"));
    }

    @Test
    void accountKeysAreValidatedByName() {
        rejected("dexauth:account:path", () -> TestPillars.with("account:path", "account"));
        rejected("dexauth:account:path", () -> TestPillars.with("account:path", "/account/"));
        rejected("dexauth:account:public_url", () -> TestPillars.with("account:public_url", "http://x/account"));
        rejected("dexauth:account:port", () -> TestPillars.with("account:port", 70000));
        rejected("dexauth:account:replicas", () -> TestPillars.with("account:replicas", "two"));
        rejected("dexauth:account:enabled", () -> TestPillars.with("account:enabled", "yes"));
        rejected("dexauth:account:listen_address", () -> TestPillars.with("account:listen_address", ""));
        rejected("dexauth:account:dex_grpc_address", () -> TestPillars.with("account:dex_grpc_address", "dex"));
        rejected("dexauth:account:trusted_proxies[1]",
                () -> TestPillars.with("account:trusted_proxies", java.util.List.of("10.0.0.5", "ingress")));
        rejected("dexauth:account:session_idle_minutes", () -> TestPillars.with("account:session_idle_minutes", 0));
        rejected("dexauth:account:session_absolute_minutes",
                () -> TestPillars.with("account:session_absolute_minutes", 10));
    }

    @Test
    void brandingDefaultsAndAColourInAnyCase() {
        DeploymentConfig cfg = DeploymentConfig.fromPillar(TestPillars.valid());
        assertEquals("Cluster login", cfg.productName());
        assertEquals("#1f5fae", cfg.primaryColor());
        assertEquals("#aabbcc", TestPillars.with("branding:primary_color", "#AABBCC").primaryColor());
    }

    @ParameterizedTest
    @ValueSource(strings = {"red", "#fff", "#12345g", "#1f5fae; background: url(x)", "1f5fae", "#1f5fae00"})
    void primaryColorMustBeSixHexDigits(String color) {
        String msg = rejected("dexauth:branding:primary_color", () -> TestPillars.with("branding:primary_color", color));
        assertTrue(msg.contains("#1f5fae"), msg);
    }

    @Test
    void unquotedColourReadAsNothingSaysToQuoteIt() {
        String msg = rejected("dexauth:branding:primary_color", () -> TestPillars.with("branding:primary_color", null));
        assertTrue(msg.contains("quotes"), msg);
    }

    @Test
    void productNameIsOneShortLine() {
        rejected("dexauth:branding:product_name", () -> TestPillars.with("branding:product_name", "Acme\nlogin"));
        rejected("dexauth:branding:product_name", () -> TestPillars.with("branding:product_name", "x".repeat(61)));
        assertEquals("Acme, Inc. <login>", TestPillars.with("branding:product_name", "Acme, Inc. <login>").productName());
    }
}
