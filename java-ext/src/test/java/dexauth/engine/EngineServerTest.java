package dexauth.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Engine sessions over a Unix socket from one JVM: private, one server per socket, ends by itself. */
class EngineServerTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    private CompletableFuture<Integer> start(Path socket, Duration idle, AtomicBoolean current) throws Exception {
        CompletableFuture<Integer> done = CompletableFuture.supplyAsync(() -> {
            try {
                return EngineServer.serve(socket, idle, r -> r.put("stamped", true), current::get);
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        for (int i = 0; i < 200 && !Files.exists(socket) && !done.isDone(); i++) Thread.sleep(25);
        return done;
    }

    /** A connection: the server's first line, then one reply per request. */
    private static final class Client implements AutoCloseable {
        final SocketChannel channel;
        final BufferedReader in;
        final OutputStream out;
        final String greeting;

        Client(Path socket) throws Exception {
            channel = SocketChannel.open(StandardProtocolFamily.UNIX);
            channel.connect(UnixDomainSocketAddress.of(socket));
            in = new BufferedReader(new InputStreamReader(Channels.newInputStream(channel), StandardCharsets.UTF_8));
            out = Channels.newOutputStream(channel);
            greeting = in.readLine();
        }

        JsonNode call(String operation) throws Exception {
            out.write(("{\"operation\":\"" + operation + "\",\"request\":{}}\n").getBytes(StandardCharsets.UTF_8));
            return JSON.readTree(in.readLine());
        }

        @Override
        public void close() throws Exception {
            channel.close();
        }
    }

    @Test
    void twoSessionsAtOnceEachGetTheirRepliesFromAPrivateSocket() throws Exception {
        Path socket = tmp.resolve("engine").resolve("e.sock");
        CompletableFuture<Integer> server = start(socket, Duration.ofSeconds(30), new AtomicBoolean(true));
        try (Client first = new Client(socket); Client second = new Client(socket)) {
            assertEquals("ready", first.greeting);
            assertEquals("ready", second.greeting);
            // The second session answers while the first one is open and waiting.
            assertTrue(second.call("version").path("result").asBoolean());
            JsonNode unknown = first.call("no.such");
            assertFalse(unknown.path("result").asBoolean());
            assertTrue(unknown.path("stamped").asBoolean());
        }
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(socket.getParent())));
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(socket)));
        Files.delete(socket); // as when Salt's cache is cleaned: the server ends by itself
        assertEquals(0, server.get(10, TimeUnit.SECONDS));
        assertFalse(Files.exists(tmp.resolve("engine").resolve("e.sock.pid")));
    }

    @Test
    void aSecondServerOnTheSameSocketLeavesAtOnceAndTheFirstEndsWhenItsJarChanges() throws Exception {
        Path socket = tmp.resolve("e.sock");
        AtomicBoolean current = new AtomicBoolean(true);
        CompletableFuture<Integer> first = start(socket, Duration.ofSeconds(30), current);
        assertEquals(0, EngineServer.serve(socket, Duration.ofSeconds(30), r -> { }, () -> true));
        try (Client c = new Client(socket)) {
            assertTrue(c.call("version").path("result").asBoolean(), "the first server still serves");
        }
        current.set(false);
        assertEquals(0, first.get(10, TimeUnit.SECONDS));
        assertFalse(Files.exists(socket), "a server that ended removes its socket");
    }

    @Test
    void aServerNobodyUsesEnds() throws Exception {
        CompletableFuture<Integer> server = start(tmp.resolve("e.sock"), Duration.ofMillis(200), new AtomicBoolean(true));
        assertEquals(0, server.get(10, TimeUnit.SECONDS));
    }

    @Test
    void aDirectoryOthersMayEnterIsRefused() throws Exception {
        Path open = Files.createDirectory(tmp.resolve("open"),
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        Files.setPosixFilePermissions(open, PosixFilePermissions.fromString("rwxr-xr-x"));
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> EngineServer.serve(open.resolve("e.sock"), Duration.ofSeconds(1), r -> { }, () -> true));
        assertTrue(e.getMessage().contains("chmod 0700"), e.getMessage());
        assertFalse(Files.exists(open.resolve("e.sock")));
    }
}
