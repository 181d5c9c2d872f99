package dexauth.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dexauth.chart.Kube;
import dexauth.dex.DexApi;
import dexauth.pki.Pem;
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
import java.time.Instant;
import java.util.Base64;

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

    static Path tokenFile() {
        String home = System.getenv("AUTHCTL_HOME");
        Path dir = home != null ? Path.of(home) : Path.of(System.getProperty("user.home"), ".config", "authctl");
        return dir.resolve("token.json");
    }

    static void saveToken(String email, String idToken, long expiresIn) throws IOException {
        ObjectNode n = new ObjectMapper().createObjectNode();
        n.put("email", email).put("idToken", idToken).put("expiresAt", Instant.now().plusSeconds(expiresIn).toString());
        Pem.writePrivate(tokenFile(), n.toString()); // a bearer token: 0600, like a key
    }

    /** The logged-in operator's email and token; fails clearly when absent or expired. */
    static JsonNode login() {
        Path f = tokenFile();
        if (!Files.exists(f)) throw new UserError("not logged in: run `authctl login` (or use --break-glass as root)", 7);
        try {
            JsonNode n = new ObjectMapper().readTree(f.toFile());
            if (Instant.parse(n.path("expiresAt").asText()).isBefore(Instant.now())) {
                throw new UserError("your login for " + n.path("email").asText()
                        + " has expired: run `authctl login` again", 7);
            }
            return n;
        } catch (IOException e) {
            throw new UserError("cannot read " + f + ": " + e.getMessage(), 7);
        }
    }

    String actor() {
        return breakGlass ? "root (break-glass)" : login().path("email").asText();
    }

    KubernetesClient kube() {
        CliConfig c = cfg();
        try {
            if (breakGlass) {
                if (c.kubeconfig == null) throw new UserError("kubeconfig is not set in the configuration file");
                return Kube.client(Path.of(c.kubeconfig));
            }
            if (c.apiserver.url == null || c.apiserver.caFile == null) {
                throw new UserError("apiserver.url and apiserver.caFile must be set in the configuration file");
            }
            Config k = new ConfigBuilder().withMasterUrl(c.apiserver.url).withCaCertFile(c.apiserver.caFile)
                    .withOauthToken(login().path("idToken").asText()).withRequestTimeout(30_000).build();
            return new KubernetesClientBuilder().withConfig(k).build();
        } catch (IOException e) {
            throw new UserError(e.getMessage());
        }
    }

    /** The admin kubeconfig, for the one self-service write (clearing must-change after a proven password). */
    KubernetesClient adminKube() {
        CliConfig c = cfg();
        try {
            return Kube.client(Path.of(c.kubeconfig));
        } catch (IOException | RuntimeException e) {
            throw new UserError("cannot use the admin kubeconfig " + c.kubeconfig
                    + " (run this as root on the bootstrap node): " + e.getMessage());
        }
    }

    DexApi dex() {
        CliConfig.Dex d = cfg().dex;
        try {
            return DexApi.connect(d.grpcAddress, Path.of(d.caFile), Path.of(d.clientCert), Path.of(d.clientKey));
        } catch (IOException | RuntimeException e) {
            throw new UserError("cannot reach Dex's gRPC API (run this as root on the bootstrap node): "
                    + e.getMessage());
        }
    }

    UserService users(KubernetesClient kube, DexApi dex, String actor) {
        CliConfig.Users u = cfg().users;
        return new UserService(kube, dex, u.namespace, new PasswordPolicy(u.passwordMinLength), u.bcryptCost, actor);
    }

    static String emailOf(String idToken) {
        String[] parts = idToken.split("\\.");
        try {
            return new ObjectMapper().readTree(Base64.getUrlDecoder().decode(parts[1])).path("email").asText();
        } catch (IOException | RuntimeException e) {
            return "";
        }
    }
}
