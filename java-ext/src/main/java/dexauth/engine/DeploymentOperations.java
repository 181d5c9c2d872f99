package dexauth.engine;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dexauth.adminui.AdminUiObjects;
import dexauth.apiserver.ApiserverAuthentication;
import dexauth.apiserver.ApiserverHealth;
import dexauth.apiserver.ApiserverSnapshot;
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
import dexauth.rbac.SolutionPolicy;
import dexauth.users.GroupGrants;
import dexauth.users.Holders;
import dexauth.users.PasswordPolicy;
import dexauth.users.ProbeAccount;
import dexauth.users.UserService;
import dexauth.users.UserStore;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.client.KubernetesClient;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The engine operations of one Dex deployment, each taking {@code {"pillar": <dexauth pillar keys>}}:
 * {@code config.validate} the whole pillar, the others the keys they read (see their states).
 * Each is idempotent and honours dry runs, so Salt's changes and test=True are truthful.
 */
final class DeploymentOperations implements AutoCloseable {
    static final String CLUSTER_ADMIN = "cluster-admin";
    /** How long Dex's storage may stay unavailable while kube-apiserver restarts with new flags. */
    private static final Duration DEX_SETTLE = Duration.ofSeconds(120);
    /** How long kube-apiserver may take to come back after its manifest changed. */
    static final Duration APISERVER_RESTART = Duration.ofSeconds(120);
    /** How long a control-plane node waits for the bootstrap node to publish Dex's CA. */
    static final Duration CA_WAIT = Duration.ofSeconds(300);
    /**
     * How long a node's kube-apiserver may take to be healthy after its authentication changed: it
     * re-reads its authentication configuration about once a minute.
     */
    static final Duration APISERVER_HEALTH = Duration.ofSeconds(150);

    /** Clients by kubeconfig (path and content): a session's operations share one, not one each. */
    private final Map<String, KubernetesClient> clients = new HashMap<>();

    /** The operations, sharing this instance's clients. */
    Map<String, Engine.Operation> all() {
        Map<String, Engine.Operation> ops = new java.util.TreeMap<>();
        // Also answers the names derived from pillar, so states and tests ask instead of repeating the rules.
        ops.put("config.validate", (req, dry) -> {
            DeploymentConfig cfg = DeploymentConfig.fromPillar(req.get("pillar"));
            return Engine.JSON.createObjectNode().put("changed", false).put("comment", "pillar is valid")
                    .put("certDir", cfg.certDir().toString()).put("fullname", ChartValues.fullname(cfg.release()));
        });
        ops.put("certs.ensure", (req, dry) -> changes(new PkiManager()
                .ensure(DexCertificates.request(config(req), ChartValues.fullname(config(req).release())), dry).changes()));
        ops.put("secrets.ensure", (req, dry) -> {
            DeploymentConfig cfg = config(req);
            return changes(ChartSecrets.ensure(kube(cfg), cfg, dry));
        });
        ops.put("chart.deploy", (req, dry) -> {
            DeploymentConfig cfg = config(req);
            ChartDeployer deployer = new ChartDeployer(kube(cfg), cfg.kubeconfig());
            Map<String, String> changes = deployer.deploy(cfg, dry);
            ObjectNode reply = changes(changes);
            deployer.warnings().forEach(reply.withArray("warnings")::add);
            return reply;
        });
        ops.put("superadmin.ensure", this::superadmin);
        ops.put("admin_uis.ensure", (req, dry) -> {
            DeploymentConfig cfg = config(req);
            KubernetesClient kube = kube(cfg);
            AdminUiObjects.Context ctx = adminUiContext(cfg, dry);
            // Grafana's role expression is written from the role store: again if it changed meanwhile.
            Map<String, String> changes = new java.util.LinkedHashMap<>();
            Holders.followingStore(kube, cfg.namespace(), dry, read -> changes.putAll(
                    AdminUiObjects.ensure(kube, ctx, cfg.adminUis(), read::holders, dry)));
            return changes(changes);
        });
        ops.put("admin_uis.prune", (req, dry) -> {
            DeploymentConfig cfg = config(req);
            return changes(AdminUiObjects.prune(kube(cfg), cfg.namespace(), cfg.adminUis(), dry));
        });
        ops.put("roles.ensure", (req, dry) -> {
            DeploymentConfig cfg = config(req);
            KubernetesClient kube = kube(cfg);
            Map<String, String> changes = new java.util.LinkedHashMap<>(RoleDefinitions.ensure(kube, dry));
            List<String> warnings = new java.util.ArrayList<>();
            if (kube.namespaces().withName(cfg.namespace()).get() != null) {
                SolutionPolicy policy = new SolutionPolicy(cfg.namespace(),
                        DeploymentConfig.deniedNamespaces(req.get("pillar")));
                changes.putAll(policy.store(kube, dry));
                changes.putAll(migrateGroupGrants(kube, cfg, warnings, dry));
                Holders.Outcome outcome = Holders.reconcile(kube, cfg.namespace(), policy, dry);
                changes.putAll(outcome.changes());
                warnings.addAll(outcome.warnings());
            }
            ObjectNode reply = changes(changes);
            warnings.forEach(reply.withArray("warnings")::add);
            return reply;
        });
        ops.put("probe.ensure", this::ensureProbeAccount);
        ops.put("probe.remove", (req, dry) -> {
            DeploymentConfig cfg = config(req);
            KubernetesClient kube = kube(cfg);
            // Without a running Dex its users stay in its storage (gone with a purge); the Secret goes anyway.
            boolean dexRuns = kube.apps().deployments().inNamespace(cfg.namespace())
                    .withName(ChartValues.fullname(cfg.release())).get() != null;
            if (!dexRuns) return changes(ProbeAccount.remove(kube, null, cfg.namespace(), dry));
            try (DexApi dex = dex(cfg)) {
                return changes(ProbeAccount.remove(kube, dex, cfg.namespace(), dry));
            } catch (io.grpc.StatusRuntimeException e) {
                throw DexApi.failure(e);
            }
        });
        ops.put("apiserver.configure", (req, dry) -> configureApiserver(req, dry));
        ops.put("apiserver.unconfigure", (req, dry) -> unconfigureApiserver(req, dry));
        ops.put("chart.remove", (req, dry) -> {
            DeploymentConfig cfg = config(req);
            return changes(new ChartDeployer(kube(cfg), cfg.kubeconfig()).remove(cfg, dry));
        });
        ops.put("secrets.remove", (req, dry) -> {
            DeploymentConfig cfg = config(req);
            return changes(ChartSecrets.remove(kube(cfg), cfg, req.path("purge").asBoolean(false), dry));
        });
        ops.put("roles.remove", (req, dry) -> changes(UserData.purgeRoles(kube(config(req)), dry)));
        ops.put("data.purge", (req, dry) -> {
            DeploymentConfig cfg = config(req);
            return changes(UserData.purge(kube(cfg), cfg, dry));
        });
        return ops;
    }

    /**
     * Group grants of an earlier release (stored without an IdP) become grants of the IdPs whose groups
     * the organisation controls (directories, OIDC providers), never of a GitLab or GitHub, where anyone
     * can create a group of that name; once (a second run finds nothing to migrate).
     */
    private static Map<String, String> migrateGroupGrants(KubernetesClient kube, DeploymentConfig cfg,
                                                          List<String> warnings, boolean dry) {
        List<String> targets = new java.util.ArrayList<>();
        List<String> open = new java.util.ArrayList<>();
        cfg.idps().forEach((name, spec) -> (spec.kind().groupsOpenToAnyone() ? open : targets).add(name));
        Map<String, String> changes = new GroupGrants(kube, cfg.namespace()).migrate(targets, warnings, dry);
        if (!changes.isEmpty() && !open.isEmpty()) {
            warnings.add("group grants stored without an IdP were not given to " + String.join(", ", open)
                    + " (anyone can create a group of that name there); grant them explicitly with"
                    + " `authctl role grant --group GROUP --idp NAME ROLE` if intended");
        }
        return changes;
    }

    /**
     * A changed static-pod manifest restarts kube-apiserver: the next steps (chart removal, the
     * super-admin) must find it back, not in the middle of its restart.
     */
    private ObjectNode afterRestart(DeploymentConfig cfg, java.time.Instant before, Map<String, String> changes,
                                    boolean dry) throws IOException, InterruptedException {
        if (!dry && changes.containsKey(cfg.apiserverManifest().toString())) {
            Kube.awaitRestarted(kube(cfg), before, APISERVER_RESTART);
            // Dex's storage: a login right after the orchestration must not meet its re-initialisation.
            Kube.awaitCustomResources(kube(cfg), "dex.coreos.com", APISERVER_RESTART);
        }
        return changes(changes);
    }

    /**
     * This node's kube-apiserver no longer trusts Dex: after a restart (flags removed) it must be back;
     * after its file was rewritten to trust no issuer, it must have re-read it.
     */
    private ObjectNode unconfigureApiserver(JsonNode req, boolean dry) throws IOException, InterruptedException {
        DeploymentConfig cfg = config(req);
        java.time.Instant before = java.time.Instant.now();
        Map<String, String> changes = ApiserverAuthentication.unconfigure(cfg, req.path("purge").asBoolean(false), dry);
        // Flag kept, file rewritten: kube-apiserver re-reads it, so wait for that, not for a restart.
        boolean reread = !dry && !changes.containsKey(cfg.apiserverManifest().toString())
                && changes.containsKey(cfg.authenticationConfig().toString());
        if (!reread) return afterRestart(cfg, before, changes, dry);
        try (KubernetesClient node = Kube.client(cfg.kubeconfig(), ApiserverAuthentication.nodeUrl(cfg))) {
            java.util.Optional<String> problem = new ApiserverHealth(node, cfg, null)
                    .awaitLoaded(before, ApiserverAuthentication.TRUSTS_NO_ISSUER, APISERVER_HEALTH);
            if (problem.isPresent()) {
                throw new Unavailable(Unavailable.Dependency.KUBERNETES, "kube-apiserver on this node did not take"
                        + " the configuration that trusts no issuer: " + problem.get(), null);
            }
        }
        return changes(changes);
    }

    /**
     * This node's kube-apiserver trusts Dex: the previous configuration is kept, the new one written,
     * then the node must be healthy (ApiserverHealth) within {@link #APISERVER_HEALTH}; if not, the
     * previous configuration is restored and the state fails with the cause, so the orchestration
     * stops before the next node.
     */
    private ObjectNode configureApiserver(JsonNode req, boolean dry) throws IOException, InterruptedException {
        DeploymentConfig cfg = config(req);
        String ca = dexCa(cfg, dry);
        ApiserverAuthentication.refuseServiceAccountIssuer(cfg);
        ApiserverSnapshot previous = ApiserverSnapshot.take(cfg);
        java.time.Instant before = java.time.Instant.now();
        Map<String, String> changes = ApiserverAuthentication.configure(cfg, ca, dry);
        if (dry || changes.isEmpty()) return changes(changes);
        previous.keep();
        boolean restarted = changes.containsKey(cfg.apiserverManifest().toString());
        String written = cfg.structuredAuthentication() ? Files.readString(cfg.authenticationConfig()) : null;
        try (KubernetesClient node = Kube.client(cfg.kubeconfig(), ApiserverAuthentication.nodeUrl(cfg))) {
            ApiserverHealth health = new ApiserverHealth(node, cfg, ca);
            java.util.Optional<String> problem = health.await(before, restarted, written, APISERVER_HEALTH);
            if (problem.isPresent()) {
                previous.restore();
                boolean back = health.awaitReady(APISERVER_RESTART);
                throw new Unavailable(Unavailable.Dependency.KUBERNETES, "kube-apiserver on this node was unhealthy after"
                        + " the change: " + problem.get() + ". Its previous configuration is restored (copy in "
                        + previous.keptIn() + ")" + (back ? "" : ", but it is not ready yet either") + "; later nodes"
                        + " were not changed", null);
            }
            changes.put("health check", health.accepted());
        }
        if (restarted) Kube.awaitCustomResources(kube(cfg), "dex.coreos.com", APISERVER_RESTART);
        return changes(changes);
    }

    /**
     * The account kube-apiserver's health check logs in with (on the bootstrap node, which holds Dex's
     * gRPC client key): unchanged while Dex verifies the password its Secret holds.
     */
    private ObjectNode ensureProbeAccount(JsonNode req, boolean dry) throws IOException {
        DeploymentConfig cfg = config(req);
        KubernetesClient kube = kube(cfg);
        try (DexApi dex = dex(cfg)) {
            if (!dry) dex.awaitReady(DEX_SETTLE);
            return changes(ProbeAccount.ensure(kube, dex, cfg.namespace(), cfg.bcryptCost(), dry));
        } catch (io.grpc.StatusRuntimeException | Unavailable e) {
            if (!dry) throw e instanceof io.grpc.StatusRuntimeException grpc ? DexApi.failure(grpc) : e;
            // A dry run before Dex (or its certificates) exists: the account would be made.
            return changes(Map.of("user/" + ProbeAccount.EMAIL, "password set, kept in secret/" + cfg.namespace() + "/"
                    + ProbeAccount.SECRET + " (once Dex runs)"));
        }
    }

    /** What the admin UIs' objects are made from, besides the UIs. */
    private AdminUiObjects.Context adminUiContext(DeploymentConfig cfg, boolean dry) {
        DeploymentConfig.Account a = cfg.account();
        URI accountService = URI.create("https://" + ChartValues.accountName(cfg.release()) + "." + cfg.namespace()
                + ".svc.cluster.local:" + a.port() + a.path());
        return new AdminUiObjects.Context(cfg.namespace(), accountService, a.path(),
                DeploymentConfig.origin(a.publicUrl()), cfg.issuer(), () -> {
                    try {
                        return dexCa(cfg, dry);
                    } catch (IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        throw new IllegalStateException(e);
                    }
                }, cfg.ingressClass(), cfg.ingressHosts(), cfg.productName());
    }

    /** The Kubernetes client for this kubeconfig, opened once per engine (session). */
    KubernetesClient kube(DeploymentConfig cfg) throws IOException {
        Path file = cfg.kubeconfig();
        String key = file + "\n" + (Files.isReadable(file) ? Files.readString(file) : "");
        KubernetesClient kube = clients.get(key);
        if (kube == null) {
            kube = Kube.client(file);
            clients.put(key, kube);
        }
        return kube;
    }

    @Override
    public void close() {
        clients.values().forEach(KubernetesClient::close);
        clients.clear();
    }

    /** The settings a state passed: each passes only the pillar keys its operation reads. */
    static DeploymentConfig config(JsonNode req) {
        return DeploymentConfig.fromPartialPillar(req.get("pillar"));
    }

    static ObjectNode changes(Map<String, String> changes) {
        ObjectNode reply = Engine.JSON.createObjectNode();
        ObjectNode c = reply.putObject("changes");
        changes.forEach(c::put);
        return reply;
    }

    /**
     * Dex's CA: from the local certificate directory (bootstrap node) or the cluster (other nodes).
     * Other control-plane nodes run while the bootstrap node deploys (one orchestration step):
     * unless dry, they wait a while for the CA to be published.
     */
    String dexCa(DeploymentConfig cfg, boolean dry) throws IOException, InterruptedException {
        Path local = cfg.certDir().resolve("ca.crt");
        if (Files.isReadable(local)) return Files.readString(local);
        java.time.Instant deadline = java.time.Instant.now().plus(dry ? Duration.ZERO : CA_WAIT);
        ConfigMap cm;
        while (true) {
            cm = kube(cfg).configMaps().inNamespace(ChartSecrets.CA_CONFIGMAP_NAMESPACE)
                    .withName(ChartSecrets.CA_CONFIGMAP).get();
            boolean published = cm != null && cm.getData() != null && cm.getData().containsKey("ca.crt");
            if (published || java.time.Instant.now().isAfter(deadline)) break;
            Thread.sleep(2000);
        }
        if (cm == null || cm.getData() == null || !cm.getData().containsKey("ca.crt")) {
            throw new NotFound("Dex's CA is neither in " + local + " nor in ConfigMap "
                    + ChartSecrets.CA_CONFIGMAP_NAMESPACE + "/" + ChartSecrets.CA_CONFIGMAP
                    + "; apply dexauth.deployed on the bootstrap node first");
        }
        return cm.getData().get("ca.crt");
    }

    static DexApi dex(DeploymentConfig cfg) {
        Path dir = cfg.certDir();
        return DexApi.connect(cfg.grpcAddress(), dir.resolve("ca.crt"),
                dir.resolve(DexCertificates.CLI_CLIENT + ".crt"), dir.resolve(DexCertificates.CLI_CLIENT + ".key"));
    }

    /**
     * A re-run's check, without a gRPC connection to Dex (or a wait for it): the user record and
     * Dex's password object (its kubernetes storage, one list call) exist, and no binding of an
     * earlier release is left. Anything else goes the full way, which repairs it.
     */
    private static boolean inPlace(KubernetesClient kube, DeploymentConfig cfg) {
        String email = cfg.superadminEmail();
        UserStore store = new UserStore(kube, cfg.namespace());
        if (store.get(email).isEmpty() || store.pending(email)) return false;
        if (kube.rbac().clusterRoleBindings().withName(RoleBindings.bindingName(CLUSTER_ADMIN, email)).get() != null) {
            return false;
        }
        try {
            return kube.genericKubernetesResources("dex.coreos.com/v1", "Password").inNamespace(cfg.namespace())
                    .list().getItems().stream()
                    .anyMatch(p -> email.equalsIgnoreCase(String.valueOf(p.getAdditionalProperties().get("email"))));
        } catch (io.fabric8.kubernetes.client.KubernetesClientException e) {
            return false; // no Dex storage yet
        }
    }

    /**
     * Creates the super-admin once, through the same user service as {@code authctl user add}
     * (Cluster Admin, must change its password), and keeps its role bindings. The one-time
     * password is returned in {@code initialPassword} only on creation, for the caller to show once.
     */
    private ObjectNode superadmin(JsonNode req, boolean dry) throws Exception {
        DeploymentConfig cfg = config(req);
        String email = cfg.superadminEmail();
        ObjectNode reply = Engine.JSON.createObjectNode();
        ObjectNode changes = reply.putObject("changes");
        KubernetesClient kube = kube(cfg);
        if (inPlace(kube, cfg)) {
            reply.put("email", cfg.superadminEmail());
            return reply;
        }
        try (DexApi dex = dex(cfg)) {
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
            if (presence == UserService.Presence.DEX_ONLY) {
                changes.put("user/" + email + "/metadata", "recorded as Cluster Admin, new one-time password (must change"
                        + " password): its earlier password was never shown");
            }
            boolean issued = false;
            if (!dry) {
                Optional<char[]> pw = users.ensureSuperAdmin(email, cfg.superadminUsername(), DEX_SETTLE);
                issued = pw.isPresent();
                pw.ifPresent(p -> {
                    reply.put("initialPassword", new String(p));
                    PasswordHasher.wipe(p);
                });
            }
            if (presence == UserService.Presence.RECORDED && (issued || new UserStore(kube, cfg.namespace()).pending(email))) {
                changes.put("user/" + email + "/password", "new one-time password (must change password): the earlier"
                        + " one was never shown (a run that did not finish) or is gone from Dex");
            }
            if (RoleBindings.unbindUser(kube, email, CLUSTER_ADMIN, dry)) {
                changes.put("clusterrolebinding/" + RoleBindings.bindingName(CLUSTER_ADMIN, email),
                        "replaced by the role binding of Cluster Admins");
            }
            // Bindings follow the stored assignments (roles.ensure keeps them so on every apply):
            // only a change made here can call for another reconcile.
            if (changes.size() > 0 && kube.namespaces().withName(cfg.namespace()).get() != null) {
                Holders.reconcile(kube, cfg.namespace(), dry).forEach(changes::put);
            }
            // Last: a failure before this leaves the record pending, and the next run issues a new password.
            if (issued) users.superAdminShown(email);
        }
        reply.put("email", email);
        return reply;
    }
}
