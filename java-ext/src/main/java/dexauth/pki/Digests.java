package dexauth.pki;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;

/** Digests of secret material that may be shown where lower roles read (pod annotations). */
public final class Digests {
    private Digests() {}

    /**
     * HMAC-SHA256 of {@code text} with a per-cluster random {@code key}, in hex: it changes when the
     * text changes, yet whoever reads it cannot test guesses of the text offline (a plain hash would
     * let them).
     */
    public static String keyed(byte[] key, String text) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(key, "HmacSHA256"));
            return HexFormat.of().formatHex(mac.doFinal(text.getBytes(StandardCharsets.UTF_8)));
        } catch (java.security.GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }
}
