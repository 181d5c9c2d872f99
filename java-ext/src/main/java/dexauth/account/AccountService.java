package dexauth.account;

import dexauth.dex.DexApi;
import dexauth.errors.DomainException;
import dexauth.errors.Invalid;
import dexauth.kubectl.LoginSettings;
import dexauth.loginguard.Throttle;
import dexauth.oidc.DexClient;
import dexauth.users.PasswordPolicy;
import dexauth.users.UserDirectory;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.javalin.Javalin;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.SecureRequestCustomizer;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.SslConnectionFactory;
import org.eclipse.jetty.util.ssl.SslContextFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.time.Clock;
import java.time.Duration;
import java.util.Set;
import java.util.function.Supplier;

/**
 * The account service: the web console and the JSON API over HTTPS, on the domain core. It
 * holds Dex's gRPC client certificate and a service account; every decision about what a
 * person may do is Kubernetes', on that person's own token.
 */
public final class AccountService implements AutoCloseable {
    private final Javalin app;
    private final KubernetesClient serviceKube;
    private final DexApi dex;
    private final UserDirectory directory;

    private AccountService(Javalin app, KubernetesClient serviceKube, DexApi dex, UserDirectory directory) {
        this.app = app;
        this.serviceKube = serviceKube;
        this.dex = dex;
        this.directory = directory;
    }

    public static AccountService start(ServiceConfig config) {
        Clock clock = Clock.systemUTC();
        KubernetesClient serviceKube = new KubernetesClientBuilder().build();
        Identity.Apiserver apiserver = new Identity.Apiserver(serviceKube.getConfiguration().getMasterUrl(),
                serviceKube.getConfiguration().getCaCertFile(), serviceKube.getConfiguration().getCaCertData());
        DexApi dex = DexApi.connect(config.dexGrpc.address, Path.of(config.dexGrpc.caFile), Path.of(config.dexGrpc.certFile),
                Path.of(config.dexGrpc.keyFile));
        UserDirectory directory = new UserDirectory(serviceKube, config.namespace);
        Accounts accounts = new Accounts(serviceKube, dex, directory, config.namespace,
                new PasswordPolicy(config.users.passwordMinLength), config.users.bcryptCost,
                new Throttle(5, Duration.ofMinutes(15), clock), new Throttle(20, Duration.ofMinutes(15), clock));
        Supplier<DexClient> dexClient = discovered(config);
        // Path "/": the same session answers the forward-auth checks of every admin UI on this host.
        Sessions sessions = new Sessions(config.idleTimeout(), config.absoluteTimeout(), clock, "/");
        Console console = new Console(config, accounts, sessions, dexClient, apiserver, clock);
        Api api = new Api(config, accounts, dexClient, apiserver,
                Set.of(config.kubectlClientId, config.cliClientId, config.clientId), clock);
        String base = config.basePath();
        Javalin app = Javalin.create(c -> {
            c.startup.showJavalinBanner = false;
            c.startup.showOldJavalinVersionWarning = false;
            c.router.contextPath = base;
            c.http.maxRequestSize = 1_000_000;
            c.jetty.addConnector((server, http) -> httpsConnector(server, http, config));
            c.routes.get("/healthz", ctx -> ctx.result("ok"));
            api.routes(c.routes);
            console.routes(c.routes);
            c.routes.exception(DomainException.class, (e, ctx) -> {
                if (Api.handles(ctx, base)) Api.failed(ctx, e);
                else console.failed(ctx, e);
            });
            c.routes.exception(Exception.class, (e, ctx) -> {
                // Never a stack trace or an exception text to the client: they may carry details.
                System.err.println("account-service: " + ctx.method() + " " + ctx.path() + " failed: " + e.getClass().getName()
                        + (e instanceof io.fabric8.kubernetes.client.KubernetesClientException k ? " (HTTP " + k.getCode() + ": " + dexauth.errors.Causes.messages(k) + ")" : ""));
                ctx.status(500).result("internal error");
            });
        });
        app.start();
        directory.awaitSynced(30);
        System.out.println("account-service: listening on " + config.listen.address + ":" + config.listen.port
                + ", console at " + config.publicUrl + " (" + directory.size() + " users)");
        return new AccountService(app, serviceKube, dex, directory);
    }

    /** Dex's discovery, read on first use and kept: the service may start before Dex answers. */
    private static Supplier<DexClient> discovered(ServiceConfig config) {
        String caPem;
        try {
            caPem = Files.readString(Path.of(config.dexCaFile));
        } catch (IOException e) {
            throw new Invalid("dexCaFile", "cannot read " + config.dexCaFile + ": " + e.getMessage());
        }
        DexClient.Client client = new DexClient.Client(java.net.URI.create(config.issuer), caPem, config.clientId,
                config.clientSecret(), LoginSettings.defaultScopes(config.audienceClientId), config.audienceClientId);
        return new Supplier<>() {
            private volatile DexClient dex;

            @Override
            public DexClient get() {
                DexClient d = dex;
                if (d == null) {
                    synchronized (this) {
                        if (dex == null) dex = DexClient.discover(client);
                        d = dex;
                    }
                }
                return d;
            }
        };
    }

    private static ServerConnector httpsConnector(org.eclipse.jetty.server.Server server, HttpConfiguration http,
                                                  ServiceConfig config) {
        SslContextFactory.Server tls = new SslContextFactory.Server();
        tls.setKeyStore(keyStore(config));
        tls.setKeyStorePassword("");
        tls.setIncludeProtocols("TLSv1.3", "TLSv1.2");
        HttpConfiguration https = new HttpConfiguration(http);
        https.addCustomizer(new SecureRequestCustomizer(false)); // SNI host check off: reached by IP and by name
        https.setSendServerVersion(false);
        ServerConnector c = new ServerConnector(server, new SslConnectionFactory(tls, "http/1.1"),
                new HttpConnectionFactory(https));
        c.setHost(config.listen.address);
        c.setPort(config.listen.port);
        return c;
    }

    private static KeyStore keyStore(ServiceConfig config) {
        try {
            return dexauth.pki.TrustStores.keyStore(Path.of(config.tls.certFile), Path.of(config.tls.keyFile));
        } catch (IOException | java.security.GeneralSecurityException e) {
            throw new Invalid("tls", "cannot load the serving certificate " + config.tls.certFile + ": " + e.getMessage());
        }
    }

    public int port() { return app.port(); }

    @Override
    public void close() {
        app.stop();
        directory.close();
        dex.close();
        serviceKube.close();
    }
}
