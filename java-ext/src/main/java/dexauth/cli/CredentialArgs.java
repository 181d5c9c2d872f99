package dexauth.cli;

import dexauth.kubectl.ExecCredential;
import dexauth.kubectl.LoginSettings;
import dexauth.kubectl.TokenCache;

import java.nio.file.Path;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

/**
 * The exec plugin's fast path: kubectl runs {@code authctl credential} before every call, so a
 * cached token must come back without starting the CLI framework. This reads the few options
 * that name the cache file and prints the cached credential; anything else (no token, token
 * due for refresh, --help, an unexpected argument) falls through to the full command.
 * The option names are shared with {@link CredentialCommand}.
 */
public final class CredentialArgs {
    static final String ISSUER = "--issuer";
    static final String CA_DATA = "--issuer-ca-data";
    static final String CLIENT_ID = "--client-id";
    static final String SCOPES = "--scopes";
    static final String USERNAME = "--username";
    static final String CACHE_DIR = "--cache-dir";
    private static final java.util.Set<String> KNOWN = java.util.Set.of(ISSUER, CA_DATA, CLIENT_ID, SCOPES, USERNAME,
            CACHE_DIR, "--login");

    private CredentialArgs() {}

    public static void main(String[] args) {
        Optional<String> cached = cachedCredential(args, System.getenv("KUBERNETES_EXEC_INFO"),
                Instant.now().getEpochSecond());
        if (cached.isPresent()) {
            System.out.print(cached.get());
            System.out.flush();
            return;
        }
        Main.main(args);
    }

    /** The ExecCredential of a cached token still to be handed out, if the arguments name one. */
    static Optional<String> cachedCredential(String[] args, String execInfo, long now) {
        if (args.length == 0 || !CredentialCommand.NAME.equals(args[0])) return Optional.empty();
        Map<String, String> opts = new HashMap<>();
        for (int i = 1; i < args.length; i++) {
            String a = args[i];
            int eq = a.indexOf('=');
            String name = eq > 0 ? a.substring(0, eq) : a;
            if (!KNOWN.contains(name)) return Optional.empty();
            if (eq > 0) opts.put(name, a.substring(eq + 1));
            else if (i + 1 < args.length) opts.put(name, args[++i]);
            else return Optional.empty();
        }
        String issuer = opts.get(ISSUER), scopes = opts.get(SCOPES);
        if (issuer == null || scopes == null || !opts.containsKey(CA_DATA)) return Optional.empty();
        String key = LoginSettings.cacheKey(issuer, opts.getOrDefault(CLIENT_ID, "kubectl"),
                String.join(" ", scopes.split(",")), opts.get(USERNAME));
        Path dir = opts.containsKey(CACHE_DIR) ? Path.of(opts.get(CACHE_DIR)) : TokenCache.defaultDir();
        return TokenCache.usableToken(dir, key, now)
                .map(t -> ExecCredential.json(ExecCredential.apiVersion(execInfo), t[0], Long.parseLong(t[1])));
    }
}
