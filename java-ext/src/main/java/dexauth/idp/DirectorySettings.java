package dexauth.idp;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Locale;

/**
 * What an operator says about an LDAP or Active Directory server; every field left null takes the
 * preset of {@link #openLdap()} or {@link #activeDirectory(String)}. {@link #toConfig()} gives the
 * Dex LDAP connector config (without the bind password).
 */
public final class DirectorySettings {
    public enum Tls { LDAPS, STARTTLS, NONE }

    /** LDAP_MATCHING_RULE_IN_CHAIN: AD resolves nested group membership server-side. */
    static final String AD_IN_CHAIN = ":1.2.840.113556.1.4.1941:";

    public String host;
    public Integer port;
    public Tls tls = Tls.LDAPS;
    public String caPem;
    public String bindDN;
    public String userBaseDN;
    public String userFilter;
    public String usernameAttr;
    public String idAttr;
    public String emailAttr;
    public String emailSuffix;
    public String nameAttr;
    public String preferredUsernameAttr;
    public String usernamePrompt;
    public String groupBaseDN;
    public String groupFilter;
    /** "userAttr=groupAttr" pairs: a group matches when its groupAttr holds the user's userAttr. */
    public List<String> groupMatchers;
    public String groupNameAttr;
    public boolean noGroups;

    /** OpenLDAP presets: inetOrgPerson users, groupOfNames (member) and posixGroup (memberUid) groups. */
    public static DirectorySettings openLdap() {
        DirectorySettings s = new DirectorySettings();
        s.userFilter = "(objectClass=inetOrgPerson)";
        s.usernameAttr = "uid";
        s.idAttr = "uid";
        s.emailAttr = "mail";
        s.nameAttr = "cn";
        s.preferredUsernameAttr = "uid";
        s.groupFilter = "(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames)(objectClass=posixGroup))";
        s.groupMatchers = List.of("DN=member", "DN=uniqueMember", "uid=memberUid");
        s.groupNameAttr = "cn";
        return s;
    }

    /**
     * Active Directory presets for {@code domain} (e.g. example.com gives DC=example,DC=com): people
     * log in with their userPrincipalName; groups come with nested membership.
     */
    public static DirectorySettings activeDirectory(String domain) {
        if (domain == null || !domain.matches("[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?(\\.[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)+")) {
            throw new IllegalArgumentException("--domain '" + domain + "' is not a DNS domain like example.com");
        }
        DirectorySettings s = new DirectorySettings();
        String base = baseDN(domain);
        s.userBaseDN = base;
        s.groupBaseDN = base;
        s.userFilter = "(&(objectCategory=person)(objectClass=user))";
        s.usernameAttr = "userPrincipalName";
        // sAMAccountName, not objectGUID: Dex would put the GUID's raw bytes into the token subject.
        s.idAttr = "sAMAccountName";
        s.emailAttr = "userPrincipalName";
        s.nameAttr = "cn";
        s.preferredUsernameAttr = "sAMAccountName";
        s.groupFilter = "(objectClass=group)";
        s.groupMatchers = List.of("DN=member" + AD_IN_CHAIN);
        s.groupNameAttr = "cn";
        return s;
    }

    /** DC=example,DC=com for example.com. */
    public static String baseDN(String domain) {
        List<String> parts = new ArrayList<>();
        for (String label : domain.toLowerCase(Locale.ROOT).split("\\.")) parts.add("DC=" + label);
        return String.join(",", parts);
    }

    public ObjectNode toConfig() {
        ObjectMapper json = new ObjectMapper();
        ObjectNode c = json.createObjectNode();
        if (host == null || host.isBlank()) throw new IllegalArgumentException("--host is required");
        int p = port != null ? port : tls == Tls.LDAPS ? 636 : 389;
        c.put("host", (host.contains(":") ? "[" + host + "]" : host) + ":" + p);
        switch (tls) {
            case STARTTLS -> c.put("startTLS", true);
            case NONE -> c.put("insecureNoSSL", true);
            case LDAPS -> { }
        }
        if (caPem != null && tls != Tls.NONE) {
            c.put("rootCAData", Base64.getEncoder().encodeToString(caPem.getBytes(StandardCharsets.US_ASCII)));
        }
        if (bindDN != null && !bindDN.isBlank()) c.put("bindDN", bindDN);
        c.put("usernamePrompt", usernamePrompt != null ? usernamePrompt
                : "userPrincipalName".equals(usernameAttr) || "mail".equals(usernameAttr) ? "Email address" : "Username");
        ObjectNode u = c.putObject("userSearch");
        if (userBaseDN == null) throw new IllegalArgumentException("--user-base-dn is required");
        u.put("baseDN", userBaseDN);
        putIf(u, "filter", userFilter);
        u.put("username", usernameAttr);
        putIf(u, "idAttr", idAttr);
        putIf(u, "emailAttr", emailAttr);
        putIf(u, "emailSuffix", emailSuffix);
        putIf(u, "nameAttr", nameAttr);
        putIf(u, "preferredUsernameAttr", preferredUsernameAttr);
        if (!noGroups) {
            ObjectNode g = c.putObject("groupSearch");
            g.put("baseDN", groupBaseDN != null ? groupBaseDN : userBaseDN);
            putIf(g, "filter", groupFilter);
            ArrayNode matchers = g.putArray("userMatchers");
            for (String m : groupMatchers) {
                int eq = m.indexOf('=');
                if (eq <= 0 || eq == m.length() - 1) {
                    throw new IllegalArgumentException("--group-match '" + m + "' must be USER_ATTR=GROUP_ATTR, e.g. DN=member");
                }
                matchers.addObject().put("userAttr", m.substring(0, eq)).put("groupAttr", m.substring(eq + 1));
            }
            g.put("nameAttr", groupNameAttr);
        }
        return c;
    }

    private static void putIf(ObjectNode n, String field, String value) {
        if (value != null && !value.isBlank()) n.put(field, value);
    }
}
