package dexauth.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dexauth.engine.Engine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.util.concurrent.Callable;

/**
 * Hidden: the Salt bridge. Salt's custom modules run {@code authctl engine OP} with a
 * JSON request on stdin (so no secret ever reaches an argument list) and read JSON back.
 */
@Command(name = "engine", hidden = true,
        description = "Run one engine operation: JSON request on stdin, JSON reply on stdout (used by Salt).")
final class EngineCommand implements Callable<Integer> {
    @Parameters(index = "0", description = "Operation name, e.g. pki.ensure; `session` serves one request per line.")
    String operation;

    @Override
    public Integer call() throws IOException {
        if (dexauth.engine.EngineSession.OPERATION.equals(operation)) {
            return dexauth.engine.EngineSession.serve(System.in, System.out, dexauth.engine.EngineSession.IDLE,
                    reply -> reply.put("engineVersion", VersionCommand.version()));
        }
        ObjectMapper json = new ObjectMapper();
        byte[] input = System.in.readAllBytes();
        JsonNode request = input.length == 0 ? json.createObjectNode() : json.readTree(input);
        ObjectNode reply = new Engine().run(operation, request);
        reply.put("engineVersion", VersionCommand.version());
        System.out.println(json.writeValueAsString(reply));
        // A failed operation's reply says why (kind, error); Salt reads the reply, not the code.
        return reply.path("result").asBoolean() ? ExitCode.OK.code : ExitCode.FAILED.code;
    }
}
