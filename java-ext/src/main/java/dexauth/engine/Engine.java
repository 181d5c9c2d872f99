package dexauth.engine;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dexauth.errors.Causes;
import dexauth.errors.Conflict;
import dexauth.errors.DomainException;
import dexauth.errors.Forbidden;
import dexauth.errors.Invalid;
import dexauth.errors.LoginRequired;
import dexauth.errors.NotFound;
import dexauth.errors.Unauthenticated;
import dexauth.errors.Unavailable;

import java.util.Locale;
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

    private final Map<String, Operation> operations;
    /** Null for engines over other operations (the lab's). */
    private final DeploymentOperations deployment;

    /** The operations of a deployment, those Salt's states call. */
    public Engine() {
        this(new DeploymentOperations());
    }

    private Engine(DeploymentOperations deployment) {
        this(deployment.all(), deployment);
    }

    /** An engine over other operations (the lab's own, see dexauth.lab). */
    public Engine(Map<String, Operation> operations) {
        this(operations, null);
    }

    private Engine(Map<String, Operation> operations, DeploymentOperations deployment) {
        this.operations = new TreeMap<>(operations);
        this.operations.put("version", (req, dry) -> JSON.createObjectNode().put("changed", false));
        this.deployment = deployment;
    }

    public Iterable<String> operationNames() { return operations.keySet(); }

    /** Closes the clients kept for the operations of a session. */
    @Override
    public void close() {
        if (deployment != null) deployment.close();
    }

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
        } catch (DomainException e) {
            return error(e);
        } catch (IllegalArgumentException e) {
            // Malformed requests (JSON of the wrong shape).
            return error("invalid request: " + e.getMessage()).put("kind", "invalid");
        } catch (Exception e) {
            return error(Causes.messages(e));
        }
    }

    /**
     * The one mapping of domain errors to Salt's replies: {@code error} is what the state's
     * comment shows, {@code kind} lets a state tell them apart, {@code field} names the pillar
     * key of invalid input and {@code dependency} the system that failed.
     */
    static ObjectNode error(DomainException e) {
        if (e instanceof Invalid invalid) {
            ObjectNode n = error("invalid request: " + e.getMessage()).put("kind", "invalid");
            if (invalid.field() != null) n.put("field", invalid.field());
            return n;
        }
        ObjectNode n = error(Causes.messages(e)).put("kind", kind(e));
        if (e instanceof Unavailable u) n.put("dependency", u.dependency().name().toLowerCase(Locale.ROOT));
        return n;
    }

    private static String kind(DomainException e) {
        if (e instanceof NotFound) return "not_found";
        if (e instanceof Conflict) return "conflict";
        if (e instanceof Forbidden) return "forbidden";
        if (e instanceof Unauthenticated) return "unauthenticated";
        if (e instanceof LoginRequired) return "login_required";
        return "unavailable";
    }

    static ObjectNode error(String message) {
        ObjectNode n = JSON.createObjectNode();
        n.put("result", false);
        n.put("changed", false);
        n.put("error", message);
        return n;
    }
}
