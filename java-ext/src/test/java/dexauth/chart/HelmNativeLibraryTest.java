package dexauth.chart;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.marcnuri.helm.jni.NativeLibrary;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ServiceLoader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HelmNativeLibraryTest {
    @Test
    void placesTheLibraryOnceAndReusesIt(@TempDir Path dir) throws Exception {
        HelmNativeLibrary library = new HelmNativeLibrary();
        Path lib = library.placed(dir);
        assertEquals(dir.resolve("helm-linux-amd64.so"), lib);
        long size;
        try (var in = HelmNativeLibrary.class.getResourceAsStream("/helm-linux-amd64.so")) {
            size = in.transferTo(java.io.OutputStream.nullOutputStream());
        }
        assertEquals(size, Files.size(lib));
        FileTime written = FileTime.fromMillis(1_000_000L);
        Files.setLastModifiedTime(lib, written);
        assertEquals(lib, library.placed(dir));
        assertEquals(written, Files.getLastModifiedTime(lib), "a second JVM must not copy it again");
        try (var files = Files.list(dir)) {
            assertEquals(1, files.count(), "no partial copy left beside it");
        }
    }

    @Test
    void isTheNativeLibraryHelmJavaFinds() {
        // helm-java takes the first service; the platform jar's own entry must not come first.
        NativeLibrary first = ServiceLoader.load(NativeLibrary.class).iterator().next();
        assertTrue(first instanceof HelmNativeLibrary, first.getClass().getName());
    }
}
