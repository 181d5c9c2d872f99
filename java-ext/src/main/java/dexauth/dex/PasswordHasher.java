package dexauth.dex;

import org.bouncycastle.crypto.generators.OpenBSDBCrypt;

import java.security.SecureRandom;
import java.util.Arrays;

/** bcrypt, done in this process: Dex only ever receives the hash. */
public final class PasswordHasher {
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final String ALPHABET =
            "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789-_.!@#%+=";

    private PasswordHasher() {}

    public static byte[] hash(char[] password, int cost) {
        if (cost < 10 || cost > 16) throw new dexauth.errors.Invalid("bcrypt cost", "bcrypt cost must be 10..16, got " + cost);
        byte[] salt = new byte[16];
        RANDOM.nextBytes(salt);
        return OpenBSDBCrypt.generate("2a", password, salt, cost).getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    }

    public static boolean matches(char[] password, byte[] hash) {
        return OpenBSDBCrypt.checkPassword(new String(hash, java.nio.charset.StandardCharsets.US_ASCII), password);
    }

    /** A random password from an unambiguous alphabet (about 6 bits per character). */
    public static char[] randomPassword(int length) {
        char[] out = new char[length];
        for (int i = 0; i < length; i++) out[i] = ALPHABET.charAt(RANDOM.nextInt(ALPHABET.length()));
        return out;
    }

    public static void wipe(char[] secret) {
        if (secret != null) Arrays.fill(secret, '\0');
    }
}
