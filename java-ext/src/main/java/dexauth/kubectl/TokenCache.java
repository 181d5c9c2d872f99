package dexauth.kubectl;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Tokens of workstation logins, one file per {@link LoginSettings#cacheKey()} under
 * {@code ~/.kube/cache/dexauth/} (directory 0700, files 0600). A lock file per key makes parallel
 * kubectl calls wait for one refresh or login instead of each doing their own.
 */
public final class TokenCache {
    private static final Set<PosixFilePermission> DIR_MODE = PosixFilePermissions.fromString("rwx------");
    private static final Set<PosixFilePermission> FILE_MODE = PosixFilePermissions.fromString("rw-------");
    private static final Pattern ID_TOKEN = Pattern.compile("\"idToken\"\\s*:\\s*\"([A-Za-z0-9_.-]+)\"");
    private static final Pattern EXPIRES_AT = Pattern.compile("\"expiresAt\"\\s*:\\s*(\\d+)");
    private static final Pattern REFRESH_AT = Pattern.compile("\"refreshAt\"\\s*:\\s*(\\d+)");

    /**
     * One cached login. {@code refreshAt} is when the ID token stops being handed out: a margin
     * before {@code expiresAt}, so a token never expires on its way to kube-apiserver.
     */
    public record Entry(String idToken, String refreshToken, long expiresAt, long refreshAt, String user) {
        /** The margin: 60 s, or a quarter of the token's life when it is shorter than 4 minutes. */
        public static long refreshAt(long issuedAt, long expiresAt) {
            return expiresAt - Math.min(60, Math.max(0, expiresAt - issuedAt) / 4);
        }

        public boolean usableAt(long epochSecond) { return idToken != null && epochSecond < refreshAt; }
    }

    private final Path dir;

    public TokenCache(Path dir) { this.dir = dir; }

    /** {@code ~/.kube/cache/dexauth}: beside kubectl's own caches, per operating-system user. */
    public static Path defaultDir() {
        return UserHome.dir().resolve(".kube").resolve("cache").resolve("dexauth");
    }

    public Path dir() { return dir; }

    private Path file(String key) { return dir.resolve(key + ".json"); }

    public Optional<Entry> read(String key) {
        Path f = file(key);
        if (!Files.isRegularFile(f)) return Optional.empty();
        try {
            var n = new ObjectMapper().readTree(f.toFile());
            return Optional.of(new Entry(n.path("idToken").asText(null), n.path("refreshToken").asText(null),
                    n.path("expiresAt").asLong(), n.path("refreshAt").asLong(), n.path("user").asText(null)));
        } catch (IOException e) {
            return Optional.empty(); // a damaged cache only costs a new login
        }
    }

    /**
     * The ID token of {@code key} if it is still to be handed out at {@code now}, read without a
     * JSON library: the fast path of the exec plugin runs this and nothing else.
     */
    public static Optional<String[]> usableToken(Path dir, String key, long now) {
        String text;
        try {
            text = Files.readString(dir.resolve(key + ".json"), StandardCharsets.UTF_8);
        } catch (IOException e) {
            return Optional.empty();
        }
        Matcher token = ID_TOKEN.matcher(text), expires = EXPIRES_AT.matcher(text), refresh = REFRESH_AT.matcher(text);
        if (!token.find() || !expires.find() || !refresh.find()) return Optional.empty();
        if (now >= Long.parseLong(refresh.group(1))) return Optional.empty();
        return Optional.of(new String[] {token.group(1), expires.group(1)});
    }

    public void write(String key, Entry e) {
        ObjectNode n = new ObjectMapper().createObjectNode();
        n.put("user", e.user()).put("idToken", e.idToken()).put("refreshToken", e.refreshToken())
                .put("expiresAt", e.expiresAt()).put("refreshAt", e.refreshAt());
        writePrivate(file(key), n.toString());
    }

    public void remove(String key) {
        try {
            Files.deleteIfExists(file(key));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Deletes every cached login (and lock); returns the files removed. */
    public List<Path> clear() {
        List<Path> removed = new ArrayList<>();
        if (!Files.isDirectory(dir)) return removed;
        try (Stream<Path> files = Files.list(dir)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                if (Files.deleteIfExists(f) && f.toString().endsWith(".json")) removed.add(f);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot clear " + dir + ": " + e.getMessage(), e);
        }
        return removed;
    }

    /** Runs {@code work} holding the key's lock (between processes too). */
    public <T> T locked(String key, Supplier<T> work) {
        ensureDir();
        try (FileChannel ch = FileChannel.open(dir.resolve(key + ".lock"), Set.of(StandardOpenOption.CREATE,
                StandardOpenOption.WRITE), PosixFilePermissions.asFileAttribute(FILE_MODE)); FileLock ignored = ch.lock()) {
            return work.get();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot lock the token cache in " + dir + ": " + e.getMessage(), e);
        }
    }

    private void ensureDir() {
        try {
            if (!Files.isDirectory(dir)) {
                Files.createDirectories(dir.getParent());
                Files.createDirectory(dir, PosixFilePermissions.asFileAttribute(DIR_MODE));
            }
            Files.setPosixFilePermissions(dir, DIR_MODE); // an older, wider directory is tightened
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create the token cache " + dir + ": " + e.getMessage(), e);
        }
    }

    private void writePrivate(Path target, String content) {
        ensureDir();
        try {
            Path tmp = Files.createTempFile(dir, ".tmp-", ".json", PosixFilePermissions.asFileAttribute(FILE_MODE));
            try {
                Files.writeString(tmp, content, StandardCharsets.UTF_8);
                try {
                    Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
                } catch (AtomicMoveNotSupportedException e) {
                    Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
                }
            } finally {
                Files.deleteIfExists(tmp);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + target + ": " + e.getMessage(), e);
        }
    }
}
