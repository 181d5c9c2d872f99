package dexauth.adminui;

import dexauth.rbac.Role;
import dexauth.rbac.RoleAssignments;

import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Collectors;

/**
 * Grafana's {@code role_attribute_path} (JMESPath over the ID token's claims) generated from the
 * role store, because local users' ID tokens carry no groups (Dex's gRPC Password has none):
 * <ul>
 *   <li>a local user (claim {@code federated_claims.connector_id == 'local'}, which Dex sets with
 *       scope {@code federated:id}) matches by {@code email} in the list of the role's holders;</li>
 *   <li>a user of an upstream IdP matches by a group of its {@code groups} claim granted the role for
 *       that IdP ({@code federated_claims.connector_id}): grants are per IdP, as the Kubernetes group
 *       oidc:IDP:GROUP, so another IdP's group of the same name matches nothing.</li>
 * </ul>
 * The highest role wins (Admin, then Editor, then Viewer); no role gives '' which Grafana, with
 * {@code role_attribute_strict = true}, refuses. The expression is as fresh as its last generation.
 */
public final class RoleExpression {
    public static final String LOCAL_CONNECTOR = "local";

    private RoleExpression() {}

    public static String of(RoleAssignments.Holders holders) {
        StringBuilder out = new StringBuilder();
        for (Role role : List.of(Role.CLUSTER_ADMIN, Role.SOLUTION_ADMIN, Role.READ_ONLY)) {
            out.append("(federated_claims.connector_id == '").append(LOCAL_CONNECTOR).append("' && contains(")
                    .append(literal(holders.users().get(role))).append(", email)");
            byIdp(holders.groups().get(role)).forEach((idp, groups) -> out.append(" || federated_claims.connector_id == '")
                    .append(idp).append("' && length((groups || `[]`)[?contains(").append(literal(groups))
                    .append(", @)]) > `0`"));
            out.append(") && '").append(dexauth.account.ForwardAuth.grafanaRole(role)).append("' || ");
        }
        return out.append("''").toString();
    }

    /**
     * Group holders ({@code <idp>:<group>}) by IdP, sorted. IdP names are lowercase letters, digits
     * and '-' (checked when granted), so they sit safely in a JMESPath raw string.
     */
    static Map<String, Set<String>> byIdp(Set<String> groups) {
        Map<String, Set<String>> out = new TreeMap<>();
        for (String g : groups) {
            int colon = g.indexOf(':');
            out.computeIfAbsent(g.substring(0, colon), i -> new TreeSet<>()).add(g.substring(colon + 1));
        }
        return out;
    }

    /** A JMESPath JSON literal of strings, sorted (a stable expression when nothing changed). */
    static String literal(Set<String> values) {
        String json = values.stream().sorted().map(RoleExpression::jsonString).collect(Collectors.joining(",", "[", "]"));
        return "`" + json.replace("`", "\\`") + "`";
    }

    private static String jsonString(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') b.append('\\').append(c);
            else if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
            else b.append(c);
        }
        return b.append('"').toString();
    }
}
