package dexauth.idp.ldap;

import java.util.List;

/** An LDAP directory (OpenLDAP and alike) through Dex's LDAP connector. */
public final class Ldap extends DirectoryKind {
    public static final Ldap KIND = new Ldap();

    private Ldap() {}

    @Override public String id() { return "ldap"; }

    /** OpenLDAP presets: inetOrgPerson users, groupOfNames (member) and posixGroup (memberUid) groups. */
    public static DirectorySettings settings() {
        DirectorySettings s = new DirectorySettings(KIND);
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
}
