package dexauth.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import dexauth.pki.TrustStores;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

/**
 * STAND-IN for the account service (branch account-deploy), so the chart's Deployment rolls out
 * while {@code dexauth.account} is being written: it reads service.yaml, serves HTTPS with the
 * service's certificate and answers {@code <publicUrl path>/healthz}; everything else is 503.
 * The real {@code authctl serve} replaces this class (same command line, same config file).
 */
@Command(name = "serve", description = "Run the account service (web console and JSON API) from its config file.")
final class ServeCommand implements Callable<Integer> {

    @Option(names = "--config", required = true, description = "The service's settings (service.yaml).")
    Path config;

    @Override
    public Integer call() throws Exception {
        JsonNode cfg = new YAMLMapper().readTree(config.toFile());
        String base = URI.create(cfg.path("publicUrl").asText()).getPath().replaceAll("/+$", "");
        HttpsServer server = HttpsServer.create(new InetSocketAddress(cfg.at("/listen/address").asText("0.0.0.0"),
                cfg.at("/listen/port").asInt(8443)), 0);
        server.setHttpsConfigurator(new HttpsConfigurator(TrustStores.context(Path.of(cfg.path("dexCaFile").asText()),
                Path.of(cfg.at("/tls/certFile").asText()), Path.of(cfg.at("/tls/keyFile").asText()))));
        server.createContext("/", exchange -> {
            boolean health = exchange.getRequestURI().getPath().equals(base + "/healthz");
            reply(exchange, health ? 200 : 503, health ? "ok\n" : "the account service is not built yet\n");
        });
        server.start();
        System.err.println("account service stand-in listening on " + server.getAddress());
        new CountDownLatch(1).await();
        return 0;
    }

    private static void reply(HttpExchange exchange, int status, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", "text/plain; charset=utf-8");
        exchange.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(bytes);
        }
    }
}
