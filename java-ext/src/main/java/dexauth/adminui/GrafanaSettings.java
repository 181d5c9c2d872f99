package dexauth.adminui;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import com.fasterxml.jackson.databind.ObjectMapper;
import dexauth.account.ForwardAuth;

import java.net.URI;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Grafana's settings for one admin UI, both ways, as {@code grafana.ini} sections and as values of
 * the usual Grafana Helm chart ({@code grafana.ini} and {@code extraSecretMounts}):
 * <ul>
 *   <li>forward-auth: {@code [auth.proxy]} trusting our identity headers from the whitelisted
 *       proxies only, the role from {@code X-Auth-Request-Grafana-Role}, no login form;</li>
 *   <li>oidc: {@code [auth.generic_oauth]} against Dex with PKCE, Dex's CA, the client secret read
 *       from the mounted Secret, and the role from {@link RoleExpression} (strict).</li>
 * </ul>
 */
public final class GrafanaSettings {
    /** Where the chart values mount the UI's OIDC Secret in Grafana's pod. */
    public static final String MOUNT_DIR = "/etc/secrets/";
    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory()
            .disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER).enable(YAMLGenerator.Feature.MINIMIZE_QUOTES));

    private final Map<String, Map<String, String>> sections = new LinkedHashMap<>();
    private final AdminUi ui;

    private GrafanaSettings(AdminUi ui) { this.ui = ui; }

    /** Behind forward authentication: Grafana's auth proxy. */
    public static GrafanaSettings authProxy(AdminUi ui, URI adminOrigin, String consolePath) {
        GrafanaSettings g = server(ui, adminOrigin);
        Map<String, String> proxy = g.section("auth.proxy");
        proxy.put("enabled", "true");
        proxy.put("header_name", ForwardAuth.USER);
        proxy.put("header_property", "username");
        proxy.put("auto_sign_up", "true");
        proxy.put("headers", "Email:" + ForwardAuth.EMAIL + " Name:" + ForwardAuth.NAME + " Role:"
                + ForwardAuth.GRAFANA_ROLE + " Groups:" + ForwardAuth.GROUPS);
        proxy.put("whitelist", String.join(", ", ui.proxyAddresses()));
        proxy.put("sync_ttl", "1");
        proxy.put("enable_login_token", "false");
        Map<String, String> users = g.section("users");
        users.put("allow_sign_up", "false");
        users.put("auto_assign_org", "true");
        // Only a fallback: the role header always comes, and a person without a role never gets here.
        users.put("auto_assign_org_role", "Viewer");
        Map<String, String> auth = g.section("auth");
        auth.put("disable_login_form", "true");
        auth.put("disable_signout_menu", "false");
        // Logout is the console's (a POST with its CSRF token): sign-out leads there.
        auth.put("signout_redirect_url", adminOrigin + consolePath + "/");
        return g;
    }

    /** Grafana's own login through Dex (generic OAuth), reading the UI's OIDC Secret from {@link #MOUNT_DIR}. */
    public static GrafanaSettings genericOauth(AdminUi ui, URI adminOrigin, URI issuer, String productName,
                                               String roleExpression) {
        GrafanaSettings g = server(ui, adminOrigin);
        String dir = MOUNT_DIR + ui.oidcSecretName() + "/";
        Map<String, String> o = g.section("auth.generic_oauth");
        o.put("enabled", "true");
        o.put("name", productName == null ? "Dex" : productName);
        o.put("client_id", ui.clientId());
        o.put("client_secret", "$__file{" + dir + OidcSecret.CLIENT_SECRET + "}");
        o.put("scopes", "openid email profile groups federated:id offline_access");
        o.put("auth_url", issuer + "/auth");
        o.put("token_url", issuer + "/token");
        o.put("api_url", issuer + "/userinfo");
        o.put("use_pkce", "true");
        o.put("use_refresh_token", "true");
        o.put("tls_client_ca", dir + OidcSecret.CA);
        o.put("tls_skip_verify_insecure", "false");
        o.put("email_attribute_path", "email");
        o.put("login_attribute_path", "email");
        o.put("name_attribute_path", "name");
        o.put("role_attribute_path", roleExpression);
        o.put("role_attribute_strict", "true");
        o.put("allow_assign_grafana_admin", "false");
        o.put("allow_sign_up", "true");
        return g;
    }

    private static GrafanaSettings server(AdminUi ui, URI adminOrigin) {
        GrafanaSettings g = new GrafanaSettings(ui);
        Map<String, String> server = g.section("server");
        server.put("root_url", adminOrigin + ui.path() + "/");
        server.put("serve_from_sub_path", "true");
        return g;
    }

    private Map<String, String> section(String name) { return sections.computeIfAbsent(name, k -> new LinkedHashMap<>()); }

    public Map<String, Map<String, String>> sections() { return sections; }

    /** The settings as a grafana.ini file. */
    public String ini() {
        StringBuilder b = new StringBuilder("# Generated by dexauth for admin UI '" + ui.name() + "' (mode "
                + ui.mode().id() + "); re-generated at each apply.\n");
        sections.forEach((name, keys) -> {
            b.append('\n').append('[').append(name).append("]\n");
            keys.forEach((k, v) -> b.append(k).append(" = ").append(v).append('\n'));
        });
        return b.toString();
    }

    /** The settings as values of the Grafana Helm chart (grafana/grafana). */
    public String helmValues() {
        ObjectNode v = YAML.createObjectNode();
        ObjectNode ini = v.putObject("grafana.ini");
        sections.forEach((name, keys) -> {
            ObjectNode s = ini.putObject(name);
            keys.forEach(s::put);
        });
        if (ui.mode() == AdminUi.Mode.OIDC) {
            ArrayNode mounts = v.putArray("extraSecretMounts");
            mounts.addObject().put("name", ui.oidcSecretName()).put("secretName", ui.oidcSecretName())
                    .put("mountPath", MOUNT_DIR + ui.oidcSecretName()).put("readOnly", true);
        }
        // dexauth makes the Ingress (path, auth annotations): the chart's own stays off.
        v.putObject("ingress").put("enabled", false);
        try {
            return "# Generated by dexauth for admin UI '" + ui.name() + "': helm upgrade grafana grafana/grafana"
                    + " -f <this file>\n" + YAML.writeValueAsString(v);
        } catch (java.io.IOException e) {
            throw new IllegalStateException(e);
        }
    }
}
