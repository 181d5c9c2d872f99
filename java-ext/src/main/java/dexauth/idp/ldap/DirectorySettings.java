package dexauth.idp.ldap;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dexauth.errors.Invalid;
import dexauth.idp.ConfigChecks;
import dexauth.idp.IdpKind;
import dexauth.idp.IdpSettings;

import java.util.List;

/**
 * What an operator says about an LDAP or Active Directory server, on top of the presets of
 * {@link Ldap#settings()} or {@link dexauth.idp.ad.ActiveDirectory#settings(String)}.
 * {@link #toConfig()} gives the Dex LDAP connector config (without the bind password).
 * Setting names are the field names; the TLS modes other than LDAPS are named {@code startTls}
 * and {@code noTls} in messages.
 */
public final class DirectorySettings implements IdpSettings {
    public enum Tls { LDAPS, STARTTLS, NONE }

    private final IdpKind kind;
    public String host;
    public Integer port;
    public Tls tls = Tls.LDAPS;
    /** PEM text of the CA certificate(s) that signed the server's certificate; null: the system CAs. */
    public String ca;
    public String bindDN;
    public String userBaseDN;
    public String userFilter;
    /** The attribute people type as their login. */
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

    /** Settings without presets; see the kinds' {@code settings} for presets. */
    public DirectorySettings(DirectoryKind kind) {
        this.kind = kind;
    }

    /** A kind's user search preset: which entries are users, the attribute people log in with, the id. */
    public DirectorySettings users(String filter, String loginAttr, String idAttr) {
        this.userFilter = filter;
        this.usernameAttr = loginAttr;
        this.idAttr = idAttr;
        return this;
    }

    /** A kind's preset of the user attributes that become the email, name and preferred username claims. */
    public DirectorySettings claims(String emailAttr, String nameAttr, String preferredUsernameAttr) {
        this.emailAttr = emailAttr;
        this.nameAttr = nameAttr;
        this.preferredUsernameAttr = preferredUsernameAttr;
        return this;
    }

    /** A kind's group search preset: which entries are groups, how they list members, their name. */
    public DirectorySettings groups(String filter, List<String> matchers, String nameAttr) {
        this.groupFilter = filter;
        this.groupMatchers = matchers;
        this.groupNameAttr = nameAttr;
        return this;
    }

    @Override
    public IdpKind kind() { return kind; }

    @Override
    public ObjectNode toConfig() {
        ObjectNode c = new ObjectMapper().createObjectNode();
        if (host == null || host.isBlank()) throw new Invalid("host", "is required");
        int p = port != null ? port : tls == Tls.LDAPS ? 636 : 389;
        c.put("host", (host.contains(":") ? "[" + host + "]" : host) + ":" + p);
        switch (tls) {
            case STARTTLS -> c.put("startTLS", true);
            case NONE -> c.put("insecureNoSSL", true);
            case LDAPS -> { }
        }
        if (ca != null && tls != Tls.NONE) c.put("rootCAData", ConfigChecks.base64(ca));
        if (bindDN != null && !bindDN.isBlank()) c.put("bindDN", bindDN);
        c.put("usernamePrompt", usernamePrompt != null ? usernamePrompt
                : "userPrincipalName".equals(usernameAttr) || "mail".equals(usernameAttr) ? "Email address" : "Username");
        ObjectNode u = c.putObject("userSearch");
        if (userBaseDN == null) throw new Invalid("userBaseDN", "is required for LDAP (e.g. ou=people,dc=example,dc=com)");
        u.put("baseDN", userBaseDN);
        putIf(u, "filter", userFilter);
        u.put("username", usernameAttr);
        putIf(u, "idAttr", idAttr);
        putIf(u, "emailAttr", emailSuffix != null ? null : emailAttr);
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
                    throw new Invalid("groupMatchers", "'" + m + "' must be USER_ATTR=GROUP_ATTR, e.g. DN=member");
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
