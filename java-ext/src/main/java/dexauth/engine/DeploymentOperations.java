package dexauth.engine;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dexauth.apiserver.ApiserverAuthentication;
import dexauth.chart.ChartDeployer;
import dexauth.chart.ChartSecrets;
import dexauth.chart.ChartValues;
import dexauth.chart.Kube;
import dexauth.config.DeploymentConfig;
import dexauth.dex.DexApi;
import dexauth.dex.PasswordHasher;
import dexauth.errors.NotFound;
import dexauth.errors.Unavailable;
import dexauth.pki.DexCertificates;
import dexauth.pki.PkiManager;
import dexauth.rbac.RoleAssignments;
import dexauth.rbac.RoleBindings;
import dexauth.rbac.RoleDefinitions;
import dexauth.users.Holders;
import dexauth.users.PasswordPolicy;
import dexauth.users.UserService;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.client.KubernetesClient;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

/**
 * The engine operations of one Dex deployment, each taking {@code {"pillar": <dexauth pillar>}}.
 * Each is idempotent and honours dry runs, so Salt's changes and test=True are truthful.
 */
final class DeploymentOperations {
    static final String CLUSTER_ADMIN = "cluster-admin";
    /** How long Dex's storage may stay unavailable while kube-apiserver restarts with new flags. */
    private static final Duration DEX_SETTLE = Duration.ofSeconds(120);

    private DeploymentOperations() {}

    static Map<String, Engine.Operation> all() {
        Map<String, Engine.Operation> ops = new java.util.TreeMap<>();
        // Also answers the names derived from pillar, so states and tests ask instead of repeating the rules.
        ops.put("config.validate", (req, dry) -> {
            DeploymentConfig cfg = config(req);
            return Engine.JSON.createObjectNode().put("changed", false).put("comment", "pillar is valid")
                    .put("certDir", cfg.certDir().toString()).put("fullname", ChartValues.fullname(cfg.release()));
        });
        ops.put("certs.ensure", (req, dry) -> changes(new PkiManager()
                .ensure(DexCertificates.request(config(req), ChartValues.fullname(config(req).release())), dry).changes()));
        ops.put("secrets.ensure", (req, dry) -> {
            DeploymentConfig cfg = config(req);
            try (KubernetesClient kube = Kube.client(cfg.kubeconfig())) {
                return changes(ChartSecrets.ensure(kube, cfg, dry));
            }
        });
        ops.put("chart.deploy", (req, dry) -> {
            DeploymentConfig cfg = config(req);
            try (KubernetesClient kube = Kube.client(cfg.kubeconfig())) {
                ChartDeployer deployer = new ChartDeployer(kube, cfg.kubeconfig());
                Map<String, String> changes = deployer.deploy(cfg, dry);
                ObjectNode reply = changes(changes);
                deployer.warnings().forEach(reply.withArray("warnings")::add);
                return reply;
            }
        });
        ops.put("superadmin.ensure", DeploymentOperations::superadmin);
        ops.put("roles.ensure", (req, dry) -> {
            DeploymentConfig cfg = config(req);
            try (KubernetesClient kube = Kube.client(cfg.kubeconfig())) {
                Map<String, String> changes = new java.util.LinkedHashMap<>(RoleDefinitions.ensure(kube, dry));
                if (kube.namespaces().withName(cfg.namespace()).get() != null) {
                    changes.putAll(RoleAssignments.reconcile(kube, Holders.fromCluster(kube, cfg.namespace()), dry));
                }
                return changes(changes);
            }
        });
        ops.put("apiserver.configure", (req, dry) -> {
            DeploymentConfig cfg = config(req);
            return changes(ApiserverAuthentication.configure(cfg, dexCa(cfg), dry));
        });
        ops.put("apiserver.unconfigure", (req, dry) ->
                changes(ApiserverAuthentication.unconfigure(config(req), dry)));
        ops.put("chart.remove", (req, dry) -> {
            DeploymentConfig cfg = config(req);
            try (KubernetesClient kube = Kube.client(cfg.kubeconfig())) {
                return changes(new ChartDeployer(kube, cfg.kubeconfig()).remove(cfg, dry));
            }
        });
        ops.put("secrets.remove", (req, dry) -> {
            DeploymentConfig cfg = config(req);
            try (KubernetesClient kube = Kube.client(cfg.kubeconfig())) {
                return changes(ChartSecrets.remove(kube, cfg, req.path("purge").asBoolean(false), dry));
            }
        });
        ops.put("data.purge", (req, dry) -> {
            DeploymentConfig cfg = config(req);
            try (KubernetesClient kube = Kube.client(cfg.kubeconfig())) {
                return changes(UserData.purge(kube, cfg, dry));
            }
        });
        return ops;
    }

    static DeploymentConfig config(JsonNode req) {
        return DeploymentConfig.fromPillar(req.get("pillar"));
    }

    static ObjectNode changes(Map<String, String> changes) {
        ObjectNode reply = Engine.JSON.createObjectNode();
        ObjectNode c = reply.putObject("changes");
        changes.forEach(c::put);
        return reply;
    }

    /** Dex's CA: from the local certificate directory (bootstrap node) or the cluster (other nodes). */
    static String dexCa(DeploymentConfig cfg) throws IOException {
        Path local = cfg.certDir().resolve("ca.crt");
        if (Files.isReadable(local)) return Files.readString(local);
        try (KubernetesClient kube = Kube.client(cfg.kubeconfig())) {
            ConfigMap cm = kube.configMaps().inNamespace(ChartSecrets.CA_CONFIGMAP_NAMESPACE)
                    .withName(ChartSecrets.CA_CONFIGMAP).get();
            if (cm == null || cm.getData() == null || !cm.getData().containsKey("ca.crt")) {
                throw new NotFound("Dex's CA is neither in " + local + " nor in ConfigMap "
                        + ChartSecrets.CA_CONFIGMAP_NAMESPACE + "/" + ChartSecrets.CA_CONFIGMAP
                        + "; apply dexauth.deployed on the bootstrap node first");
            }
            return cm.getData().get("ca.crt");
        }
    }

    static DexApi dex(DeploymentConfig cfg) {
        Path dir = cfg.certDir();
        return DexApi.connect(cfg.grpcAddress(), dir.resolve("ca.crt"),
                dir.resolve(DexCertificates.CLI_CLIENT + ".crt"), dir.resolve(DexCertificates.CLI_CLIENT + ".key"));
    }

    /**
     * Creates the super-admin once, through the same user service as {@code authctl user add}
     * (Cluster Admin, must change its password), and keeps its role bindings. The one-time
     * password is returned in {@code initialPassword} only on creation, for the caller to show once.
     */
    private static ObjectNode superadmin(JsonNode req, boolean dry) throws Exception {
        DeploymentConfig cfg = config(req);
        String email = cfg.superadminEmail();
        ObjectNode reply = Engine.JSON.createObjectNode();
        ObjectNode changes = reply.putObject("changes");
        try (DexApi dex = dex(cfg); KubernetesClient kube = Kube.client(cfg.kubeconfig())) {
            if (!dry) dex.awaitReady(Duration.ofSeconds(req.path("waitSeconds").asInt(180)));
            UserService users = new UserService(kube, dex, cfg.namespace(), PasswordPolicy.defaults(), cfg.bcryptCost(),
                    "bootstrap");
            UserService.Presence presence;
            try {
                presence = users.presence(email, dry ? Duration.ZERO : DEX_SETTLE);
            } catch (Unavailable e) {
                if (!dry || e.dependency() != Unavailable.Dependency.DEX) throw e;
                presence = UserService.Presence.ABSENT; // Dex not deployed yet
            }
            if (presence == UserService.Presence.ABSENT) changes.put("user/" + email, "created (must change password)");
            if (presence != UserService.Presence.RECORDED) changes.put("user/" + email + "/metadata", "recorded as Cluster Admin");
            if (!dry) {
                users.ensureSuperAdmin(email, cfg.superadminUsername(), DEX_SETTLE).ifPresent(pw -> {
                    reply.put("initialPassword", new String(pw));
                    PasswordHasher.wipe(pw);
                });
            }
            if (RoleBindings.unbindUser(kube, email, CLUSTER_ADMIN, dry)) {
                changes.put("clusterrolebinding/" + RoleBindings.bindingName(CLUSTER_ADMIN, email),
                        "replaced by the role binding of Cluster Admins");
            }
            if (kube.namespaces().withName(cfg.namespace()).get() != null) {
                RoleAssignments.reconcile(kube, Holders.fromCluster(kube, cfg.namespace()), dry).forEach(changes::put);
            }
        }
        reply.put("email", email);
        return reply;
    }
}
