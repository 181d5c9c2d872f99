package dexauth.lab;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dexauth.engine.Engine;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The lab's own operations (its cluster PKI, the bcrypt reference of the benchmarks). */
class LabToolsTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    private final Engine engine = LabTools.engine();

    private static Set<String> fieldNames(JsonNode node) {
        List<String> names = new ArrayList<>();
        node.fieldNames().forEachRemaining(names::add);
        return Set.copyOf(names);
    }

    private ObjectNode pkiRequest(Path dir, boolean test) {
        ObjectNode req = JSON.createObjectNode().put("dir", dir.toString()).put("test", test);
        ObjectNode cert = req.putArray("certificates").addObject()
                .put("name", "server").put("commonName", "dex.example.com").put("usage", "server");
        cert.putArray("dnsNames").add("dex.example.com");
        cert.putArray("ipAddresses").add("127.0.0.1");
        return req;
    }

    private long filesUnder(Path dir) throws Exception {
        if (!Files.exists(dir)) return 0;
        try (Stream<Path> files = Files.walk(dir)) {
            return files.filter(Files::isRegularFile).count();
        }
    }

    @Test
    void pkiEnsureDryRunReportsAndCreatesNothing() throws Exception {
        Path dir = tmp.resolve("pki");

        ObjectNode reply = engine.run("pki.ensure", pkiRequest(dir, true));

        assertTrue(reply.path("result").asBoolean(), reply::toString);
        assertTrue(reply.path("changed").asBoolean());
        assertEquals(Set.of("ca", "server"), fieldNames(reply.path("changes")));
        assertEquals(0, filesUnder(dir));
    }

    @Test
    void pkiEnsureAppliesThenIsQuiet() throws Exception {
        Path dir = tmp.resolve("pki");

        ObjectNode first = engine.run("pki.ensure", pkiRequest(dir, false));
        ObjectNode second = engine.run("pki.ensure", pkiRequest(dir, false));

        assertTrue(first.path("changed").asBoolean(), first::toString);
        assertEquals(4, filesUnder(dir)); // ca.crt, ca.key, server.crt, server.key
        assertTrue(second.path("result").asBoolean(), second::toString);
        assertFalse(second.path("changed").asBoolean(), second::toString);
        assertEquals(0, second.path("changes").size());
    }

    @Test
    void pkiEnsureWithABadIpIsAnInvalidRequest() {
        ObjectNode req = pkiRequest(tmp.resolve("pki"), true);
        ((ObjectNode) req.path("certificates").get(0)).putArray("ipAddresses").add("10.0.0.300");

        ObjectNode reply = engine.run("pki.ensure", req);

        assertFalse(reply.path("result").asBoolean(true));
        assertTrue(reply.path("error").asText().startsWith("invalid request"), reply::toString);
        assertTrue(reply.path("error").asText().contains("10.0.0.300"), reply::toString);
    }

    @Test
    void bcryptReferenceReportsSeconds() {
        ObjectNode reply = engine.run("bench.bcrypt", JSON.createObjectNode().put("count", 2).put("cost", 10));

        assertTrue(reply.path("result").asBoolean(), reply::toString);
        assertTrue(reply.path("seconds").asDouble() > 0, reply::toString);
    }

    @Test
    void deploymentOperationsAreNotHere() {
        assertFalse(engine.run("certs.ensure", JSON.createObjectNode()).path("result").asBoolean(true));
    }
}
