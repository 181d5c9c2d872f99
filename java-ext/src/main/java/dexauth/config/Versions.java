package dexauth.config;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Properties;

/**
 * Versions this build was made with. The Dex version comes from toolchain/versions.env
 * (DEX_VERSION), copied into the jar by Maven's resource filtering: nothing else names it.
 */
public final class Versions {
    /** Where Dex's images are published; the tag is {@link #dex()}. */
    public static final String DEX_IMAGE_REPOSITORY = "ghcr.io/dexidp/dex";

    /** Where the account service's images are published; the tag is {@link #authctl()} (same jar). */
    public static final String ACCOUNT_IMAGE_REPOSITORY = "dexauth/account-service";

    private static final Properties BUILT = load();

    private Versions() {}

    private static Properties load() {
        Properties p = new Properties();
        try (InputStream in = Versions.class.getResourceAsStream("/dexauth-version.properties")) {
            if (in != null) p.load(in);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return p;
    }

    /** authctl's own version (the Maven project version). */
    public static String authctl() { return BUILT.getProperty("version", "unknown"); }

    /** The Dex release authctl targets and deploys (DEX_VERSION of toolchain/versions.env). */
    public static String dex() { return BUILT.getProperty("dex", "unknown"); }

    /** The Dex image deployed when pillar names none. */
    public static String dexImage() { return DEX_IMAGE_REPOSITORY + ":" + dex(); }
}
