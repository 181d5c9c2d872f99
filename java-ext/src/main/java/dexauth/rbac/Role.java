package dexauth.rbac;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/** The three high-level roles an operator hands out. */
public enum Role {
    CLUSTER_ADMIN("cluster-admin", "Cluster Admin", "cluster-admin"),
    SOLUTION_ADMIN("solution-admin", "Solution Admin", "dexauth:solution-admin"),
    READ_ONLY("read-only", "Read Only", "dexauth:read-only");

    private final String id;
    private final String title;
    private final String clusterRole;

    Role(String id, String title, String clusterRole) {
        this.id = id;
        this.title = title;
        this.clusterRole = clusterRole;
    }

    public String id() { return id; }

    public String title() { return title; }

    /** The ClusterRole bound for this role (cluster-wide, or per solution namespace). */
    public String clusterRole() { return clusterRole; }

    /** Accepts "solution-admin", "Solution Admin", "solution_admin"... */
    public static Role parse(String text) {
        String norm = text == null ? "" : text.trim().toLowerCase(Locale.ROOT).replaceAll("[ _]+", "-");
        for (Role r : values()) if (r.id.equals(norm)) return r;
        throw new dexauth.errors.Invalid("role", "unknown role '" + text + "'; choose one of " + ids());
    }

    public static String ids() {
        return Arrays.stream(values()).map(Role::id).collect(Collectors.joining(", "));
    }
}
