package dexauth.engine;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.Map;
import java.util.TreeMap;

/**
 * The engine Salt calls: one operation per call, a JSON object in (stdin), a JSON object
 * out (stdout). Every operation honours {@code "test": true} (Salt's test=True) by
 * reporting what it would change without changing it. Replies carry
 * {@code changed} and {@code changes} so Salt states report changes truthfully.
 */
public final class Engine implements AutoCloseable {
    static final ObjectMapper JSON = new ObjectMapper();

    /** One engine operation. */
    public interface Operation {
        ObjectNode apply(JsonNode request, boolean dryRun) throws Exception;
    }

    private final Map<String, Operation> operations = new TreeMap<>();
    private final DeploymentOperations deployment = new DeploymentOperations();

    public Engine() {
        operations.put("version", (req, dry) -> JSON.createObjectNode().put("changed", false));
        operations.put("pki.ensure", new PkiOperation());
        deployment.register(operations);
        // Benchmark reference: bcrypt alone, {"count": n, "cost": c} -> seconds (bench/users.py).
        operations.put("bench.bcrypt", (req, dry) -> {
            int n = req.path("count").asInt(100);
            int cost = req.path("cost").asInt(12);
            long t0 = System.nanoTime();
            java.util.stream.IntStream.range(0, n).parallel().forEach(i ->
                    dexauth.dex.PasswordHasher.hash(dexauth.dex.PasswordHasher.randomPassword(20), cost));
            return JSON.createObjectNode().put("changed", false).put("seconds", (System.nanoTime() - t0) / 1e9);
        });
    }

    public Iterable<String> operationNames() { return operations.keySet(); }

    /** Closes the clients kept for the operations of a session. */
    @Override
    public void close() { deployment.close(); }

    /** Runs an operation; failures become {@code {"result": false, "error": ...}}, never a stack trace. */
    public ObjectNode run(String name, JsonNode request) {
        Operation op = operations.get(name);
        if (op == null) {
            return error("unknown engine operation '" + name + "'; known: " + String.join(", ", operations.keySet()));
        }
        boolean dryRun = request.path("test").asBoolean(false);
        try {
            ObjectNode reply = op.apply(request, dryRun);
            reply.put("result", true);
            if (!reply.has("changed")) reply.put("changed", reply.path("changes").size() > 0);
            return reply;
        } catch (IllegalArgumentException e) {
            return error("invalid request: " + e.getMessage());
        } catch (Exception e) {
            return error(describe(e));
        }
    }

    /** The message chain, innermost causes included (libraries often wrap the useful part). */
    static String describe(Throwable e) {
        StringBuilder out = new StringBuilder();
        for (Throwable t = e; t != null && out.length() < 2000; t = t.getCause()) {
            String m = t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage();
            if (out.indexOf(m) >= 0) continue;
            if (out.length() > 0) out.append(": ");
            out.append(m);
        }
        return out.toString();
    }

    static ObjectNode error(String message) {
        ObjectNode n = JSON.createObjectNode();
        n.put("result", false);
        n.put("changed", false);
        n.put("error", message);
        return n;
    }
}
