package dexauth.kubectl;

import dexauth.oidc.DexClient;

import dexauth.errors.Unauthenticated;
import dexauth.errors.LoginRequired;
import java.net.URI;
import java.time.Clock;
import java.time.Duration;
import java.util.Optional;

/**
 * The exec plugin's use-case: a valid ID token for kubectl, from the cache while it lasts, else
 * by refresh without any prompt, else by an interactive login. All of it holds the cache key's
 * lock, so parallel kubectl calls refresh (or prompt) once.
 */
public final class WorkstationLogin {
    /** How the use-case talks to the person (the CLI provides the terminal). */
    public interface Interaction {
        /** Someone can answer prompts and follow a browser or device login. */
        boolean interactive();

        String ask(String prompt);

        char[] askSecret(String prompt);

        /** A line for the person (never stdout: that is kubectl's). */
        void tell(String line);

        /** Starts a browser on {@code url}; false when there is none here. */
        boolean openBrowser(URI url);

        /** A browser could be started on this machine (desktop session, $BROWSER). */
        boolean hasBrowser();
    }

    private static final Duration BROWSER_TIMEOUT = Duration.ofMinutes(5);

    private final LoginSettings settings;
    private final TokenCache cache;
    private final Clock clock;

    public WorkstationLogin(LoginSettings settings, TokenCache cache, Clock clock) {
        this.settings = settings;
        this.cache = cache;
        this.clock = clock;
    }

    public TokenCache.Entry token(Interaction io) {
        String key = settings.cacheKey();
        return cache.locked(key, () -> {
            Optional<TokenCache.Entry> cached = cache.read(key);
            if (cached.isPresent() && cached.get().usableAt(clock.instant().getEpochSecond())) return cached.get();
            DexClient dex = null; // discovered only when needed: failing without a terminal must be instant
            if (cached.isPresent() && cached.get().refreshToken() != null) {
                dex = DexClient.discover(settings.client());
                try {
                    return store(key, dex.refresh(cached.get().refreshToken()));
                } catch (Unauthenticated ended) {
                    cache.remove(key);
                    io.tell("Your session at " + settings.issuer() + " has ended (" + ended.getMessage()
                            + "); log in again.");
                }
            }
            if (!io.interactive()) {
                throw new LoginRequired("no valid token for " + settings.issuer()
                        + " and no terminal to log in from");
            }
            return store(key, login(dex != null ? dex : DexClient.discover(settings.client()), io));
        });
    }

    /** A new interactive login, whatever is cached (e.g. `authctl login` as someone else). */
    public TokenCache.Entry logIn(Interaction io) {
        String key = settings.cacheKey();
        return cache.locked(key, () -> store(key, login(DexClient.discover(settings.client()), io)));
    }

    /** One login that is handed out and not kept (`authctl token`): nothing is cached. */
    public TokenCache.Entry loginOnce(Interaction io) {
        return entry(login(DexClient.discover(settings.client()), io));
    }

    private TokenCache.Entry store(String key, DexClient.Tokens tokens) {
        TokenCache.Entry e = entry(tokens);
        cache.write(key, e);
        return e;
    }

    private DexClient.Tokens login(DexClient dex, Interaction io) {
        LoginMode mode = settings.mode();
        if (mode == LoginMode.AUTO) {
            mode = dex.offersOnlyLocalUsers() ? LoginMode.PASSWORD : io.hasBrowser() ? LoginMode.BROWSER : LoginMode.DEVICE;
        }
        switch (mode) {
            case PASSWORD -> {
                String user = settings.username() != null ? settings.username() : io.ask("Email: ").trim();
                if (user.isEmpty()) throw new Unauthenticated("no email given");
                char[] password = io.askSecret("Password for " + user + ": ");
                try {
                    return dex.password(user, password);
                } finally {
                    java.util.Arrays.fill(password, '\0');
                }
            }
            case BROWSER -> {
                try (LoopbackReceiver receiver = new LoopbackReceiver()) {
                    DexClient.AuthRequest request = dex.authorization(receiver.redirectUri());
                    io.tell("Open this URL in a browser to log in:");
                    io.tell(request.url().toString());
                    if (io.openBrowser(request.url())) io.tell("(a browser was started; waiting for the login to finish)");
                    return dex.redeem(request, receiver.await(request.state(), BROWSER_TIMEOUT));
                }
            }
            default -> {
                DexClient.DeviceLogin device = dex.startDevice();
                io.tell("To log in, open " + device.verificationUri() + " and enter the code " + device.userCode());
                if (device.verificationUriComplete() != null) io.tell("(or open " + device.verificationUriComplete() + ")");
                return dex.awaitDevice(device);
            }
        }
    }

    private static TokenCache.Entry entry(DexClient.Tokens t) {
        long exp = t.expiresAt().getEpochSecond();
        return new TokenCache.Entry(t.idToken(), t.refreshToken(), exp, TokenCache.Entry.refreshAt(t.issuedAt().getEpochSecond(), exp),
                t.email());
    }

    /** Forgets this login's tokens (the refresh token stays valid at Dex until it expires or is revoked). */
    public void forget() {
        cache.remove(settings.cacheKey());
    }
}
