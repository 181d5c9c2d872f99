package dexauth.apiserver;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dexauth.config.DeploymentConfig;
import dexauth.config.TestPillars;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ApiserverSnapshotTest {
    private static final String MANIFEST = """
            apiVersion: v1
            kind: Pod
            metadata:
              name: kube-apiserver
            spec:
              containers:
              - command:
                - kube-apiserver
                - --secure-port=6443
                name: kube-apiserver
            """;

    @TempDir
    Path tmp;

    private DeploymentConfig config(Path manifest, Path configFile) {
        ObjectNode pillar = TestPillars.valid();
        TestPillars.set(pillar, "issuer", TestPillars.ISSUER);
        TestPillars.set(pillar, "kubernetes:apiserver_manifest", manifest.toString());
        TestPillars.set(pillar, "kubernetes:authentication_config", configFile.toString());
        return DeploymentConfig.fromPillar(pillar);
    }

    @Test
    void restoreBringsBackBothFilesWithTheirModesAndKeepsACopyOutsideTheManifests() throws IOException {
        Path manifest = tmp.resolve("manifests").resolve("kube-apiserver.yaml");
        Path configFile = tmp.resolve("dexauth").resolve("authentication-config.yaml");
        Files.createDirectories(manifest.getParent());
        Files.createDirectories(configFile.getParent());
        Files.writeString(manifest, MANIFEST);
        Files.setPosixFilePermissions(manifest, PosixFilePermissions.fromString("rw-------"));
        Files.writeString(configFile, "old: config\n");
        DeploymentConfig cfg = config(manifest, configFile);

        ApiserverSnapshot before = ApiserverSnapshot.take(cfg);
        before.keep();
        ApiserverAuthentication.configure(cfg, "CA", false);
        before.restore();

        assertEquals(MANIFEST, Files.readString(manifest));
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(manifest)));
        assertEquals("old: config\n", Files.readString(configFile));
        assertEquals(MANIFEST, Files.readString(before.keptIn().resolve("kube-apiserver.yaml")));
        assertEquals("old: config\n", Files.readString(before.keptIn().resolve("authentication-config.yaml")));
        try (var names = Files.list(manifest.getParent())) {
            assertEquals(1, names.count(), "only the manifest is in the manifests directory");
        }
    }

    @Test
    void aNodeWithoutAConfigurationFileHasNoneAfterTheRestore() throws IOException {
        Path manifest = tmp.resolve("manifests").resolve("kube-apiserver.yaml");
        Path configFile = tmp.resolve("dexauth").resolve("authentication-config.yaml");
        Files.createDirectories(manifest.getParent());
        Files.writeString(manifest, MANIFEST);
        DeploymentConfig cfg = config(manifest, configFile);

        ApiserverSnapshot before = ApiserverSnapshot.take(cfg);
        ApiserverAuthentication.configure(cfg, "CA", false);
        before.restore();

        assertFalse(Files.exists(configFile));
        assertEquals(MANIFEST, Files.readString(manifest));
    }

    @Test
    void metricsAreReadBySeriesLabels() {
        String metrics = """
                # HELP x
                apiserver_authentication_jwt_authenticator_jwks_fetch_last_timestamp_seconds{jwt_issuer_hash="sha256:aa",result="failure"} 1.9e+09
                apiserver_authentication_jwt_authenticator_jwks_fetch_last_timestamp_seconds{jwt_issuer_hash="sha256:aa",result="success"} 1.7e+09
                process_start_time_seconds 1.6e+09
                """;
        assertEquals(1.7e9, ApiserverHealth.metric(metrics,
                "apiserver_authentication_jwt_authenticator_jwks_fetch_last_timestamp_seconds",
                "jwt_issuer_hash=\"sha256:aa\"", "result=\"success\""));
        assertEquals(0, ApiserverHealth.metric(metrics,
                "apiserver_authentication_jwt_authenticator_jwks_fetch_last_timestamp_seconds", "sha256:bb"));
        assertEquals(1.6e9, ApiserverHealth.metric(metrics, "process_start_time_seconds", ""));
    }

    @Test
    void theHealthVerdictSaysWhatKubeApiserverDidWithTheProbeToken() {
        String expected = "oidc:apiserver-probe@dexauth.invalid";
        assertEquals(null, ApiserverHealth.verdict(true, expected, null, expected));
        String refused = ApiserverHealth.verdict(false, null, "[invalid bearer token, oidc: verify token: oidc: expected"
                + " audience \"x\" got [\"kubernetes\"]]", expected);
        assertTrue(refused.startsWith("refused Dex's token of the probe account (TokenReview: [invalid bearer token"), refused);
        assertTrue(ApiserverHealth.verdict(null, null, "", expected).contains("not authenticated, no error given"));
        String mapped = ApiserverHealth.verdict(true, "apiserver-probe@dexauth.invalid", null, expected);
        assertTrue(mapped.contains("the username mapping differs"), mapped);
    }
}
