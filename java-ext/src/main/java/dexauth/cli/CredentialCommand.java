package dexauth.cli;

import dexauth.errors.LoginRequired;
import dexauth.kubectl.ExecCredential;
import dexauth.kubectl.LoginMode;
import dexauth.kubectl.LoginSettings;
import dexauth.kubectl.TokenCache;
import dexauth.kubectl.WorkstationLogin;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.Callable;

@Command(name = "credential", mixinStandardHelpOptions = true,
        description = {"kubectl's exec credential plugin: print an ExecCredential with a valid ID token.",
                "`authctl kubeconfig` writes a kubeconfig that runs it; you rarely run it by hand.",
                "",
                "The cached ID token is used while it has more than a minute (or a quarter of its life)",
                "left; then it is refreshed without any prompt; when the refresh is refused (password",
                "changed, user deleted, session expired) or there is no token, you log in: the password",
                "prompt for local users, a browser, or the device flow (see --login). Prompts go to the",
                "terminal, never to stdout. Without a terminal (kubectl in a script) it fails at once.",
                "",
                "Tokens are cached in ~/.kube/cache/dexauth/ (directory 0700, files 0600), one file per",
                "issuer, client, scopes and user; `authctl logout` removes them."},
        footer = {"", "Exit codes: 0 ok, 2 bad option, 4 login refused, 7 login needed but no terminal,",
                "9 Dex unreachable (all codes: authctl --help)."})
final class CredentialCommand implements Callable<Integer> {
    static final String NAME = "credential";

    @Option(names = CredentialArgs.ISSUER, required = true, description = "Dex's issuer URL (https, as in the tokens' iss).")
    URI issuer;

    @Option(names = CredentialArgs.CA_DATA, required = true,
            description = "Base64 of the PEM CA that signed Dex's certificate (embedded: nothing to install).")
    String caData;

    @Option(names = CredentialArgs.CLIENT_ID, defaultValue = "kubectl", description = "Dex's public kubectl client (default: ${DEFAULT-VALUE}).")
    String clientId;

    @Option(names = CredentialArgs.SCOPES, split = ",", required = true,
            description = "Scopes, comma-separated; audience:server:client_id:<apiserver client> makes the token valid for kube-apiserver.")
    List<String> scopes;

    @Option(names = CredentialArgs.USERNAME, description = "Your login name (prefilled at the password prompt; one cache per user).")
    String username;

    @Option(names = "--login", defaultValue = "auto",
            description = "How to log in: auto (password when Dex has only local users, else browser, else device), password, browser, device.")
    String login;

    @Option(names = CredentialArgs.CACHE_DIR, description = "Token cache directory (default: ~/.kube/cache/dexauth).")
    Path cacheDir;

    @Override
    public Integer call() {
        String pem = decode(caData);
        LoginSettings settings = new LoginSettings(issuer, pem, clientId, scopes, username, LoginMode.parse(login));
        String execInfo = System.getenv("KUBERNETES_EXEC_INFO");
        TokenCache cache = new TokenCache(cacheDir != null ? cacheDir : TokenCache.defaultDir());
        try {
            TokenCache.Entry e = new WorkstationLogin(settings, cache, Clock.systemUTC()).token(new Terminal(execInfo));
            System.out.print(ExecCredential.json(ExecCredential.apiVersion(execInfo), e.idToken(), e.expiresAt()));
            return 0;
        } catch (dexauth.errors.LoginRequired r) {
            throw new dexauth.errors.LoginRequired(r.getMessage() + ". Log in once from a terminal:"
                    + " run any kubectl command there (it asks you to log in), then retry");
        }
    }

    private static String decode(String b64) {
        try {
            return new String(Base64.getDecoder().decode(b64.trim()), StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            throw new UserError(CredentialArgs.CA_DATA + " is not base64 (it is the base64 of the CA's PEM)");
        }
    }
}
