package dexauth.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dexauth.config.TestPillars;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EngineTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    private final Engine engine = new Engine();

    private static ObjectNode json(String text) throws Exception {
        return (ObjectNode) JSON.readTree(text.replace('\'', '"'));
    }

    private static Set<String> fieldNames(JsonNode node) {
        List<String> names = new ArrayList<>();
        node.fieldNames().forEachRemaining(names::add);
        return Set.copyOf(names);
    }

    @Test
    void unknownOperationListsTheKnownOnes() throws Exception {
        ObjectNode reply = engine.run("pki.nonsense", json("{}"));

        assertFalse(reply.path("result").asBoolean(true));
        assertFalse(reply.path("changed").asBoolean(true));
        String error = reply.path("error").asText();
        assertTrue(error.contains("'pki.nonsense'"), error);
        for (String known : engine.operationNames()) assertTrue(error.contains(known), error);
        assertTrue(error.contains("certs.ensure") && error.contains("config.validate"), error);
    }

    @Test
    void deploymentsOfferNoLabOrBenchOperations() {
        for (String lab : List.of("pki.ensure", "bench.bcrypt")) {
            ObjectNode reply = engine.run(lab, JSON.createObjectNode());
            assertFalse(reply.path("result").asBoolean(true), reply::toString);
            assertTrue(reply.path("error").asText().startsWith("unknown engine operation"), reply::toString);
        }
    }

    @Test
    void validPillarValidates() {
        ObjectNode req = JSON.createObjectNode();
        req.set("pillar", TestPillars.valid());

        ObjectNode reply = engine.run("config.validate", req);

        assertTrue(reply.path("result").asBoolean(), reply::toString);
        assertFalse(reply.path("changed").asBoolean(true));
        assertEquals("/etc/dexauth/certs-kubernetes", reply.path("certDir").asText(), reply::toString);
        assertEquals("dex", reply.path("fullname").asText(), reply::toString);
    }

    @Test
    void invalidPillarFailsNamingTheKey() {
        ObjectNode req = JSON.createObjectNode();
        req.set("pillar", TestPillars.set(TestPillars.valid(), "password:bcrypt_cost", 9));

        ObjectNode reply = engine.run("config.validate", req);

        assertFalse(reply.path("result").asBoolean(true));
        assertTrue(reply.path("error").asText().startsWith("invalid request: pillar key dexauth:password:bcrypt_cost"),
                reply::toString);
        assertEquals("invalid", reply.path("kind").asText(), reply::toString);
        assertEquals("dexauth:password:bcrypt_cost", reply.path("field").asText(), reply::toString);
    }

    @Test
    void missingPillarFailsNamingTheRoot() throws Exception {
        ObjectNode reply = engine.run("config.validate", json("{'test': true}"));

        assertFalse(reply.path("result").asBoolean(true));
        assertTrue(reply.path("error").asText().contains("dexauth"), reply::toString);
    }

    @Test
    void certsEnsureDryRunReportsDexAndAccountCertificatesAndWritesNothing() {
        ObjectNode pillar = TestPillars.set(TestPillars.valid(), "certificates:base_dir", tmp.toString());
        ObjectNode req = JSON.createObjectNode().put("test", true);
        req.set("pillar", pillar);

        ObjectNode reply = engine.run("certs.ensure", req);

        assertTrue(reply.path("result").asBoolean(), reply::toString);
        assertEquals(Set.of("ca", "dex-https", "dex-grpc", "authctl-client", "account-https"), fieldNames(reply.path("changes")));
        assertFalse(Files.exists(tmp.resolve("certs-kubernetes")));
    }
}
