package dexauth.chart;

import com.marcnuri.helm.jni.HelmLib;
import com.marcnuri.helm.jni.NativeLibrary;
import com.marcnuri.helm.jni.linux.amd64.LinuxAmd64NativeLibrary;
import com.sun.jna.Native;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * helm-java's native library (Helm in Go, 94 MB), loaded from one copy per authctl jar instead of
 * a fresh copy per JVM. helm-java copies it into a new temporary directory at every start and
 * removes it only when the JVM ends normally: each engine server or CLI call killed by a timeout
 * left 94 MB in /tmp. The launcher (bin/authctl) names its per-jar-digest cache directory with
 * {@value #DIR_PROPERTY}; the library is written there once (atomically) and pruned with that
 * directory. Without the property, or when the directory cannot be written, helm-java's own way.
 *
 * <p>Registered as the jar's only {@link NativeLibrary} service (the platform jar's entry is left
 * out of the shaded jar: java-ext/pom.xml).
 */
public final class HelmNativeLibrary implements NativeLibrary {
    public static final String DIR_PROPERTY = "dexauth.native.dir";

    private final NativeLibrary platform = new LinuxAmd64NativeLibrary();

    @Override
    public String getBinaryName() {
        return platform.getBinaryName();
    }

    @Override
    public HelmLib load() {
        String dir = System.getProperty(DIR_PROPERTY, "");
        if (!dir.isBlank()) {
            try {
                return Native.load(placed(Path.of(dir)).toString(), HelmLib.class);
            } catch (IOException e) {
                // Only an optimisation (e.g. the directory was pruned meanwhile): the temporary copy works too.
            }
        }
        return platform.load();
    }

    /** The library in {@code dir}, written there first if missing; a complete file or none (rename). */
    Path placed(Path dir) throws IOException {
        Path lib = dir.resolve(getBinaryName());
        if (Files.isRegularFile(lib)) return lib;
        Path tmp = Files.createTempFile(dir, getBinaryName() + ".", ".tmp");
        try (InputStream in = LinuxAmd64NativeLibrary.class.getResourceAsStream("/" + getBinaryName())) {
            if (in == null) throw new IOException(getBinaryName() + " is not in the jar");
            Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
            Files.move(tmp, lib, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(tmp);
        }
        return lib;
    }
}
