package dexauth.chart;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dexauth.config.DeploymentConfig;
import dexauth.config.Versions;
import dexauth.idp.IdpSpec;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The chart values for one deployment, flattened into Helm {@code --set} keys
 * (helm-java passes values one scalar at a time; lists use indexed keys).
 * Only names of Secrets go in: never a secret itself.
 */
public final class ChartValues {
    /** The chart's name (charts/dex/Chart.yaml). */
    public static final String CHART_NAME = "dex";

    private ChartValues() {}

    /**
     * The one naming rule of the chart's objects (Deployment, Service, ServiceAccount; the config
     * Secret adds "-config"): the release name, suffixed with the chart's name unless it contains
     * it, e.g. {@code dex} and {@code my-dex} stay, {@code auth} gives {@code auth-dex}. The chart
     * takes the result as value {@code fullname}; nothing else computes it.
     */
    public static String fullname(String release) {
        String name = release.contains(CHART_NAME) ? release : release + "-" + CHART_NAME;
        name = name.length() > 63 ? name.substring(0, 63) : name;
        return name.replaceAll("-+$", "");
    }

    /** The account service's objects (Deployment, Service, ConfigMap...): the fullname plus "-account". */
    public static String accountName(String release) {
        return fullname(release) + "-account";
    }

    public static Map<String, String> of(DeploymentConfig cfg) {
        Map<String, String> v = new LinkedHashMap<>();
        v.put("fullname", fullname(cfg.release()));
        String image = cfg.image();
        int colon = image.lastIndexOf(':');
        boolean hasTag = colon > image.lastIndexOf('/');
        v.put("image.repository", hasTag ? image.substring(0, colon) : image);
        v.put("image.tag", hasTag ? image.substring(colon + 1) : Versions.dex());
        v.put("issuer", cfg.issuer().toString());
        v.put("replicaCount", Integer.toString(cfg.dexReplicas()));
        v.put("listenAddress", cfg.listenAddress());
        v.put("hostNetwork", Boolean.toString(cfg.hostNetwork()));
        if (cfg.apiserverAddress() != null) {
            int sep = cfg.apiserverAddress().lastIndexOf(':');
            v.put("apiServer.host", cfg.apiserverAddress().substring(0, sep));
            v.put("apiServer.port", cfg.apiserverAddress().substring(sep + 1));
        }
        v.put("ports.https", Integer.toString(cfg.httpsPort()));
        v.put("ports.grpc", Integer.toString(cfg.grpcPort()));
        v.put("ports.telemetry", Integer.toString(cfg.telemetryPort()));
        v.put("tls.httpsSecret", ChartSecrets.HTTPS_SECRET);
        v.put("tls.grpcSecret", ChartSecrets.GRPC_SECRET);
        v.put("clientSecrets.secretName", ChartSecrets.CLIENT_SECRETS);
        v.put("clients.apiserver.id", cfg.audienceClientId());
        v.put("clients.apiserver.secretKey", cfg.audienceClientId());
        v.put("clients.cli.id", cfg.cliClientId());
        v.put("clients.kubectl.id", cfg.kubectlClientId());
        v.put("expiry.idTokens", cfg.idTokenTtl());
        v.put("expiry.refreshTokens.validIfNotUsedFor", cfg.refreshTokenIdle());
        v.put("expiry.refreshTokens.absoluteLifetime", cfg.refreshTokenLifetime());
        if (cfg.serviceIp() != null) v.put("serviceIP", cfg.serviceIp());
        v.put("ingress.enabled", Boolean.toString(cfg.ingressEnabled()));
        v.put("ingress.className", cfg.ingressClass());
        v.put("ingress.path", cfg.ingressPath());
        List<String> hosts = cfg.dexIngressHosts();
        for (int i = 0; i < hosts.size(); i++) v.put("ingress.hosts[" + i + "]", hosts.get(i));
        if (cfg.productName() != null) v.put("frontend.issuerName", cfg.productName());
        if (cfg.primaryColor() != null) v.put("frontend.primaryColor", cfg.primaryColor());
        if (cfg.account() != null) account(cfg, cfg.account(), v);
        if (cfg.loginGuard() != null) loginGuard(cfg.loginGuard(), v);
        adminUiClients(cfg, v);
        return v;
    }

    /** Each admin UI in OIDC mode is a confidential Dex client; its secret is its key in the client-secrets Secret. */
    private static void adminUiClients(DeploymentConfig cfg, Map<String, String> v) {
        int i = 0;
        for (dexauth.adminui.AdminUi ui : cfg.adminUis()) {
            if (ui.mode() != dexauth.adminui.AdminUi.Mode.OIDC) continue;
            String key = "clients.extra[" + i++ + "].";
            v.put(key + "id", ui.clientId());
            v.put(key + "name", ui.name());
            v.put(key + "secretKey", ui.clientId());
            for (int j = 0; j < ui.redirectUris().size(); j++) v.put(key + "redirectURIs[" + j + "]", ui.redirectUris().get(j));
        }
    }

    /** The login guard beside Dex (the account service's image: the same jar). */
    private static void loginGuard(DeploymentConfig.LoginGuard g, Map<String, String> v) {
        v.put("account.image.tag", Versions.authctl());
        v.put("loginGuard.dexPort", Integer.toString(g.dexPort()));
        v.put("loginGuard.maxFailures", Integer.toString(g.maxFailures()));
        v.put("loginGuard.windowSeconds", Long.toString(g.windowSeconds()));
        v.put("loginGuard.lockoutSeconds", Long.toString(g.lockoutSeconds()));
        v.put("loginGuard.addressMaxFailures", Integer.toString(g.addressMaxFailures()));
        v.put("loginGuard.addressWindowSeconds", Long.toString(g.addressWindowSeconds()));
        v.put("loginGuard.responseMillis", Integer.toString(g.responseTimeMs()));
    }

    /** The account service's values: its Deployment, its console client in Dex, its service.yaml. */
    private static void account(DeploymentConfig cfg, DeploymentConfig.Account a, Map<String, String> v) {
        v.put("account.enabled", Boolean.toString(a.enabled()));
        if (!a.enabled()) return;
        v.put("account.image.tag", Versions.authctl());
        v.put("account.replicas", Integer.toString(a.replicas()));
        v.put("account.path", a.path());
        v.put("account.publicUrl", a.publicUrl().toString());
        v.put("account.listenAddress", a.listenAddress());
        v.put("account.port", Integer.toString(a.port()));
        v.put("account.dexGrpcAddress", a.dexGrpcAddress());
        v.put("account.tlsSecret", ChartSecrets.ACCOUNT_TLS_SECRET);
        v.put("account.grpcClientSecret", ChartSecrets.GRPC_CLIENT_SECRET);
        v.put("account.session.idleMinutes", Integer.toString(a.sessionIdleMinutes()));
        v.put("account.session.absoluteMinutes", Integer.toString(a.sessionAbsoluteMinutes()));
        v.put("account.users.bcryptCost", Integer.toString(cfg.bcryptCost()));
        v.put("account.users.passwordMinLength", Integer.toString(a.passwordMinLength()));
        List<String> proxies = a.trustedProxies();
        for (int i = 0; i < proxies.size(); i++) v.put("account.trustedProxies[" + i + "]", proxies.get(i));
        List<String> roles = new java.util.ArrayList<>();
        for (dexauth.rbac.Role r : dexauth.rbac.Role.values()) roles.add(r.clusterRole());
        roles.add(dexauth.rbac.RoleDefinitions.SOLUTION_ADMIN_CLUSTER);
        for (int i = 0; i < roles.size(); i++) v.put("account.bindableClusterRoles[" + i + "]", roles.get(i));
        v.put("clients.console.id", a.clientId());
        v.put("clients.console.secretKey", a.clientId());
        v.put("clients.console.redirectURIs[0]", a.redirectUri());
    }

    /**
     * The upstream IdPs as chart values (a values file: connector configs are nested and DNs hold
     * commas, which {@code --set} would split): Dex connectors with $VARIABLE secret references, the
     * Secrets Dex gets them from, and their digest so a changed secret restarts Dex.
     */
    public static ObjectNode idps(DeploymentConfig cfg, String secretsChecksum) {
        ObjectNode v = new ObjectMapper().createObjectNode();
        ArrayNode connectors = v.putArray("connectors");
        ObjectNode secrets = v.putObject("connectorSecrets");
        ArrayNode names = secrets.putArray("secretNames");
        for (IdpSpec spec : cfg.idps().values()) {
            connectors.add(spec.connector(cfg.issuer()));
            if (spec.hasSecret()) names.add(spec.secretName());
        }
        secrets.put("checksum", secretsChecksum);
        return v;
    }
}
