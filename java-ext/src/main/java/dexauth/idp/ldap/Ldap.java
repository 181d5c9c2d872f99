package dexauth.idp.ldap;

import java.util.List;

/** An LDAP directory (OpenLDAP and alike) through Dex's LDAP connector. */
public final class Ldap extends DirectoryKind {
    public static final Ldap KIND = new Ldap();

    private Ldap() {}

    @Override public String id() { return "ldap"; }

    /** OpenLDAP presets: inetOrgPerson users, groupOfNames (member) and posixGroup (memberUid) groups. */
    public static DirectorySettings settings() {
        return new DirectorySettings(KIND)
                .users("(objectClass=inetOrgPerson)", "uid", "uid")
                .claims("mail", "cn", "uid")
                .groups("(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames)(objectClass=posixGroup))",
                        List.of("DN=member", "DN=uniqueMember", "uid=memberUid"), "cn");
    }
}
