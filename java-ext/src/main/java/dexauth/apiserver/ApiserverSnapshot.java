package dexauth.apiserver;

import dexauth.config.DeploymentConfig;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;

/**
 * A node's kube-apiserver configuration as it was before a change: the static-pod manifest and the
 * authentication configuration file. Kept on disk ({@code previous/} beside the authentication
 * configuration, never in the manifests directory, where kubelet would run it) so an operator can
 * see what a rollback restored, and restored byte for byte, with the files' modes.
 */
public final class ApiserverSnapshot {
    static final String DIR = "previous";
    private static final Set<PosixFilePermission> OWNER_ONLY = PosixFilePermissions.fromString("rw-------");

    private final Path manifest;
    private final Path authenticationConfig;
    private final byte[] manifestBytes;
    private final Set<PosixFilePermission> manifestMode;
    /** null when the node had no authentication configuration file. */
    private final byte[] configBytes;

    private ApiserverSnapshot(Path manifest, Path authenticationConfig, byte[] manifestBytes,
                              Set<PosixFilePermission> manifestMode, byte[] configBytes) {
        this.manifest = manifest;
        this.authenticationConfig = authenticationConfig;
        this.manifestBytes = manifestBytes;
        this.manifestMode = manifestMode;
        this.configBytes = configBytes;
    }

    /** Reads the node's current configuration (the manifest must exist: see StaticPodManifest.read). */
    public static ApiserverSnapshot take(DeploymentConfig cfg) throws IOException {
        StaticPodManifest.read(cfg.apiserverManifest()); // the same clear error when it is missing
        Path config = cfg.authenticationConfig();
        return new ApiserverSnapshot(cfg.apiserverManifest(), config, Files.readAllBytes(cfg.apiserverManifest()),
                mode(cfg.apiserverManifest()), Files.exists(config) ? Files.readAllBytes(config) : null);
    }

    /** Where the copies are kept. */
    public Path keptIn() {
        return authenticationConfig.getParent().resolve(DIR);
    }

    /** Keeps a copy of the configuration before it is changed (owner-only: the manifest names key files). */
    public void keep() throws IOException {
        Path dir = keptIn();
        Files.createDirectories(dir);
        write(dir.resolve(manifest.getFileName()), manifestBytes, OWNER_ONLY);
        Path config = dir.resolve(authenticationConfig.getFileName());
        if (configBytes != null) {
            write(config, configBytes, OWNER_ONLY);
        } else {
            Files.deleteIfExists(config);
        }
    }

    /** Puts the configuration back as it was: kubelet restarts kube-apiserver if its manifest changed. */
    public void restore() throws IOException {
        if (configBytes != null) {
            write(authenticationConfig, configBytes, mode(authenticationConfig));
        } else {
            Files.deleteIfExists(authenticationConfig);
        }
        if (!java.util.Arrays.equals(manifestBytes, Files.readAllBytes(manifest))) {
            write(manifest, manifestBytes, manifestMode);
        }
    }

    private static Set<PosixFilePermission> mode(Path file) throws IOException {
        return Files.exists(file) ? Files.getPosixFilePermissions(file) : OWNER_ONLY;
    }

    /** Atomic write with the given mode, through a temporary name kubelet ignores (not *.yaml). */
    private static void write(Path file, byte[] content, Set<PosixFilePermission> mode) throws IOException {
        Path tmp = file.resolveSibling("." + file.getFileName() + ".dexauth.tmp");
        Files.deleteIfExists(tmp);
        Files.createFile(tmp, PosixFilePermissions.asFileAttribute(OWNER_ONLY));
        Files.setPosixFilePermissions(tmp, mode);
        Files.write(tmp, content);
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }
}
