package dexauth.cli;

import dexauth.errors.LoginRequired;
import dexauth.chart.Kube;
import dexauth.kubectl.LoginMode;
import dexauth.kubectl.LoginSettings;
import dexauth.kubectl.TokenCache;
import dexauth.kubectl.UserHome;
import dexauth.kubectl.WorkstationLogin;
import dexauth.dex.DexApi;
import dexauth.loginguard.AccountKey;
import dexauth.loginguard.Lockouts;
import dexauth.users.PasswordPolicy;
import dexauth.users.UserService;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.net.URI;
import java.time.Clock;

/**
 * Who runs a user command, and with which rights: the operator's own Dex login (saved by
 * {@code authctl login}), or, for root on the bootstrap node, the admin kubeconfig
 * ({@code --break-glass}). Kubernetes enforces the rights; Dex is reached over mutual TLS.
 */
final class Session {
    @Option(names = "--config", description = "authctl configuration file.")
    Path config;

    @Option(names = "--break-glass",
            description = "Act as the cluster admin through the admin kubeconfig (root on the bootstrap node).")
    boolean breakGlass;

    CliConfig cfg() {
        return CliConfig.load(config);
    }

    /** Where authctl keeps its own login: ~/.config/authctl/ or $AUTHCTL_HOME. */
    static Path loginDir() {
        String home = System.getenv("AUTHCTL_HOME");
        return home != null ? Path.of(home) : UserHome.dir().resolve(".config").resolve("authctl");
    }

    /**
     * The operator's login: the same use-case as kubectl's exec plugin (password grant with the
     * authctl client, refresh when the short ID token runs out), cached in {@link #loginDir()}.
     */
    static WorkstationLogin operatorLogin(CliConfig cfg) {
        if (cfg.dex.issuer == null || cfg.dex.caFile == null) {
            throw new UserError("dex.issuer and dex.caFile must be set in the configuration file"
                    + " (written by the dexauth.cli Salt state)");
        }
        String caPem;
        try {
            caPem = Files.readString(Path.of(cfg.dex.caFile));
        } catch (IOException e) {
            throw new UserError("cannot read Dex's CA " + cfg.dex.caFile + ": " + e.getMessage());
        }
        LoginSettings s = new LoginSettings(URI.create(cfg.dex.issuer), caPem, cfg.dex.clientId,
                LoginSettings.defaultScopes(cfg.dex.audienceClientId), null, LoginMode.PASSWORD);
        return new WorkstationLogin(s, new TokenCache(loginDir()), Clock.systemUTC());
    }

    /** An interaction that cannot prompt: tells on stderr, asks nothing. */
    static class Quiet implements WorkstationLogin.Interaction {
        @Override public boolean interactive() { return false; }
        @Override public String ask(String prompt) { throw new IllegalStateException("no prompt here"); }
        @Override public char[] askSecret(String prompt) { throw new IllegalStateException("no prompt here"); }
        @Override public void tell(String line) { System.err.println(line); }
        @Override public boolean openBrowser(URI url) { return false; }
        @Override public boolean hasBrowser() { return false; }
    }

    /** The person of `authctl login` and `authctl token`: email from --email, password prompted or from stdin. */
    static WorkstationLogin.Interaction withEmail(String email, boolean passwordFromStdin) {
        return new Quiet() {
            @Override public boolean interactive() { return true; }
            @Override public String ask(String prompt) { return email; }
            @Override public char[] askSecret(String prompt) {
                return Passwords.existing(passwordFromStdin, "Password for " + email);
            }
        };
    }

    /** Logs {@code email} in with a password already asked (kept as the session of later commands). */
    TokenCache.Entry logInAs(String email, char[] password) {
        return operatorLogin(cfg()).logIn(new Quiet() {
            @Override public boolean interactive() { return true; }
            @Override public String ask(String prompt) { return email; }
            @Override public char[] askSecret(String prompt) { return password.clone(); }
        });
    }

    /** The logged-in operator (refreshed when due); fails clearly when there is no session. */
    TokenCache.Entry login() {
        try {
            return operatorLogin(cfg()).token(new Quiet());
        } catch (LoginRequired e) {
            throw new UserError("not logged in, or your login has expired or ended: run `authctl login` (or use"
                    + " --break-glass as root)", ExitCode.LOGIN_REQUIRED);
        }
    }

    KubernetesClient kube() {
        CliConfig c = cfg();
        if (breakGlass) {
            if (c.kubeconfig == null) throw new UserError("kubeconfig is not set in the configuration file");
            return Kube.client(Path.of(c.kubeconfig));
        }
        if (c.apiserver.url == null || c.apiserver.caFile == null) {
            throw new UserError("apiserver.url and apiserver.caFile must be set in the configuration file");
        }
        Config k = new ConfigBuilder().withMasterUrl(c.apiserver.url).withCaCertFile(c.apiserver.caFile)
                .withOauthToken(login().idToken()).withRequestTimeout(30_000).build();
        return new KubernetesClientBuilder().withConfig(k).build();
    }

    /** The admin kubeconfig, for the one self-service write (clearing must-change after a proven password). */
    KubernetesClient adminKube() {
        CliConfig c = cfg();
        try {
            return Kube.client(Path.of(c.kubeconfig));
        } catch (RuntimeException e) {
            throw new UserError("cannot use the admin kubeconfig " + c.kubeconfig
                    + " (run this as root on the bootstrap node): " + e.getMessage());
        }
    }

    DexApi dex() {
        CliConfig.Dex d = cfg().dex;
        try {
            return DexApi.connect(d.grpcAddress, Path.of(d.caFile), Path.of(d.clientCert), Path.of(d.clientKey));
        } catch (RuntimeException e) {
            throw new UserError("cannot reach Dex's gRPC API (run this as root on the bootstrap node): "
                    + e.getMessage());
        }
    }

    /**
     * Where user commands run: with --break-glass, directly with the admin kubeconfig and Dex's
     * gRPC key (root on the bootstrap node); otherwise through the account service with the
     * logged-in person's token, from any machine.
     */
    UserOps userOps() {
        if (breakGlass) {
            KubernetesClient kube = adminKube();
            DexApi dex = dex();
            return UserOps.direct(users(kube, dex, BREAK_GLASS_ACTOR), (email, idp) -> unlock(kube, email, idp), dex, kube);
        }
        return accountApi(login().idToken());
    }

    AccountApi accountApi(String idToken) {
        CliConfig c = cfg();
        if (c.dex.caFile == null) throw new UserError("dex.caFile must be set in the configuration file");
        return new AccountApi(AccountApi.baseUrl(c), Path.of(c.dex.caFile), idToken);
    }

    /** The audit actor of root's commands on the bootstrap node. */
    static final String BREAK_GLASS_ACTOR = "root (break-glass)";

    /** Ends a lockout with {@code kube}'s identity (root's admin kubeconfig). */
    boolean unlock(KubernetesClient kube, String login, String idp) {
        return Lockouts.unlock(kube, cfg().users.namespace, AccountKey.named(login, idp), BREAK_GLASS_ACTOR);
    }

    UserService users(KubernetesClient kube, DexApi dex, String actor) {
        CliConfig.Users u = cfg().users;
        return new UserService(kube, dex, u.namespace, new PasswordPolicy(u.passwordMinLength), u.bcryptCost, actor);
    }
}
