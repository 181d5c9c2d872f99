package dexauth.cli;

import dexauth.kubectl.TokenCache;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

@Command(name = "logout", mixinStandardHelpOptions = true,
        description = {"Forget your logins on this machine: kubectl's cached tokens (~/.kube/cache/dexauth/)",
                "and authctl's own login. The next kubectl call asks you to log in again.",
                "Dex keeps no browser session, so nothing else remains to end; an administrator ends",
                "every session of a user at once by resetting the password or deleting the user."})
final class LogoutCommand implements Callable<Integer> {
    @Option(names = CredentialArgs.CACHE_DIR, description = "Token cache directory (default: ~/.kube/cache/dexauth).")
    Path cacheDir;

    @Override
    public Integer call() throws IOException {
        TokenCache cache = new TokenCache(cacheDir != null ? cacheDir : TokenCache.defaultDir());
        List<Path> removed = cache.clear();
        List<Path> own = new TokenCache(Session.loginDir()).clear();
        boolean session = !own.isEmpty();
        if (removed.isEmpty() && !session) {
            System.out.println("not logged in: nothing to remove");
        } else {
            System.out.println("logged out: removed " + removed.size() + " cached kubectl login(s) from " + cache.dir()
                    + (session ? " and authctl's login from " + Session.loginDir() : ""));
        }
        return 0;
    }
}
