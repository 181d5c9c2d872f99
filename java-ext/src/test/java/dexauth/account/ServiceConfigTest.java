package dexauth.account;

import dexauth.errors.Invalid;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ServiceConfigTest {
    @TempDir Path dir;

    private static final String VALID = """
            publicUrl: https://cp.example.com/account
            listen: {address: 0.0.0.0, port: 8443}
            tls: {certFile: /t/tls.crt, keyFile: /t/tls.key}
            issuer: https://cp.example.com/oidc
            dexCaFile: /t/ca.crt
            dexGrpc: {address: dex:5557, caFile: /g/ca.crt, certFile: /g/tls.crt, keyFile: /g/tls.key}
            namespace: dexauth
            """;

    private ServiceConfig load(String yaml) throws IOException {
        Path f = dir.resolve("service.yaml");
        Files.writeString(f, yaml);
        return ServiceConfig.load(f);
    }

    @Test
    void aValidFileLoads() throws IOException {
        ServiceConfig c = load(VALID);
        assertEquals("/account", c.basePath());
        assertEquals(30, c.idleTimeout().toMinutes());
    }

    @Test
    void eachMistakeNamesItsKey() {
        assertField("publicUrl", VALID.replace("https://cp.example.com/account", "http://cp.example.com/account"));
        assertField("publicUrl", VALID.replace("https://cp.example.com/account", "https://cp.example.com/account/"));
        assertField("issuer", VALID.replace("issuer: https://cp.example.com/oidc", "issuer: cp.example.com"));
        assertField("dexGrpc.address", VALID.replace("address: dex:5557, ", ""));
        assertField("primaryColor", VALID + "primaryColor: \"red; } body { display: none\"\n");
        assertField("session", VALID + "session: {idleMinutes: 60, absoluteMinutes: 30}\n");
    }

    private void assertField(String field, String yaml) {
        Invalid e = assertThrows(Invalid.class, () -> load(yaml));
        assertEquals(field, e.field(), e.getMessage());
        assertTrue(e.getMessage().length() > 5);
    }
}
