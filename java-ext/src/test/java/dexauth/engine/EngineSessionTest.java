package dexauth.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dexauth.config.TestPillars;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PipedInputStream;
import java.io.PipedOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** One JVM for a state run: requests one per line, replies in order, ends at end of input or when idle. */
class EngineSessionTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    private List<JsonNode> serve(String input) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int code = EngineSession.serve(new ByteArrayInputStream(input.getBytes(StandardCharsets.UTF_8)),
                new PrintStream(out, true, StandardCharsets.UTF_8), Duration.ofSeconds(30), r -> r.put("stamped", true));
        assertEquals(0, code);
        List<JsonNode> replies = new ArrayList<>();
        for (String line : out.toString(StandardCharsets.UTF_8).split("\n")) {
            if (!line.isBlank()) replies.add(JSON.readTree(line));
        }
        return replies;
    }

    private static String line(String operation, ObjectNode request) {
        ObjectNode envelope = JSON.createObjectNode().put("operation", operation);
        envelope.set("request", request);
        return envelope + "\n";
    }

    @Test
    void answersEachRequestInOrderUntilEndOfInput() throws Exception {
        ObjectNode certs = JSON.createObjectNode().put("test", false);
        certs.set("pillar", TestPillars.set(TestPillars.valid(), "certificates:base_dir", tmp.toString()));

        List<JsonNode> replies = serve(line("certs.ensure", certs) + line("certs.ensure", certs)
                + line("no.such", JSON.createObjectNode()) + "not json\n");

        assertEquals(4, replies.size());
        assertTrue(replies.get(0).path("changed").asBoolean(), replies.get(0)::toString);
        assertFalse(replies.get(1).path("changed").asBoolean(true), "the second apply in the same JVM is quiet");
        assertTrue(replies.get(2).path("error").asText().contains("'no.such'"), replies.get(2)::toString);
        assertTrue(replies.get(3).path("error").asText().startsWith("invalid request"), replies.get(3)::toString);
        replies.forEach(r -> assertTrue(r.path("stamped").asBoolean(), r::toString));
        assertTrue(Files.exists(tmp.resolve("certs-kubernetes").resolve("ca.crt")));
    }

    @Test
    void operationsGetOnlyThePillarKeysTheyReadButValidationWantsThemAll() throws Exception {
        ObjectNode part = JSON.createObjectNode();
        part.put("cluster_name", "lab").put("namespace", "dexauth").put("issuer", TestPillars.ISSUER);
        part.putObject("certificates").put("base_dir", tmp.toString()).put("validity_days", 365)
                .put("renew_before_days", 30).putArray("ip_sans").add("127.0.0.1");
        part.putObject("dex").put("grpc_address", "127.0.0.1:5557");
        part.putObject("chart").put("release", "dex");
        ObjectNode certs = JSON.createObjectNode().put("test", true);
        certs.set("pillar", part);
        ObjectNode validate = certs.deepCopy();

        List<JsonNode> replies = serve(line("certs.ensure", certs) + line("config.validate", validate));

        assertTrue(replies.get(0).path("result").asBoolean(), replies.get(0)::toString);
        assertFalse(replies.get(1).path("result").asBoolean(true), "config.validate needs the whole pillar");
        assertTrue(replies.get(1).path("error").asText().contains("dexauth:"), replies.get(1)::toString);
    }

    @Test
    void aPartialPillarIsStillValidated() throws Exception {
        ObjectNode part = JSON.createObjectNode();
        part.putObject("kubernetes").put("kubeconfig", "relative/admin.conf");
        ObjectNode req = JSON.createObjectNode().put("test", true);
        req.set("pillar", part);

        List<JsonNode> replies = serve(line("roles.ensure", req));

        assertFalse(replies.get(0).path("result").asBoolean(true));
        assertTrue(replies.get(0).path("error").asText().contains("dexauth:kubernetes:kubeconfig"), replies.get(0)::toString);
    }

    @Test
    void endsWhenNobodySendsAnythingForTheIdleTime() throws Exception {
        try (PipedOutputStream writer = new PipedOutputStream(); PipedInputStream in = new PipedInputStream(writer)) {
            long started = System.nanoTime();
            int code = EngineSession.serve(in, new PrintStream(new ByteArrayOutputStream()), Duration.ofMillis(300), r -> { });
            assertEquals(0, code);
            assertTrue(System.nanoTime() - started < Duration.ofSeconds(10).toNanos());
        }
    }
}
