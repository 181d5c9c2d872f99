package dexauth.kubectl;

import java.time.Instant;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The ExecCredential kubectl reads from an exec plugin's stdout (client.authentication.k8s.io). */
public final class ExecCredential {
    public static final String API_V1 = "client.authentication.k8s.io/v1";
    private static final Pattern API_VERSION = Pattern.compile("\"apiVersion\"\\s*:\\s*\"(client\\.authentication\\.k8s\\.io/v1(?:beta1)?)\"");
    private static final Pattern INTERACTIVE = Pattern.compile("\"interactive\"\\s*:\\s*(true|false)");

    private ExecCredential() {}

    /** JSON for kubectl; the token is a JWT (no character needs escaping). */
    public static String json(String apiVersion, String token, long expiresAt) {
        if (!token.matches("[A-Za-z0-9_.-]+")) throw new IllegalArgumentException("not a JWT");
        return "{\"apiVersion\":\"" + apiVersion + "\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"" + token
                + "\",\"expirationTimestamp\":\"" + Instant.ofEpochSecond(expiresAt) + "\"}}\n";
    }

    /** The apiVersion kubectl asked for in KUBERNETES_EXEC_INFO (v1 when absent). */
    public static String apiVersion(String execInfo) {
        if (execInfo == null) return API_V1;
        Matcher m = API_VERSION.matcher(execInfo);
        return m.find() ? m.group(1) : API_V1;
    }

    /** kubectl's word on whether a person can answer prompts; null when kubectl did not say. */
    public static Boolean interactive(String execInfo) {
        if (execInfo == null) return null;
        Matcher m = INTERACTIVE.matcher(execInfo);
        return m.find() ? Boolean.valueOf(m.group(1)) : null;
    }
}
