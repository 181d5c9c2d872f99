package dexauth.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dexauth.engine.Engine;
import dexauth.engine.EngineServer;
import dexauth.engine.EngineSession;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.function.BooleanSupplier;

/**
 * Hidden: the Salt bridge. Salt's custom modules run {@code authctl engine OP} with a
 * JSON request on stdin (so no secret ever reaches an argument list) and read JSON back;
 * {@code engine session} serves many requests on stdin, {@code engine server} serves sessions
 * on a Unix socket from one long-lived JVM (what the Salt module uses).
 */
@Command(name = "engine", hidden = true,
        description = "Run one engine operation: JSON request on stdin, JSON reply on stdout (used by Salt).")
final class EngineCommand implements Callable<Integer> {
    @Parameters(index = "0", description = "Operation name, e.g. pki.ensure; `session` serves one request per line;"
            + " `server` serves sessions on --socket.")
    String operation;

    @Option(names = "--socket", description = "Unix socket of `engine server`, in a directory only its owner may enter.")
    Path socket;

    @Override
    public Integer call() throws IOException, InterruptedException {
        if (EngineSession.OPERATION.equals(operation)) {
            return EngineSession.serve(System.in, System.out, EngineSession.IDLE, EngineCommand::stamp);
        }
        if (EngineServer.OPERATION.equals(operation)) {
            if (socket == null) throw new UserError("engine server needs --socket PATH");
            return EngineServer.serve(socket, EngineServer.IDLE, EngineCommand::stamp, sameJar());
        }
        ObjectMapper json = new ObjectMapper();
        byte[] input = System.in.readAllBytes();
        JsonNode request = input.length == 0 ? json.createObjectNode() : json.readTree(input);
        ObjectNode reply = new Engine().run(operation, request);
        stamp(reply);
        System.out.println(json.writeValueAsString(reply));
        // A failed operation's reply says why (kind, error); Salt reads the reply, not the code.
        return reply.path("result").asBoolean() ? ExitCode.OK.code : ExitCode.FAILED.code;
    }

    private static void stamp(ObjectNode reply) {
        reply.put("engineVersion", VersionCommand.version());
    }

    /**
     * True while the checkout's jar is the one this JVM started from (a rebuild replaces it). The
     * launcher names it in {@code authctl.jar} when the JVM runs the cache's copy of it.
     */
    private static BooleanSupplier sameJar() {
        Path jar;
        try {
            String named = System.getProperty("authctl.jar");
            jar = named != null ? Path.of(named)
                    : Path.of(EngineCommand.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        } catch (URISyntaxException | RuntimeException e) {
            return () -> true;
        }
        if (!Files.isRegularFile(jar)) return () -> true; // classes from a directory (tests)
        String started = identity(jar);
        return () -> started.equals(identity(jar));
    }

    private static String identity(Path jar) {
        try {
            return Files.size(jar) + "/" + Files.getLastModifiedTime(jar).toMillis();
        } catch (IOException gone) {
            return "";
        }
    }
}
