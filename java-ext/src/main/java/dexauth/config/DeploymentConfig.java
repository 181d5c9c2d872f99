package dexauth.config;

import com.fasterxml.jackson.databind.JsonNode;
import dexauth.adminui.AdminUi;
import dexauth.adminui.AdminUis;
import dexauth.errors.Invalid;
import dexauth.idp.IdpCatalog;
import dexauth.idp.IdpSpec;

import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * The validated {@code dexauth} pillar: everything one deployment needs. Built once per
 * engine call; every problem is reported with the pillar key that holds it, before
 * anything is changed.
 */
public record DeploymentConfig(
        String clusterName, String namespace, URI issuer, String audienceClientId, String cliClientId,
        String kubectlClientId,
        Path certDir, List<String> ipSans, List<String> dnsSans, int validityDays, int renewBeforeDays,
        String image, String listenAddress, int httpsPort, int grpcPort, int telemetryPort, String grpcAddress,
        String serviceIp,
        String idTokenTtl, String refreshTokenIdle, String refreshTokenLifetime, boolean ingressEnabled, String ingressClass, String ingressPath, List<String> ingressHosts,
        Path chartDir, String release, String superadminEmail, String superadminUsername,
        int bcryptCost, String kubernetesVersion, Path kubeconfig, Path apiserverManifest, Path authenticationConfig,
        Map<String, IdpSpec> idps, String productName, String primaryColor, Account account,
        List<AdminUi> adminUis, boolean hostNetwork, String apiserverAddress, LoginGuard loginGuard,
        int dexReplicas) {

    /**
     * The login guard in front of Dex (pillar {@code dexauth:login_guard}); null when a partial
     * pillar leaves the section out. Durations in seconds.
     */
    public record LoginGuard(int maxFailures, long windowSeconds, long lockoutSeconds, int addressMaxFailures,
                             long addressWindowSeconds, int responseTimeMs, int dexPort) {}

    /**
     * The account service (pillar {@code dexauth:account}), deployed by the chart beside Dex; null
     * when a partial pillar leaves the section out. {@code publicUrl} is the console's URL without a
     * trailing '/': pillar {@code public_url}, or the issuer's scheme, host and port followed by
     * {@code path}. {@code dexGrpcAddress} is empty for the in-cluster Service of Dex.
     */
    public record Account(boolean enabled, int replicas, String path, URI publicUrl, String listenAddress,
                          int port, String dexGrpcAddress, int sessionIdleMinutes, int sessionAbsoluteMinutes,
                          String clientId, int passwordMinLength, List<String> trustedProxies) {
        /** Where Dex sends the browser back after a console login. */
        public String redirectUri() { return publicUrl + "/callback"; }
    }

    private static final Pattern DNS1123 = Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?");
    private static final Pattern EMAIL = Pattern.compile("[^@\\s]+@[^@\\s]+\\.[^@\\s]+");
    private static final Pattern DURATION = Pattern.compile("(\\d+(h|m|s))+");
    /** A colour the login pages and the console put into their stylesheet: only #rrggbb, never free text. */
    private static final Pattern COLOR = Pattern.compile("#[0-9a-fA-F]{6}");
    private static final Pattern HOST_PORT = Pattern.compile("[A-Za-z0-9.\\-]+:\\d{1,5}");

    public static final String ROOT = "dexauth";

    /**
     * The service-account issuers kubeadm and most distributions use: an issuer equal to the one
     * kube-apiserver signs service-account tokens with is refused by kube-apiserver (the node's own
     * flag is checked again before its configuration is written).
     */
    static final java.util.Set<String> SERVICE_ACCOUNT_ISSUERS = java.util.Set.of("https://kubernetes.default.svc",
            "https://kubernetes.default.svc.cluster.local", "https://kubernetes.default", "https://kubernetes");

    /** A pillar value that can never work as given: names the key, says how to fix it. */
    public static Invalid invalid(String key, String problem) {
        return new Invalid(key, "pillar key " + key + ": " + problem);
    }

    /** Reads and validates the {@code dexauth} pillar dict. */
    public static DeploymentConfig fromPillar(JsonNode pillar) {
        return read(pillar, false);
    }

    /**
     * Reads and validates the keys present in a part of the {@code dexauth} pillar (Salt's states
     * pass each operation only the keys it needs); the settings of absent keys are null, 0 or
     * empty. An operation reading a setting it was not given is a bug of its state.
     */
    public static DeploymentConfig fromPartialPillar(JsonNode pillar) {
        return read(pillar, true);
    }

    private static DeploymentConfig read(JsonNode pillar, boolean partial) {
        if (pillar == null || !pillar.isObject()) {
            throw invalid(ROOT, "missing; define it in pillar (see pillar/pillar.example)");
        }
        Reader r = new Reader(pillar, partial);
        String cluster = r.name("cluster_name");
        String ns = r.name("namespace");
        URI issuer = r.httpsUrl("issuer");
        if (issuer != null && SERVICE_ACCOUNT_ISSUERS.contains(issuer.toString().toLowerCase(java.util.Locale.ROOT))) {
            throw invalid(ROOT + ":issuer", "'" + issuer + "' is kube-apiserver's own service-account issuer"
                    + " (--service-account-issuer); use Dex's public URL, e.g. https://login.example.com/oidc");
        }
        String certBase = r.path("certificates:base_dir");
        int https = r.port("dex:ports:https");
        int grpc = r.port("dex:ports:grpc");
        int telemetry = r.port("dex:ports:telemetry");
        String version = r.text("kubernetes:version");
        if (version != null && !version.matches("v?1\\.\\d+(\\.\\d+)?")) {
            throw invalid(ROOT + ":kubernetes:version", "'" + version + "' is not a Kubernetes version like 1.36.3");
        }
        int cost = r.intIn("password:bcrypt_cost", 10, 16);
        String ttl = r.duration("dex:id_token_ttl");
        String refreshIdle = r.duration("dex:refresh_token_idle");
        String refreshLifetime = r.duration("dex:refresh_token_lifetime");
        String email = r.text("superadmin:email");
        if (email != null && !EMAIL.matcher(email).matches()) {
            throw invalid(ROOT + ":superadmin:email", "'" + email + "' is not an email address");
        }
        if (dexauth.users.ProbeAccount.is(email)) {
            throw invalid(ROOT + ":superadmin:email", "'" + email + "' is reserved for the kube-apiserver health check");
        }
        String ingressPath = r.text("ingress:path");
        if (ingressPath != null && !ingressPath.startsWith("/")) throw invalid(ROOT + ":ingress:path", "must start with '/'");
        int validity = r.intIn("certificates:validity_days", 1, 3650);
        int renewBefore = r.intIn("certificates:renew_before_days", 0, 365);
        if (r.has("certificates:validity_days") && renewBefore >= validity) {
            throw invalid(ROOT + ":certificates:renew_before_days", renewBefore
                    + " must be less than certificates:validity_days (" + validity
                    + "), or every apply re-issues the certificates");
        }
        deniedNamespaces(pillar);
        Account account = partial && !r.has("account") ? null : account(r, issuer);
        URI adminOrigin = account != null && account.publicUrl() != null ? origin(account.publicUrl())
                : issuer == null ? null : origin(issuer);
        List<AdminUi> adminUis = AdminUis.fromPillar(pillar.get("admin_uis"), adminOrigin,
                account == null ? List.of() : account.trustedProxies(),
                java.util.Arrays.asList(ingressPath, account == null ? null : account.path()));
        DeploymentConfig cfg = new DeploymentConfig(cluster, ns, issuer, r.text("clients:audience_id"), r.text("clients:cli_id"),
                r.text("clients:kubectl_id"),
                certBase == null || cluster == null ? null : certDir(Path.of(certBase), cluster), r.ips("certificates:ip_sans"),
                r.dnsNames("certificates:dns_sans"), validity, renewBefore,
                Optional.ofNullable(r.optionalText("dex:image")).orElseGet(Versions::dexImage),
                r.text("dex:listen_address"), https, grpc, telemetry, r.text("dex:grpc_address"), serviceIp(r),
                ttl, refreshIdle, refreshLifetime,
                r.bool("ingress:enabled"), r.text("ingress:class"), ingressPath, r.dnsNames("ingress:hosts"),
                pathOf(r.path("chart:dir")), r.name("chart:release"), email, r.text("superadmin:username"),
                cost, version == null ? null : version.replaceFirst("^v", ""),
                pathOf(r.path("kubernetes:kubeconfig")), pathOf(r.path("kubernetes:apiserver_manifest")),
                pathOf(r.path("kubernetes:authentication_config")), idps(pillar.get("idps")),
                productName(r), color(r, "branding:primary_color"),
                account, adminUis, r.has("dex:host_network") && r.bool("dex:host_network"), apiserverAddress(r),
                partial && !r.has("login_guard") ? null : loginGuard(r, https, grpc, telemetry),
                r.intIn("dex:replicas", 1, 20));
        if (!cfg.idps().isEmpty() && version != null && !cfg.structuredAuthentication()) {
            throw invalid(ROOT + ":idps", "upstream IdPs need Kubernetes 1.30 or later: only its structured"
                    + " authentication keeps their users (oidc:<idp>:<email>) apart from local users (oidc:<email>)");
        }
        return cfg;
    }

    /**
     * Pillar {@code dexauth:dex:service_ip}: the cluster IP Dex's Service is given, so kube-apiserver
     * (host network) reaches Dex over it (kube-proxy makes cluster IPs reachable from the node) and
     * Dex's certificate names it. Empty: no fixed IP, and kube-apiserver fetches discovery from the issuer.
     */
    private static String serviceIp(Reader r) {
        if (!r.has("dex:service_ip")) return null;
        String ip = r.node("dex:service_ip").asText("").trim();
        if (ip.isEmpty()) return null;
        if (!dexauth.pki.CertificateSpec.isIpLiteral(ip)) {
            throw invalid(ROOT + ":dex:service_ip", "'" + ip + "' is not an IP address; give a free address of the"
                    + " cluster's service range (e.g. 10.96.0.56), or \"\" for none");
        }
        return ip;
    }

    /**
     * Where kube-apiserver fetches Dex's discovery document: over Dex's Service (pillar
     * dex:service_ip), never through an Ingress; null without a service IP.
     */
    public URI discoveryUrl() {
        if (serviceIp == null) return null;
        String host = serviceIp.contains(":") ? "[" + serviceIp + "]" : serviceIp;
        return URI.create("https://" + host + ":" + httpsPort + issuer.getRawPath() + "/.well-known/openid-configuration");
    }

    private static LoginGuard loginGuard(Reader r, int https, int grpc, int telemetry) {
        int dexPort = r.port("login_guard:dex_port");
        if (r.has("login_guard:dex_port") && (dexPort == https || dexPort == grpc || dexPort == telemetry)) {
            throw invalid(ROOT + ":login_guard:dex_port", dexPort + " is already one of dex:ports (the guard serves"
                    + " dex:ports:https; Dex's own listener needs a port of its own)");
        }
        return new LoginGuard(r.intIn("login_guard:max_failures", 1, 1000), r.seconds("login_guard:window"),
                r.seconds("login_guard:lockout"), r.intIn("login_guard:address_max_failures", 1, 1_000_000),
                r.seconds("login_guard:address_window"), r.intIn("login_guard:response_time_ms", 0, 10_000), dexPort);
    }

    private static Account account(Reader r, URI issuer) {
        String path = r.text("account:path");
        if (path != null && (!path.startsWith("/") || path.length() > 1 && path.endsWith("/") || path.equals("/"))) {
            throw invalid(ROOT + ":account:path", "'" + path + "' must start with '/', not end with '/' and not be '/' alone");
        }
        URI publicUrl = r.optionalText("account:public_url") == null ? null : r.httpsUrl("account:public_url");
        if (publicUrl == null && issuer != null && path != null) {
            publicUrl = URI.create(issuer.getScheme() + "://" + issuer.getRawAuthority() + path);
        }
        int idle = r.intIn("account:session_idle_minutes", 1, 1440);
        int absolute = r.intIn("account:session_absolute_minutes", 1, 10080);
        if (r.has("account:session_absolute_minutes") && r.has("account:session_idle_minutes") && absolute < idle) {
            throw invalid(ROOT + ":account:session_absolute_minutes", absolute
                    + " must not be less than account:session_idle_minutes (" + idle + ")");
        }
        String grpc = r.optionalText("account:dex_grpc_address");
        if (grpc != null && !grpc.matches("(\\[[0-9a-fA-F:.]+\\]|[A-Za-z0-9.-]+):\\d{1,5}")) {
            throw invalid(ROOT + ":account:dex_grpc_address", "'" + grpc + "' is not host:port");
        }
        return new Account(r.bool("account:enabled"), r.intIn("account:replicas", 0, 20), path, publicUrl,
                r.text("account:listen_address"), r.port("account:port"), grpc == null ? "" : grpc, idle, absolute,
                r.text("clients:console_id"), r.intIn("password:min_length", 8, 128), r.ips("account:trusted_proxies"));
    }

    /**
     * Pillar {@code dexauth:roles:denied_namespaces}: namespaces that never become solution namespaces
     * even when labelled (besides kube-*, default and the authentication namespace, always refused),
     * each a namespace name or a prefix ending in {@code *} (e.g. {@code metalk8s-*}).
     */
    public static List<String> deniedNamespaces(JsonNode pillar) {
        String key = "roles:denied_namespaces";
        List<String> out = new Reader(pillar, true).list(key);
        for (int i = 0; i < out.size(); i++) {
            String name = out.get(i).endsWith("*") ? out.get(i).substring(0, out.get(i).length() - 1) : out.get(i);
            boolean prefix = out.get(i).endsWith("*");
            if (name.isEmpty() || name.length() > 63
                    || !DNS1123.matcher(prefix ? name.replaceAll("-+$", "") : name).matches()) {
                throw invalid(ROOT + ":" + key + "[" + i + "]", "'" + out.get(i)
                        + "' is not a namespace name (lowercase letters, digits and '-') or a prefix like team-*");
            }
        }
        return out;
    }

    /** The scheme, host and port of a URL: the admin host's origin. */
    public static URI origin(URI url) {
        return URI.create(url.getScheme() + "://" + url.getRawAuthority());
    }

    /** host:port where Dex's pods reach kube-apiserver instead of the in-cluster Service (optional). */
    private static String apiserverAddress(Reader r) {
        String v = r.optionalText("dex:apiserver_address");
        if (v != null && !HOST_PORT.matcher(v).matches()) {
            throw invalid(ROOT + ":dex:apiserver_address", "'" + v + "' is not host:port, e.g. 127.0.0.1:6443");
        }
        return v;
    }

    private static Path pathOf(String path) { return path == null ? null : Path.of(path); }

    /** The product name of the login pages' header and title: one line of text. */
    private static String productName(Reader r) {
        String v = r.text("branding:product_name");
        if (v != null && (v.length() > 60 || v.chars().anyMatch(Character::isISOControl))) {
            throw invalid(ROOT + ":branding:product_name", "must be one line of at most 60 characters");
        }
        return v;
    }

    private static String color(Reader r, String key) {
        if (r.skipped(key)) return null;
        String v = r.optionalText(key);
        if (v == null) {
            throw invalid(ROOT + ":" + key, "is required: a colour like '#1f5fae', in quotes (in YAML an unquoted # starts a comment)");
        }
        if (!COLOR.matcher(v).matches()) {
            throw invalid(ROOT + ":" + key, "'" + v + "' is not a colour like #1f5fae (# and six hex digits)");
        }
        return v.toLowerCase(java.util.Locale.ROOT);
    }

    /** The IdPs of pillar {@code dexauth:idps}; a wrong one names its pillar key like every other. */
    private static Map<String, IdpSpec> idps(JsonNode pillar) {
        try {
            return IdpCatalog.fromPillar(pillar);
        } catch (Invalid e) {
            throw invalid(e.field(), e.getMessage());
        }
    }

    /** The one rule for where a cluster's certificates live: {@code <certificates:base_dir>/certs-<cluster_name>}. */
    public static Path certDir(Path baseDir, String clusterName) {
        return baseDir.resolve("certs-" + clusterName);
    }

    /** The chart deploys the account service (pillar dexauth:account:enabled, when given). */
    public boolean accountEnabled() { return account != null && account.enabled(); }

    /** Kubernetes minor version, e.g. 36 for 1.36.3. */
    public int kubernetesMinor() {
        return Integer.parseInt(kubernetesVersion.split("\\.")[1]);
    }

    /** kube-apiserver takes a structured authentication configuration (1.30 on), not only --oidc-* flags. */
    public boolean structuredAuthentication() { return kubernetesMinor() >= 30; }

    /**
     * The hosts Dex's Ingress answers for: pillar ingress:hosts, else the issuer's host, so no other
     * Ingress of the class can take the issuer's paths on another host. An issuer on an IP address
     * leaves the rule host-less (an Ingress host cannot be an IP address).
     */
    public List<String> dexIngressHosts() {
        if (!ingressHosts.isEmpty() || issuer == null || dexauth.pki.CertificateSpec.isIpLiteral(issuer.getHost())) {
            return ingressHosts;
        }
        return List.of(issuer.getHost());
    }

    /** The issuer's host is an IP SAN or DNS SAN of Dex's certificate, so TLS verification works. */
    public String issuerHost() { return issuer.getHost(); }

    /** Typed access to pillar keys; every failure names the full key. */
    private static final class Reader {
        private final JsonNode root;

        private final boolean partial;

        Reader(JsonNode root, boolean partial) {
            this.root = root;
            this.partial = partial;
        }

        boolean has(String key) { return node(key) != null; }

        /** In a partial pillar, a key that is not there is not read (its setting stays unset). */
        private boolean skipped(String key) { return partial && node(key) == null; }

        JsonNode node(String key) {
            JsonNode n = root;
            for (String part : key.split(":")) n = n == null ? null : n.get(part);
            return n;
        }

        String text(String key) {
            if (skipped(key)) return null;
            JsonNode n = node(key);
            if (n == null || n.isNull() || n.asText().isBlank()) throw invalid(ROOT + ":" + key, "is required");
            if (!n.isValueNode()) throw invalid(ROOT + ":" + key, "must be a single value, not a list or dict");
            return n.asText().trim();
        }

        String optionalText(String key) {
            JsonNode n = node(key);
            return n == null || n.isNull() || n.asText().isBlank() ? null : n.asText().trim();
        }

        /** A Go duration Dex understands, e.g. 10m, 168h, 1h30m. */
        String duration(String key) {
            String v = text(key);
            if (v == null) return null;
            if (!DURATION.matcher(v).matches()) {
                throw invalid(ROOT + ":" + key, "'" + v + "' is not a duration like 10m, 1h or 168h");
            }
            return v;
        }

        /** A duration like 15m or 1h30m, in seconds (at least one). */
        long seconds(String key) {
            String v = duration(key);
            if (v == null) return 0;
            long total = 0;
            java.util.regex.Matcher m = Pattern.compile("(\\d+)([hms])").matcher(v);
            while (m.find()) {
                total += Long.parseLong(m.group(1)) * switch (m.group(2)) {
                    case "h" -> 3600;
                    case "m" -> 60;
                    default -> 1;
                };
            }
            if (total < 1) throw invalid(ROOT + ":" + key, "'" + v + "' must be at least 1s");
            return total;
        }

        String name(String key) {
            String v = text(key);
            if (v == null) return null;
            if (v.length() > 63 || !DNS1123.matcher(v).matches()) {
                throw invalid(ROOT + ":" + key, "'" + v
                        + "' must be a DNS-1123 label (lowercase letters, digits and '-', at most 63 characters)");
            }
            return v;
        }

        String path(String key) {
            String v = text(key);
            if (v == null) return null;
            if (!v.startsWith("/")) throw invalid(ROOT + ":" + key, "'" + v + "' must be an absolute path");
            return v;
        }

        boolean bool(String key) {
            if (skipped(key)) return false;
            JsonNode n = node(key);
            if (n == null || !n.isBoolean()) throw invalid(ROOT + ":" + key, "must be true or false");
            return n.asBoolean();
        }

        int intIn(String key, int min, int max) {
            if (skipped(key)) return 0;
            JsonNode n = node(key);
            if (n == null || !n.canConvertToInt() || !n.isIntegralNumber()) {
                throw invalid(ROOT + ":" + key, "must be a whole number between " + min + " and " + max);
            }
            int v = n.asInt();
            if (v < min || v > max) throw invalid(ROOT + ":" + key, v + " is outside " + min + ".." + max);
            return v;
        }

        int port(String key) { return intIn(key, 1, 65535); }

        URI httpsUrl(String key) {
            String v = text(key);
            if (v == null) return null;
            try {
                URI u = new URI(v);
                if (!"https".equals(u.getScheme()) || u.getHost() == null) {
                    throw invalid(ROOT + ":" + key, "'" + v + "' must be an https:// URL with a host");
                }
                if (u.getQuery() != null || u.getFragment() != null || v.endsWith("/")) {
                    throw invalid(ROOT + ":" + key, "'" + v
                            + "' must have no query, fragment or trailing '/' (it must equal the token's iss exactly)");
                }
                return u;
            } catch (URISyntaxException e) {
                throw invalid(ROOT + ":" + key, "'" + v + "' is not a URL");
            }
        }

        List<String> list(String key) {
            JsonNode n = node(key);
            List<String> out = new ArrayList<>();
            if (n == null || n.isNull()) return out;
            if (!n.isArray()) throw invalid(ROOT + ":" + key, "must be a list");
            n.forEach(e -> out.add(e.asText().trim()));
            return out;
        }

        List<String> ips(String key) {
            List<String> out = list(key);
            for (int i = 0; i < out.size(); i++) {
                if (!dexauth.pki.CertificateSpec.isIpLiteral(out.get(i))) {
                    throw invalid(ROOT + ":" + key + "[" + i + "]", "'" + out.get(i)
                            + "' is not an IPv4 or IPv6 address");
                }
            }
            return out;
        }

        List<String> dnsNames(String key) {
            List<String> out = list(key);
            for (int i = 0; i < out.size(); i++) {
                if (!dexauth.pki.CertificateSpec.isDnsName(out.get(i))) {
                    throw invalid(ROOT + ":" + key + "[" + i + "]", "'" + out.get(i) + "' is not a DNS name");
                }
            }
            return out;
        }
    }
}
