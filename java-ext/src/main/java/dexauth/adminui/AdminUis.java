package dexauth.adminui;

import com.fasterxml.jackson.databind.JsonNode;
import dexauth.errors.Invalid;
import dexauth.pki.CertificateSpec;

import java.net.URI;
import java.net.URISyntaxException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;

/** Reads pillar {@code dexauth:admin_uis}; every problem names its key, e.g. {@code dexauth:admin_uis[1]:mode}. */
public final class AdminUis {
    public static final String PILLAR_KEY = "dexauth:admin_uis";
    private static final Pattern DNS1123 = Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?");
    private static final Pattern PATH = Pattern.compile("(/[A-Za-z0-9._~-]+)+");
    /** Where Grafana's generic OAuth receives the code, under its root URL. */
    public static final String GRAFANA_CALLBACK = "/login/generic_oauth";

    private AdminUis() {}

    /**
     * The admin UIs of the pillar list (absent or null: none). {@code adminOrigin} is the admin
     * host's scheme, host and port (the console's), for Grafana's default redirect URI;
     * {@code defaultProxies} the whitelist of Grafana's auth proxy when a UI names none;
     * {@code reservedPaths} (Dex's, the console's) no UI may take.
     */
    public static List<AdminUi> fromPillar(JsonNode list, URI adminOrigin, List<String> defaultProxies,
                                           List<String> reservedPaths) {
        List<AdminUi> out = new ArrayList<>();
        if (list == null || list.isNull() || list.isMissingNode()) return out;
        if (!list.isArray()) throw new Invalid(PILLAR_KEY, "pillar key " + PILLAR_KEY + ": must be a list of admin UIs");
        Map<String, String> names = new HashMap<>();
        Map<String, String> paths = new HashMap<>();
        for (int i = 0; i < list.size(); i++) {
            String key = PILLAR_KEY + "[" + i + "]";
            AdminUi ui = one(key, list.get(i), adminOrigin, defaultProxies);
            String other = names.put(ui.name(), key);
            if (other != null) throw invalid(key + ":name", "'" + ui.name() + "' is also the name of " + other);
            other = paths.put(ui.path(), key);
            if (other != null) throw invalid(key + ":path", "'" + ui.path() + "' is also the path of " + other);
            for (String reserved : reservedPaths) {
                if (reserved != null && (ui.path().equals(reserved) || ui.path().startsWith(reserved + "/")
                        || reserved.startsWith(ui.path() + "/"))) {
                    throw invalid(key + ":path", "'" + ui.path() + "' overlaps " + reserved
                            + " (Dex or the account console)");
                }
            }
            out.add(ui);
        }
        return out;
    }

    private static AdminUi one(String key, JsonNode n, URI adminOrigin, List<String> defaultProxies) {
        if (n == null || !n.isObject()) throw invalid(key, "must be a dict (name, path, namespace, service, mode)");
        String name = text(n, key, "name");
        if (name.length() > 40 || !DNS1123.matcher(name).matches()) {
            throw invalid(key + ":name", "'" + name + "' must be lowercase letters, digits and '-' (at most 40)");
        }
        String path = text(n, key, "path");
        if (!PATH.matcher(path).matches()) {
            throw invalid(key + ":path", "'" + path + "' must be a path like /grafana (no trailing '/', no query)");
        }
        String ns = text(n, key, "namespace");
        if (ns.length() > 63 || !DNS1123.matcher(ns).matches()) {
            throw invalid(key + ":namespace", "'" + ns + "' is not a namespace name");
        }
        JsonNode svc = n.get("service");
        if (svc == null || !svc.isObject()) throw invalid(key + ":service", "is required: {name, port}");
        String svcName = text(svc, key + ":service", "name");
        if (svcName.length() > 63 || !DNS1123.matcher(svcName).matches()) {
            throw invalid(key + ":service:name", "'" + svcName + "' is not a Service name");
        }
        JsonNode port = svc.get("port");
        if (port == null || !port.isIntegralNumber() || port.asInt() < 1 || port.asInt() > 65535) {
            throw invalid(key + ":service:port", "must be a port number (1-65535)");
        }
        AdminUi.Mode mode = choice(AdminUi.Mode.values(), AdminUi.Mode::id, text(n, key, "mode"), key + ":mode");
        AdminUi.App app = n.hasNonNull("app")
                ? choice(AdminUi.App.values(), AdminUi.App::id, text(n, key, "app"), key + ":app") : AdminUi.App.GENERIC;
        List<String> redirects = list(n, key, "redirect_uris");
        for (int j = 0; j < redirects.size(); j++) httpsUrl(redirects.get(j), key + ":redirect_uris[" + j + "]");
        if (mode == AdminUi.Mode.OIDC && redirects.isEmpty()) {
            if (app != AdminUi.App.GRAFANA) {
                throw invalid(key + ":redirect_uris", "is required in mode oidc: the UI's OAuth callback URL(s)");
            }
            redirects = List.of(adminOrigin + path + GRAFANA_CALLBACK);
        }
        if (mode != AdminUi.Mode.OIDC && !redirects.isEmpty()) {
            throw invalid(key + ":redirect_uris", "only applies in mode oidc");
        }
        List<String> proxies = list(n, key, "proxy_addresses");
        for (int j = 0; j < proxies.size(); j++) {
            String p = proxies.get(j);
            String ip = p.contains("/") ? p.substring(0, p.indexOf('/')) : p;
            if (!CertificateSpec.isIpLiteral(ip) || p.contains("/") && !p.substring(p.indexOf('/') + 1).matches("\\d{1,3}")) {
                throw invalid(key + ":proxy_addresses[" + j + "]", "'" + p + "' is not an IP address or CIDR");
            }
        }
        if (app == AdminUi.App.GRAFANA && mode == AdminUi.Mode.FORWARD_AUTH) {
            if (proxies.isEmpty()) proxies = List.copyOf(defaultProxies);
            if (proxies.isEmpty()) {
                throw invalid(key + ":proxy_addresses", "is required for Grafana behind forward authentication"
                        + " (the ingress controller's addresses: Grafana's auth proxy believes only them), or set"
                        + " dexauth:account:trusted_proxies");
            }
        } else if (!proxies.isEmpty()) {
            throw invalid(key + ":proxy_addresses", "only applies to app grafana in mode forward-auth");
        }
        return new AdminUi(name, path, ns, svcName, port.asInt(), mode, app, List.copyOf(redirects),
                List.copyOf(proxies));
    }

    private static <E> E choice(E[] values, java.util.function.Function<E, String> id, String given, String key) {
        String norm = given.toLowerCase(Locale.ROOT);
        List<String> ids = new ArrayList<>();
        for (E e : values) {
            if (id.apply(e).equals(norm)) return e;
            ids.add(id.apply(e));
        }
        throw invalid(key, "'" + given + "' is not one of " + String.join(", ", ids));
    }

    private static String text(JsonNode n, String key, String field) {
        JsonNode v = n.get(field);
        if (v == null || v.isNull() || !v.isValueNode() || v.asText().isBlank()) {
            throw invalid(key + ":" + field, "is required");
        }
        return v.asText().trim();
    }

    private static List<String> list(JsonNode n, String key, String field) {
        JsonNode v = n.get(field);
        List<String> out = new ArrayList<>();
        if (v == null || v.isNull()) return out;
        if (!v.isArray()) throw invalid(key + ":" + field, "must be a list");
        v.forEach(e -> out.add(e.asText().trim()));
        return out;
    }

    private static void httpsUrl(String v, String key) {
        try {
            URI u = new URI(v);
            if (!"https".equals(u.getScheme()) || u.getHost() == null || u.getFragment() != null) {
                throw invalid(key, "'" + v + "' must be an https:// URL with a host and no fragment");
            }
        } catch (URISyntaxException e) {
            throw invalid(key, "'" + v + "' is not a URL");
        }
    }

    private static Invalid invalid(String key, String problem) {
        return new Invalid(key, "pillar key " + key + ": " + problem);
    }
}
