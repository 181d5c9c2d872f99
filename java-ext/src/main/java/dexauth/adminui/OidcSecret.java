package dexauth.adminui;

/** The keys of an OIDC admin UI's Secret in its namespace: what the UI needs to log in through Dex. */
public final class OidcSecret {
    public static final String CLIENT_ID = "client-id";
    public static final String CLIENT_SECRET = "client-secret";
    public static final String ISSUER = "issuer";
    /** Dex's CA (PEM): the UI verifies Dex with it, never skip-verify. */
    public static final String CA = "ca.crt";
    /** Grafana only: the generated settings (grafana.ini) and the Helm chart's values. */
    public static final String GRAFANA_INI = "grafana.ini";
    public static final String HELM_VALUES = "values.yaml";

    private OidcSecret() {}
}
