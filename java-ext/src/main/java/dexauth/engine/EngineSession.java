package dexauth.engine;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Several engine operations in one JVM: Salt's execution module keeps one session per state
 * run, so a state run pays for one JVM start and one Kubernetes client, not one per state.
 * <p>Protocol: one JSON object per line on stdin, {@code {"operation": OP, "request": {...}}};
 * one JSON reply per line on stdout, in order. The session ends at end of input (the Salt job
 * that started it is gone) or after {@code idle} without a request, so a forgotten session
 * never lingers. Requests are handled one at a time.
 */
public final class EngineSession {
    /** {@code authctl engine session}: the name of this mode where an operation name goes. */
    public static final String OPERATION = "session";
    /** A session nobody has used for this long ends (Salt's module reuses it for half as long). */
    public static final Duration IDLE = Duration.ofSeconds(120);
    private static final String EOF = "\u0000eof";

    private EngineSession() {}

    /** Serves requests until end of input or idle timeout; returns the process exit code (0). */
    public static int serve(InputStream in, PrintStream out, Duration idle, Consumer<ObjectNode> stamp) {
        BlockingQueue<String> lines = new LinkedBlockingQueue<>();
        Thread reader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
                for (String line; (line = r.readLine()) != null; ) lines.add(line);
            } catch (IOException e) {
                // A closed pipe is the end of the session, like end of input.
            }
            lines.add(EOF);
        }, "engine-session-stdin");
        reader.setDaemon(true);
        reader.start();
        try (Engine engine = new Engine()) {
            while (true) {
                String line = lines.poll(idle.toMillis(), TimeUnit.MILLISECONDS);
                if (line == null || EOF.equals(line)) return 0;
                if (line.isBlank()) continue;
                ObjectNode reply = handle(engine, line);
                stamp.accept(reply);
                out.println(Engine.JSON.writeValueAsString(reply));
                out.flush();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 0;
        } catch (IOException e) {
            return 0; // stdout closed: nobody is listening any more
        }
    }

    static ObjectNode handle(Engine engine, String line) {
        JsonNode envelope;
        try {
            envelope = Engine.JSON.readTree(line);
        } catch (IOException e) {
            return Engine.error("invalid request: not a JSON object");
        }
        String operation = envelope.path("operation").asText("");
        JsonNode request = envelope.path("request");
        return engine.run(operation, request.isObject() ? request : Engine.JSON.createObjectNode());
    }
}
