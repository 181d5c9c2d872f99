package dexauth.engine;

import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.EnumSet;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;

/**
 * Engine sessions served by one JVM that outlives a state run, over a Unix socket. A JVM start
 * with a cold JIT costs about two seconds of CPU and an orchestration makes hundreds of state
 * runs; each connection is one {@link EngineSession} with its own {@link Engine} (its own
 * clients), so state runs share nothing but the warm JVM.
 * <p>Only the socket's owner reaches it: its directory must be private (0700) and the socket is
 * 0600. The server ends when nobody connected for {@code idle}, when its socket file is removed
 * or replaced (Salt's cache cleaned, a lab taken down), or when {@code current} turns false (its
 * jar was rebuilt: the next call starts the new one). A lock file beside the socket makes one
 * server per socket; a second one started meanwhile leaves at once.
 * <p>Protocol: the server writes {@link #READY} once it accepted the connection, then serves it
 * as {@link EngineSession} does: one JSON request per line in, one JSON reply per line out.
 */
public final class EngineServer {
    /** {@code authctl engine server --socket PATH}: the name of this mode where an operation name goes. */
    public static final String OPERATION = "server";
    /** A server nobody has connected to for this long ends. */
    public static final Duration IDLE = Duration.ofSeconds(300);
    private static final Set<PosixFilePermission> GROUP_OR_OTHERS = EnumSet.of(
            PosixFilePermission.GROUP_READ, PosixFilePermission.GROUP_WRITE, PosixFilePermission.GROUP_EXECUTE,
            PosixFilePermission.OTHERS_READ, PosixFilePermission.OTHERS_WRITE, PosixFilePermission.OTHERS_EXECUTE);
    private static final long CHECK_MILLIS = 500;
    /** The first line of every connection, before the session's replies. */
    public static final String READY = "ready\n";

    private EngineServer() {}

    /**
     * Serves until one of the ends above; returns the exit code: 0, also when another server
     * already owns {@code socket}. Throws {@link IllegalStateException} when the directory is not private.
     */
    public static int serve(Path socket, Duration idle, Consumer<ObjectNode> stamp, BooleanSupplier current)
            throws IOException, InterruptedException {
        Path dir = socket.toAbsolutePath().getParent();
        Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        Set<PosixFilePermission> open = EnumSet.copyOf(Files.getPosixFilePermissions(dir));
        open.retainAll(GROUP_OR_OTHERS);
        if (!open.isEmpty()) {
            throw new IllegalStateException("the engine's socket directory " + dir + " is open to others ("
                    + PosixFilePermissions.toString(Files.getPosixFilePermissions(dir)) + "): chmod 0700 it");
        }
        Path lockPath = dir.resolve(socket.getFileName() + ".lock");
        try (FileChannel lockFile = FileChannel.open(lockPath, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
             FileLock lock = tryLock(lockFile)) {
            if (lock == null) return 0; // another server owns this socket
            Files.deleteIfExists(socket); // a dead server's
            try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
                server.bind(UnixDomainSocketAddress.of(socket));
                Files.setPosixFilePermissions(socket, PosixFilePermissions.fromString("rw-------"));
                Object key = fileKey(socket);
                Path pidFile = dir.resolve(socket.getFileName() + ".pid");
                Files.writeString(pidFile, ProcessHandle.current().pid() + "\n");
                AtomicInteger active = new AtomicInteger();
                AtomicLong lastEnd = new AtomicLong(System.nanoTime());
                Thread watchdog = new Thread(() -> watch(server, socket, key, idle, current, active, lastEnd),
                        "engine-server-watchdog");
                watchdog.setDaemon(true);
                watchdog.start();
                accept(server, stamp, active, lastEnd);
                if (Objects.equals(fileKey(socket), key)) Files.deleteIfExists(socket);
                Files.deleteIfExists(pidFile); // ours: no other server starts while this one holds the lock
                // Sessions under way end on their own (end of input or their idle time); the JVM waits for them.
                return 0;
            }
        }
    }

    private static FileLock tryLock(FileChannel file) throws IOException {
        try {
            return file.tryLock();
        } catch (OverlappingFileLockException heldInThisJvm) {
            return null;
        }
    }

    private static void accept(ServerSocketChannel server, Consumer<ObjectNode> stamp, AtomicInteger active,
                               AtomicLong lastEnd) throws IOException {
        while (true) {
            SocketChannel client;
            try {
                client = server.accept();
            } catch (ClosedChannelException closedByWatchdog) {
                return;
            }
            active.incrementAndGet();
            Thread session = new Thread(() -> {
                try (client) {
                    PrintStream out = new PrintStream(output(client), false, StandardCharsets.UTF_8);
                    // Said once accepted: a caller that sees it knows this server will not end under it.
                    out.print(READY);
                    out.flush();
                    EngineSession.serve(input(client), out, EngineSession.IDLE, stamp);
                } catch (IOException e) {
                    // the caller went away: nothing to answer
                } finally {
                    lastEnd.set(System.nanoTime());
                    active.decrementAndGet();
                }
            }, "engine-session");
            session.start();
        }
    }

    private static void watch(ServerSocketChannel server, Path socket, Object key, Duration idle,
                              BooleanSupplier current, AtomicInteger active, AtomicLong lastEnd) {
        try {
            while (true) {
                Thread.sleep(CHECK_MILLIS);
                boolean idleTooLong = active.get() == 0 && System.nanoTime() - lastEnd.get() > idle.toNanos();
                if (idleTooLong || !Objects.equals(fileKey(socket), key) || !current.getAsBoolean()) break;
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        try {
            server.close(); // ends accept()
        } catch (IOException e) {
            // closing anyway
        }
    }

    private static Object fileKey(Path socket) {
        try {
            return Files.readAttributes(socket, BasicFileAttributes.class).fileKey();
        } catch (IOException gone) {
            return null;
        }
    }

    // Streams over the channel itself: Channels.newInputStream/newOutputStream share the channel's
    // blocking lock, so a read waiting for the next request would block the reply being written.
    private static InputStream input(SocketChannel c) {
        return new InputStream() {
            @Override
            public int read() throws IOException {
                byte[] one = new byte[1];
                return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
            }

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                return len == 0 ? 0 : c.read(ByteBuffer.wrap(b, off, len));
            }
        };
    }

    private static OutputStream output(SocketChannel c) {
        return new OutputStream() {
            @Override
            public void write(int b) throws IOException {
                write(new byte[] {(byte) b}, 0, 1);
            }

            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                ByteBuffer buf = ByteBuffer.wrap(b, off, len);
                while (buf.hasRemaining()) c.write(buf);
            }
        };
    }
}
