package dexauth.idp.ad;

import dexauth.errors.Invalid;
import dexauth.idp.ldap.DirectoryKind;
import dexauth.idp.ldap.DirectorySettings;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** Active Directory: Dex's LDAP connector with AD presets (UPN logins, nested groups). */
public final class ActiveDirectory extends DirectoryKind {
    public static final ActiveDirectory KIND = new ActiveDirectory();

    /** LDAP_MATCHING_RULE_IN_CHAIN: AD resolves nested group membership server-side. */
    static final String IN_CHAIN = ":1.2.840.113556.1.4.1941:";
    private static final String DNS_DOMAIN = "[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?(\\.[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)+";

    private ActiveDirectory() {}

    @Override public String id() { return "ad"; }

    /**
     * Presets for {@code domain} (e.g. example.com gives DC=example,DC=com): people log in with
     * their userPrincipalName; groups come with nested membership unless {@code nestedGroups} is false.
     */
    public static DirectorySettings settings(String domain, boolean nestedGroups) {
        if (domain == null || !domain.matches(DNS_DOMAIN)) {
            throw new Invalid("domain", "'" + domain + "' is not a DNS domain like example.com");
        }
        // Ids are sAMAccountName, not objectGUID: Dex would put the GUID's raw bytes into the token subject.
        DirectorySettings s = new DirectorySettings(KIND)
                .users("(&(objectCategory=person)(objectClass=user))", "userPrincipalName", "sAMAccountName")
                .claims("userPrincipalName", "cn", "sAMAccountName")
                .groups("(objectClass=group)", List.of("DN=member" + (nestedGroups ? IN_CHAIN : "")), "cn");
        s.userBaseDN = baseDN(domain);
        s.groupBaseDN = s.userBaseDN;
        return s;
    }

    /** DC=example,DC=com for example.com. */
    static String baseDN(String domain) {
        List<String> parts = new ArrayList<>();
        for (String label : domain.toLowerCase(Locale.ROOT).split("\\.")) parts.add("DC=" + label);
        return String.join(",", parts);
    }
}
