package dexauth.apiserver;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import dexauth.config.DeploymentConfig;
import dexauth.config.TestPillars;
import dexauth.errors.Unavailable;
import dexauth.pki.CertificateAuthority;
import dexauth.pki.Pem;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ApiserverAuthenticationTest {
    private static final YAMLMapper YAML = new YAMLMapper();
    private static final String CA_PEM = Pem.encode(CertificateAuthority.create("dex-test-ca", 30).certificate());
    private static final List<String> ORIGINAL_FLAGS = List.of(
            "kube-apiserver",
            "--advertise-address=10.0.0.10",
            "--authorization-mode=Node,RBAC",
            "--client-ca-file=/etc/kubernetes/pki/ca.crt",
            "--etcd-servers=https://127.0.0.1:2379",
            "--secure-port=6443");
    /** A trimmed kubeadm manifest. */
    private static final String MANIFEST = """
            apiVersion: v1
            kind: Pod
            metadata:
              labels:
                component: kube-apiserver
                tier: control-plane
              name: kube-apiserver
              namespace: kube-system
            spec:
              containers:
              - command:
                - kube-apiserver
                - --advertise-address=10.0.0.10
                - --authorization-mode=Node,RBAC
                - --client-ca-file=/etc/kubernetes/pki/ca.crt
                - --etcd-servers=https://127.0.0.1:2379
                - --secure-port=6443
                image: registry.k8s.io/kube-apiserver:v1.36.3
                name: kube-apiserver
                volumeMounts:
                - mountPath: /etc/kubernetes/pki
                  name: k8s-certs
                  readOnly: true
              hostNetwork: true
              priorityClassName: system-node-critical
              volumes:
              - hostPath:
                  path: /etc/kubernetes/pki
                  type: DirectoryOrCreate
                name: k8s-certs
            """;

    @TempDir
    Path tmp;
    private Path manifest;
    private Path configDir;
    private Path configFile;

    @BeforeEach
    void writeManifest() throws IOException {
        manifest = tmp.resolve("manifests").resolve("kube-apiserver.yaml");
        configDir = tmp.resolve("dexauth");
        configFile = configDir.resolve("authentication-config.yaml");
        Files.createDirectories(manifest.getParent());
        Files.writeString(manifest, MANIFEST);
    }

    private DeploymentConfig config(String kubernetesVersion, String issuer) {
        ObjectNode pillar = TestPillars.valid();
        TestPillars.set(pillar, "issuer", issuer);
        TestPillars.set(pillar, "kubernetes:version", kubernetesVersion);
        TestPillars.set(pillar, "kubernetes:apiserver_manifest", manifest.toString());
        TestPillars.set(pillar, "kubernetes:authentication_config", configFile.toString());
        TestPillars.set(pillar, "certificates:base_dir", tmp.toString());
        return DeploymentConfig.fromPillar(pillar);
    }

    private DeploymentConfig config(String kubernetesVersion) {
        return config(kubernetesVersion, TestPillars.ISSUER);
    }

    private JsonNode container() throws IOException {
        return YAML.readTree(manifest.toFile()).at("/spec/containers/0");
    }

    private List<String> flags() throws IOException {
        List<String> out = new ArrayList<>();
        container().path("command").forEach(n -> out.add(n.asText()));
        return out;
    }

    private List<String> flagsStartingWith(String prefix) throws IOException {
        return flags().stream().filter(f -> f.startsWith(prefix)).collect(Collectors.toList());
    }

    private List<JsonNode> named(JsonNode array, String name) {
        List<JsonNode> out = new ArrayList<>();
        array.forEach(n -> { if (name.equals(n.path("name").asText())) out.add(n); });
        return out;
    }

    private List<JsonNode> volumes(String name) throws IOException {
        return named(YAML.readTree(manifest.toFile()).at("/spec/volumes"), name);
    }

    private List<JsonNode> mounts(String name) throws IOException {
        return named(container().path("volumeMounts"), name);
    }

    @Test
    void structuredConfigurationOn136() throws IOException {
        Map<String, String> changes = ApiserverAuthentication.configure(config("1.36.3"), CA_PEM, false);

        assertEquals(Set.of(configFile.toString(), manifest.toString()), changes.keySet());
        JsonNode authn = YAML.readTree(configFile.toFile());
        assertEquals("apiserver.config.k8s.io/v1", authn.path("apiVersion").asText());
        assertEquals("AuthenticationConfiguration", authn.path("kind").asText());
        assertEquals(1, authn.path("jwt").size());
        JsonNode jwt = authn.path("jwt").get(0);
        assertEquals(TestPillars.ISSUER, jwt.at("/issuer/url").asText());
        assertEquals(1, jwt.at("/issuer/audiences").size());
        assertEquals("kubernetes", jwt.at("/issuer/audiences/0").asText());
        assertEquals(CA_PEM, jwt.at("/issuer/certificateAuthority").asText());
        // Discovery from Dex's Service (defaults: 10.96.0.56), never the issuer's host.
        assertEquals("https://10.96.0.56:5556/oidc/.well-known/openid-configuration",
                jwt.at("/issuer/discoveryURL").asText());
        assertEquals(ApiserverAuthentication.USERNAME_EXPRESSION, jwt.at("/claimMappings/username/expression").asText());
        assertEquals("has(claims.federated_claims)", jwt.at("/claimValidationRules/0/expression").asText());
        assertEquals(ApiserverAuthentication.GROUPS_EXPRESSION, jwt.at("/claimMappings/groups/expression").asText());
        assertTrue(jwt.at("/claimMappings/groups/prefix").isMissingNode()); // an expression takes no prefix
    }

    @Test
    void manifestGainsOneFlagAndTheConfigMount() throws IOException {
        ApiserverAuthentication.configure(config("1.36.3"), CA_PEM, false);

        List<String> expected = new ArrayList<>(ORIGINAL_FLAGS);
        expected.add("--authentication-config=" + configFile);
        assertEquals(expected, flags(), "existing flags kept in order, one flag appended");

        List<JsonNode> volume = volumes(ApiserverAuthentication.VOLUME);
        assertEquals(1, volume.size());
        assertEquals(configDir.toString(), volume.get(0).at("/hostPath/path").asText());
        List<JsonNode> mount = mounts(ApiserverAuthentication.VOLUME);
        assertEquals(1, mount.size());
        assertEquals(configDir.toString(), mount.get(0).path("mountPath").asText());
        assertTrue(mount.get(0).path("readOnly").asBoolean(), "mounted read-only");
        assertEquals(1, volumes("k8s-certs").size(), "existing volumes kept");
        assertEquals(1, mounts("k8s-certs").size(), "existing mounts kept");
    }

    @Test
    void secondConfigureChangesNothing() throws IOException {
        ApiserverAuthentication.configure(config("1.36.3"), CA_PEM, false);
        byte[] manifestBefore = Files.readAllBytes(manifest);
        byte[] configBefore = Files.readAllBytes(configFile);

        Map<String, String> changes = ApiserverAuthentication.configure(config("1.36.3"), CA_PEM, false);

        assertEquals(Map.of(), changes);
        assertArrayEquals(manifestBefore, Files.readAllBytes(manifest));
        assertArrayEquals(configBefore, Files.readAllBytes(configFile));
    }

    @Test
    void issuerChangeRewritesOnlyTheConfigFile() throws IOException {
        ApiserverAuthentication.configure(config("1.36.3"), CA_PEM, false);
        byte[] manifestBefore = Files.readAllBytes(manifest);
        String newIssuer = "https://dex.example.com/oidc";

        Map<String, String> changes = ApiserverAuthentication.configure(config("1.36.3", newIssuer), CA_PEM, false);

        assertEquals(Set.of(configFile.toString()), changes.keySet());
        assertArrayEquals(manifestBefore, Files.readAllBytes(manifest), "no kube-apiserver restart");
        assertEquals(newIssuer, YAML.readTree(configFile.toFile()).at("/jwt/0/issuer/url").asText());
    }

    @Test
    void legacyFlagsBefore130() throws IOException {
        ApiserverAuthentication.configure(config("1.29.4"), CA_PEM, false);

        Path caFile = configDir.resolve("dex-ca.crt");
        assertEquals(List.of(
                "--oidc-issuer-url=" + TestPillars.ISSUER,
                "--oidc-client-id=kubernetes",
                "--oidc-ca-file=" + caFile,
                "--oidc-username-claim=email",
                "--oidc-username-prefix=oidc:",
                "--oidc-groups-claim=groups",
                "--oidc-groups-prefix=oidc:"), flagsStartingWith("--oidc-"));
        assertEquals(List.of(), flagsStartingWith("--authentication-config"), "mutually exclusive with --oidc-*");
        assertEquals(ORIGINAL_FLAGS, flags().subList(0, ORIGINAL_FLAGS.size()), "existing flags kept in order");
        assertEquals(CA_PEM, Files.readString(caFile));
        assertFalse(Files.exists(configFile));
        assertEquals(1, mounts(ApiserverAuthentication.VOLUME).size(), "the CA file's directory is mounted");
    }

    @Test
    void upgradeTo136ReplacesEveryOidcFlag() throws IOException {
        ApiserverAuthentication.configure(config("1.29.4"), CA_PEM, false);

        Map<String, String> changes = ApiserverAuthentication.configure(config("1.36.3"), CA_PEM, false);

        assertTrue(changes.containsKey(manifest.toString()), changes::toString);
        assertEquals(List.of(), flagsStartingWith("--oidc-"));
        assertEquals(List.of("--authentication-config=" + configFile), flagsStartingWith("--authentication-config"));
        assertFalse(Files.exists(configDir.resolve("dex-ca.crt")), "the legacy CA file is removed");
        assertTrue(Files.exists(configFile));
    }

    @Test
    void downgradeTo129RemovesTheStructuredConfig() throws IOException {
        ApiserverAuthentication.configure(config("1.36.3"), CA_PEM, false);

        ApiserverAuthentication.configure(config("1.29.4"), CA_PEM, false);

        assertEquals(List.of(), flagsStartingWith("--authentication-config"));
        assertEquals(7, flagsStartingWith("--oidc-").size());
        assertFalse(Files.exists(configFile));
    }

    @Test
    void purgeRemovesFlagMountAndFile() throws IOException {
        ApiserverAuthentication.configure(config("1.36.3"), CA_PEM, false);

        Map<String, String> changes = ApiserverAuthentication.unconfigure(config("1.36.3"), true, false);

        assertEquals(Set.of(manifest.toString(), configFile.toString()), changes.keySet());
        assertEquals(ORIGINAL_FLAGS, flags());
        assertEquals(List.of(), volumes(ApiserverAuthentication.VOLUME));
        assertEquals(List.of(), mounts(ApiserverAuthentication.VOLUME));
        assertEquals(1, volumes("k8s-certs").size(), "unrelated volumes kept");
        assertFalse(Files.exists(configFile));
        assertEquals(Map.of(), ApiserverAuthentication.unconfigure(config("1.36.3"), true, false), "second run is quiet");
    }

    @Test
    void removalKeepsTheFlagAndTrustsNoIssuerSoNeitherItNorARedeploymentRestarts() throws IOException {
        ApiserverAuthentication.configure(config("1.36.3"), CA_PEM, false);
        String manifestBefore = Files.readString(manifest);

        Map<String, String> changes = ApiserverAuthentication.unconfigure(config("1.36.3"), false, false);

        assertEquals(Set.of(configFile.toString()), changes.keySet());
        assertEquals(manifestBefore, Files.readString(manifest), "the manifest is untouched: no restart");
        assertEquals(ApiserverAuthentication.TRUSTS_NO_ISSUER, Files.readString(configFile));
        assertFalse(Files.readString(configFile).contains("issuer"), "no issuer, no CA left");
        assertEquals(Map.of(), ApiserverAuthentication.unconfigure(config("1.36.3"), false, false), "second run is quiet");

        Map<String, String> redeployed = ApiserverAuthentication.configure(config("1.36.3"), CA_PEM, false);

        assertEquals(Set.of(configFile.toString()), redeployed.keySet(), "only the file: no restart");
        assertEquals(manifestBefore, Files.readString(manifest));
    }

    @Test
    void removalWithoutOurFlagChangesNothing() throws IOException {
        assertEquals(Map.of(), ApiserverAuthentication.unconfigure(config("1.36.3"), false, false));
        assertEquals(MANIFEST, Files.readString(manifest));
        assertFalse(Files.exists(configFile), "no file is made for a flag that is not there");
    }

    @Test
    void unconfigureRemovesLegacyFlagsAndCaFile() throws IOException {
        ApiserverAuthentication.configure(config("1.29.4"), CA_PEM, false);

        ApiserverAuthentication.unconfigure(config("1.29.4"), false, false);

        assertEquals(ORIGINAL_FLAGS, flags());
        assertFalse(Files.exists(configDir.resolve("dex-ca.crt")));
    }

    @Test
    void dryRunReportsButChangesNoFile() throws IOException {
        Map<String, String> changes = ApiserverAuthentication.configure(config("1.36.3"), CA_PEM, true);

        assertEquals(Set.of(configFile.toString(), manifest.toString()), changes.keySet());
        assertEquals(MANIFEST, Files.readString(manifest));
        assertFalse(Files.exists(configFile));
        assertFalse(Files.exists(configDir), "not even the directory is created");
    }

    @Test
    void dryRunUnconfigureChangesNoFile() throws IOException {
        ApiserverAuthentication.configure(config("1.36.3"), CA_PEM, false);
        byte[] manifestBefore = Files.readAllBytes(manifest);
        byte[] configBefore = Files.readAllBytes(configFile);

        Map<String, String> changes = ApiserverAuthentication.unconfigure(config("1.36.3"), true, true);
        Map<String, String> removal = ApiserverAuthentication.unconfigure(config("1.36.3"), false, true);

        assertEquals(Set.of(manifest.toString(), configFile.toString()), changes.keySet());
        assertEquals(Set.of(configFile.toString()), removal.keySet());
        assertArrayEquals(manifestBefore, Files.readAllBytes(manifest));
        assertArrayEquals(configBefore, Files.readAllBytes(configFile));
    }

    @Test
    void staleOidcFlagsFromAnotherToolAreReplaced() throws IOException {
        Files.writeString(manifest, MANIFEST.replace("    - --secure-port=6443\n",
                "    - --oidc-issuer-url=https://old.example.com\n    - --secure-port=6443\n"));

        ApiserverAuthentication.configure(config("1.36.3"), CA_PEM, false);

        assertEquals(List.of(), flagsStartingWith("--oidc-"));
        assertEquals(1, flagsStartingWith("--authentication-config").size());
    }

    @Test
    void theNodesServiceAccountIssuerIsRefusedBeforeAnythingIsWritten() throws IOException {
        Files.writeString(manifest, Files.readString(manifest).replace("    - --secure-port=6443\n",
                "    - --secure-port=6443\n    - --service-account-issuer=https://sa.example.com\n"));
        String before = Files.readString(manifest);
        DeploymentConfig cfg = config("1.36.3", "https://sa.example.com");
        dexauth.errors.Invalid e = assertThrows(dexauth.errors.Invalid.class,
                () -> ApiserverAuthentication.refuseServiceAccountIssuer(cfg));
        assertTrue(e.getMessage().contains("service-account issuer"), e.getMessage());
        assertEquals(before, Files.readString(manifest));
        assertFalse(Files.exists(configFile));
    }

    @Test
    void theNodesOwnApiserverIsItsAdvertiseAddressAndSecurePort() throws IOException {
        assertEquals("https://10.0.0.10:6443", ApiserverAuthentication.nodeUrl(config("1.36.3")));
    }

    @Test
    void missingManifestNamesThePillarKey() {
        DeploymentConfig cfg = config("1.36.3");
        Unavailable e = assertThrows(Unavailable.class, () -> {
            Files.delete(manifest);
            ApiserverAuthentication.configure(cfg, CA_PEM, false);
        });
        assertTrue(e.getMessage().contains("dexauth:kubernetes:apiserver_manifest"), e::getMessage);
    }
}
