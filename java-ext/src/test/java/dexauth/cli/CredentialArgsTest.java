package dexauth.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dexauth.kubectl.Kubeconfig;
import dexauth.kubectl.LoginMode;
import dexauth.kubectl.LoginSettings;
import dexauth.kubectl.TokenCache;
import java.net.URI;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The fast path must find exactly the cache file the full command writes, or fall through. */
class CredentialArgsTest {
    @TempDir Path dir;

    private static final String JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln";
    private static final String PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

    private List<String> args(LoginSettings s) {
        List<String> a = new ArrayList<>(Kubeconfig.execArgs(s));
        a.addAll(List.of("--cache-dir", dir.toString()));
        return a;
    }

    @Test
    void aCachedTokenIsAnsweredFromTheKubeconfigArguments() {
        LoginSettings s = new LoginSettings(URI.create("https://127.0.0.1:5556/oidc"), PEM, "kubectl",
                LoginSettings.defaultScopes("kubernetes"), "jane@example.com", LoginMode.AUTO);
        new TokenCache(dir).write(s.cacheKey(), new TokenCache.Entry(JWT, "r", 2000, 1940, "jane@example.com"));
        String out = CredentialArgs.cachedCredential(args(s).toArray(String[]::new),
                "{\"apiVersion\":\"client.authentication.k8s.io/v1beta1\",\"spec\":{\"interactive\":false}}", 1000).orElseThrow();
        assertTrue(out.contains("\"token\":\"" + JWT + "\""), out);
        assertTrue(out.contains("client.authentication.k8s.io/v1beta1"), out);
        assertTrue(out.contains("1970-01-01T00:33:20Z"), out);
        assertTrue(CredentialArgs.cachedCredential(args(s).toArray(String[]::new), null, 1940).isEmpty(), "due for refresh");
    }

    @Test
    void anotherUserOrAnUnknownOptionFallsThrough() {
        LoginSettings jane = new LoginSettings(URI.create("https://127.0.0.1:5556/oidc"), PEM, "kubectl",
                LoginSettings.defaultScopes("kubernetes"), "jane@example.com", LoginMode.AUTO);
        LoginSettings bob = new LoginSettings(jane.issuer(), PEM, "kubectl", jane.scopes(), "bob@example.com", LoginMode.AUTO);
        new TokenCache(dir).write(jane.cacheKey(), new TokenCache.Entry(JWT, "r", 2000, 1940, "jane@example.com"));
        assertTrue(CredentialArgs.cachedCredential(args(bob).toArray(String[]::new), null, 1000).isEmpty());
        List<String> help = args(jane);
        help.add("--help");
        assertTrue(CredentialArgs.cachedCredential(help.toArray(String[]::new), null, 1000).isEmpty());
        assertEquals(true, CredentialArgs.cachedCredential(args(jane).toArray(String[]::new), null, 1000).isPresent());
    }
}
