package dexauth.apiserver;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import dexauth.config.DeploymentConfig;
import dexauth.dex.DexApi;
import dexauth.pki.Pem;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Makes kube-apiserver trust Dex. From Kubernetes 1.30 on: a structured authentication
 * configuration file plus one {@code --authentication-config} flag; kube-apiserver re-reads
 * the file, so later issuer or CA changes rewrite only the file (no restart). Before 1.30:
 * the {@code --oidc-*} flags (the two are mutually exclusive).
 */
public final class ApiserverAuthentication {
    static final String VOLUME = "dexauth-authn";
    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory()
            .disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER)
            .enable(YAMLGenerator.Feature.LITERAL_BLOCK_STYLE));

    private ApiserverAuthentication() {}

    public static Map<String, String> configure(DeploymentConfig cfg, String caPem, boolean dryRun) throws IOException {
        Map<String, String> changes = new LinkedHashMap<>();
        Path configFile = cfg.authenticationConfig();
        Path dir = configFile.getParent();
        StaticPodManifest manifest = StaticPodManifest.read(cfg.apiserverManifest());
        boolean structured = cfg.structuredAuthentication();
        Path caFile = dir.resolve("dex-ca.crt");
        if (structured) {
            if (writeIfDifferent(configFile, structuredConfig(cfg, caPem), dryRun)) {
                changes.put(configFile.toString(), "written");
            }
            deleteIfPresent(caFile, changes, dryRun);
        } else {
            if (writeIfDifferent(caFile, caPem, dryRun)) changes.put(caFile.toString(), "written");
            deleteIfPresent(configFile, changes, dryRun);
        }
        List<String> flags = structured ? List.of("--authentication-config=" + configFile) : legacyFlags(cfg, caFile);
        boolean flagsChanged = manifest.setFlags(ApiserverAuthentication::isOurFlag, flags);
        boolean mountChanged = !manifest.hasHostPathMount(VOLUME, dir.toString())
                && manifest.hostPathMount(VOLUME, dir.toString(), true);
        if (flagsChanged || mountChanged) {
            changes.put(cfg.apiserverManifest().toString(), structured
                    ? "--authentication-config set (kube-apiserver restarts once)" : "--oidc-* flags set");
            if (!dryRun) manifest.writeIfChanged();
        }
        return changes;
    }

    /**
     * Refuses, before anything is written, an issuer that is this node's service-account issuer
     * (any --service-account-issuer value): kube-apiserver would refuse the configuration.
     */
    public static void refuseServiceAccountIssuer(DeploymentConfig cfg) throws IOException {
        String issuer = cfg.issuer().toString();
        for (String own : StaticPodManifest.read(cfg.apiserverManifest()).flagValues("--service-account-issuer")) {
            if (own.equals(issuer)) {
                throw DeploymentConfig.invalid(DeploymentConfig.ROOT + ":issuer", "'" + issuer + "' is this node's"
                        + " service-account issuer (--service-account-issuer in " + cfg.apiserverManifest()
                        + "); use Dex's public URL");
            }
        }
    }

    /**
     * This node's own kube-apiserver, from its manifest: https://<--advertise-address>:<--secure-port>
     * (an address its serving certificate names); null when the manifest has no advertise address.
     */
    public static String nodeUrl(DeploymentConfig cfg) throws IOException {
        StaticPodManifest manifest = StaticPodManifest.read(cfg.apiserverManifest());
        List<String> address = manifest.flagValues("--advertise-address");
        if (address.isEmpty()) return null;
        List<String> port = manifest.flagValues("--secure-port");
        String host = address.get(0).contains(":") ? "[" + address.get(0) + "]" : address.get(0);
        return "https://" + host + ":" + (port.isEmpty() ? "6443" : port.get(0));
    }

    /**
     * kube-apiserver no longer trusts Dex. Without {@code purge}, where its flag is
     * {@code --authentication-config}, the flag and its mount stay and the file is rewritten to
     * trust no issuer: kube-apiserver re-reads it, so a removal and a later redeployment never
     * restart it (a restart drops every watch in the cluster and delays the controllers). A purge,
     * or the --oidc-* flags (not re-read), remove the flags, the mount and the files: one restart.
     */
    public static Map<String, String> unconfigure(DeploymentConfig cfg, boolean purge, boolean dryRun)
            throws IOException {
        Map<String, String> changes = new LinkedHashMap<>();
        Path configFile = cfg.authenticationConfig();
        StaticPodManifest manifest = StaticPodManifest.read(cfg.apiserverManifest());
        Path caFile = configFile.getParent().resolve("dex-ca.crt");
        if (!purge && manifest.flagValues("--authentication-config").contains(configFile.toString())) {
            if (writeIfDifferent(configFile, TRUSTS_NO_ISSUER, dryRun)) {
                changes.put(configFile.toString(), "trusts no issuer (flag kept, no restart; a purge removes it)");
            }
            deleteIfPresent(caFile, changes, dryRun);
            return changes;
        }
        boolean changed = manifest.setFlags(ApiserverAuthentication::isOurFlag, List.of());
        changed |= manifest.hostPathMount(VOLUME, configFile.getParent().toString(), false);
        if (changed) {
            changes.put(cfg.apiserverManifest().toString(), "Dex authentication flags removed");
            if (!dryRun) manifest.writeIfChanged();
        }
        deleteIfPresent(configFile, changes, dryRun);
        deleteIfPresent(caFile, changes, dryRun);
        return changes;
    }

    /** An authentication configuration without authenticators (kube-apiserver accepts none). */
    public static final String TRUSTS_NO_ISSUER = "apiVersion: apiserver.config.k8s.io/v1\nkind: AuthenticationConfiguration\n"
            + "jwt: []\n";

    static boolean isOurFlag(String flag) {
        return flag.startsWith("--authentication-config") || flag.startsWith("--oidc-");
    }

    static final String USERNAME_EXPRESSION = "claims.federated_claims.connector_id == '" + DexApi.LOCAL_CONNECTOR
            + "' ? 'oidc:' + claims.email : 'oidc:' + claims.federated_claims.connector_id + ':' + claims.email";

    /** claims is a map of any: dyn() makes its groups a list CEL may map over (checked by kube-apiserver 1.36). */
    static final String GROUPS_EXPRESSION = "has(claims.groups) ? dyn(claims.groups).map(g, 'oidc:'"
            + " + claims.federated_claims.connector_id + ':' + g) : []";

    static String structuredConfig(DeploymentConfig cfg, String caPem) throws IOException {
        ObjectNode root = YAML.createObjectNode();
        root.put("apiVersion", "apiserver.config.k8s.io/v1");
        root.put("kind", "AuthenticationConfiguration");
        ObjectNode jwt = root.putArray("jwt").addObject();
        ObjectNode issuer = jwt.putObject("issuer");
        issuer.put("url", cfg.issuer().toString());
        // Discovery straight from Dex over its Service: no Ingress (nobody else) answers for it.
        if (cfg.discoveryUrl() != null) issuer.put("discoveryURL", cfg.discoveryUrl().toString());
        issuer.putArray("audiences").add(cfg.audienceClientId());
        issuer.put("certificateAuthority", caPem);
        ObjectNode claims = jwt.putObject("claimMappings");
        // Local users are oidc:<email>; users of an upstream IdP are oidc:<idp>:<email>, so an
        // IdP asserting a local user's email (say the super-admin's) never gets that user's rights.
        claims.putObject("username").put("expression", USERNAME_EXPRESSION);
        // Groups likewise are oidc:<idp>:<group>: a grant to a directory's "ops" never reaches an "ops"
        // group of another IdP (anyone can create one on a public GitLab).
        claims.putObject("groups").put("expression", GROUPS_EXPRESSION);
        ArrayNode rules = jwt.putArray("claimValidationRules");
        rules.addObject().put("expression", "has(claims.federated_claims)")
                .put("message", "the token names no connector: request the federated:id scope");
        rules.addObject().put("expression", "claims.email_verified == true").put("message", "the email is not verified");
        return YAML.writeValueAsString(root);
    }

    static List<String> legacyFlags(DeploymentConfig cfg, Path caFile) {
        List<String> flags = new ArrayList<>();
        flags.add("--oidc-issuer-url=" + cfg.issuer());
        flags.add("--oidc-client-id=" + cfg.audienceClientId());
        flags.add("--oidc-ca-file=" + caFile);
        flags.add("--oidc-username-claim=email");
        flags.add("--oidc-username-prefix=oidc:");
        flags.add("--oidc-groups-claim=groups");
        flags.add("--oidc-groups-prefix=oidc:");
        return flags;
    }

    private static boolean writeIfDifferent(Path file, String content, boolean dryRun) throws IOException {
        if (Files.exists(file) && Files.readString(file).equals(content)) return false;
        if (!dryRun) Pem.writePublic(file, content);
        return true;
    }

    private static void deleteIfPresent(Path file, Map<String, String> changes, boolean dryRun) throws IOException {
        if (Files.exists(file)) {
            changes.put(file.toString(), "deleted");
            if (!dryRun) Files.delete(file);
        }
    }
}
