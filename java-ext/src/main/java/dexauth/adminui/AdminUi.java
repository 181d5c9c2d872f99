package dexauth.adminui;

import java.util.List;

/**
 * One admin UI of pillar {@code dexauth:admin_uis}: where it is served on the admin host
 * ({@code path}), the Service behind it, and how it learns who the person is ({@code mode}).
 * {@code redirectUris} are resolved (Grafana's default filled in) and used only in OIDC mode;
 * {@code proxyAddresses} is the whitelist of Grafana's auth proxy (forward-auth Grafana only).
 */
public record AdminUi(String name, String path, String namespace, String serviceName, int servicePort, Mode mode,
                      App app, List<String> redirectUris, List<String> proxyAddresses) {

    /** How the UI authenticates people. */
    public enum Mode {
        /** The ingress controller asks the account service for each request (single sign-on). */
        FORWARD_AUTH("forward-auth"),
        /** The UI is a Dex client itself (its own login through Dex). */
        OIDC("oidc");

        private final String id;

        Mode(String id) { this.id = id; }

        public String id() { return id; }
    }

    /** What the UI is: Grafana gets generated settings; any other UI only the Ingress (and client). */
    public enum App {
        GENERIC("generic"), GRAFANA("grafana");

        private final String id;

        App(String id) { this.id = id; }

        public String id() { return id; }
    }

    /** The label every object made for an admin UI carries, its value the UI's name (removal finds them by it). */
    public static final String LABEL = "dexauth.io/admin-ui";

    /** The UI's Dex client id (OIDC mode); also its key in Dex's client-secrets Secret. */
    public String clientId() { return "admin-ui-" + name; }

    /** The Ingress on the control-plane class. */
    public String ingressName() { return "dexauth-" + name; }

    /** OIDC mode: the Secret in the UI's namespace with client id, secret, issuer and Dex's CA. */
    public String oidcSecretName() { return "dexauth-" + name + "-oidc"; }

    /** Grafana: the ConfigMap (forward-auth) with the generated grafana.ini and Helm values. */
    public String settingsConfigMapName() { return "dexauth-" + name + "-grafana"; }
}
