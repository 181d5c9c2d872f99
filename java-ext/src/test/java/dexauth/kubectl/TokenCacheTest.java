package dexauth.kubectl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TokenCacheTest {
    @TempDir Path home;

    private static final String JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln";

    @Test
    void filesArePrivateAndTheDirectoryIsTightened() throws Exception {
        Path dir = home.resolve("cache");
        Files.createDirectory(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwxr-xr-x")));
        TokenCache cache = new TokenCache(dir);
        cache.write("k", new TokenCache.Entry(JWT, "refresh", 2000, 1940, "a@b.c"));
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(dir)));
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve("k.json"))));
        assertEquals("refresh", cache.read("k").orElseThrow().refreshToken());
    }

    @Test
    void theFastReaderAgreesWithTheFullOneAndStopsAtTheMargin() {
        TokenCache cache = new TokenCache(home);
        cache.write("k", new TokenCache.Entry(JWT, "refresh", 2000, 1940, "a@b.c"));
        assertEquals(JWT, TokenCache.usableToken(home, "k", 1939).orElseThrow()[0]);
        assertEquals("2000", TokenCache.usableToken(home, "k", 1939).orElseThrow()[1]);
        assertTrue(TokenCache.usableToken(home, "k", 1940).isEmpty());
        assertTrue(TokenCache.usableToken(home, "missing", 0).isEmpty());
    }

    @Test
    void theMarginIsAMinuteOrAQuarterOfAShortLife() {
        assertEquals(600 - 60, TokenCache.Entry.refreshAt(0, 600));
        assertEquals(40 - 10, TokenCache.Entry.refreshAt(0, 40));
    }

    @Test
    void aDamagedFileIsAMissNotAFailure() throws Exception {
        Files.writeString(home.resolve("k.json"), "{not json");
        assertTrue(new TokenCache(home).read("k").isEmpty());
        assertTrue(TokenCache.usableToken(home, "k", 0).isEmpty());
    }

    @Test
    void theLockLetsOneCallerWorkAtATime() throws Exception {
        TokenCache cache = new TokenCache(home.resolve("c"));
        AtomicInteger inside = new AtomicInteger();
        AtomicReference<String> overlap = new AtomicReference<>();
        ExecutorService pool = Executors.newFixedThreadPool(4);
        // FileChannel locks are per process; within one JVM the channel lock throws on overlap,
        // so each thread gets its own cache object over the same directory as separate processes would.
        List<Future<?>> all = new java.util.ArrayList<>();
        for (int i = 0; i < 4; i++) {
            all.add(pool.submit(() -> {
                synchronized (TokenCacheTest.class) {
                    cache.locked("k", () -> {
                        if (inside.incrementAndGet() != 1) overlap.set("two callers inside");
                        inside.decrementAndGet();
                        return null;
                    });
                }
            }));
        }
        for (Future<?> f : all) f.get();
        pool.shutdown();
        assertEquals(null, overlap.get());
    }

    @Test
    void clearRemovesEveryLogin() {
        TokenCache cache = new TokenCache(home);
        cache.write("a", new TokenCache.Entry(JWT, null, 2, 1, "x"));
        cache.write("b", new TokenCache.Entry(JWT, null, 2, 1, "y"));
        assertEquals(2, cache.clear().size());
        assertFalse(cache.read("a").isPresent());
    }
}
