package dexauth.account;

import dexauth.rbac.Role;

/**
 * The contract of forward authentication with the admin UIs: the response headers of
 * {@code <console>/auth/verify}, which the ingress controller copies onto the UI's request.
 * One place for their names: the chart's Ingress annotations and the generated Grafana
 * settings use the same.
 */
public final class ForwardAuth {
    public static final String USER = "X-Auth-Request-User";
    public static final String EMAIL = "X-Auth-Request-Email";
    public static final String NAME = "X-Auth-Request-Name";
    public static final String GROUPS = "X-Auth-Request-Groups";
    /** cluster-admin, solution-admin or read-only. */
    public static final String ROLE = "X-Auth-Request-Role";
    /** Admin, Editor or Viewer: the role as Grafana's auth proxy takes it. */
    public static final String GRAFANA_ROLE = "X-Auth-Request-Grafana-Role";

    private ForwardAuth() {}

    /** Cluster Admin -> Admin, Solution Admin -> Editor, Read Only -> Viewer. */
    public static String grafanaRole(Role role) {
        return switch (role) {
            case CLUSTER_ADMIN -> "Admin";
            case SOLUTION_ADMIN -> "Editor";
            case READ_ONLY -> "Viewer";
        };
    }
}
