package dexauth.idp;

import java.util.Arrays;
import java.util.stream.Collectors;

/** The kinds of upstream identity provider authctl configures, and how each maps onto a Dex connector. */
public enum IdpType {
    LDAP("ldap", "ldap", "bindPW"),
    /** Active Directory: Dex's LDAP connector with AD presets. */
    AD("ad", "ldap", "bindPW"),
    OIDC("oidc", "oidc", "clientSecret"),
    GITLAB("gitlab", "gitlab", "clientSecret"),
    GITHUB("github", "github", "clientSecret");

    private final String id;
    private final String dexType;
    private final String secretField;

    IdpType(String id, String dexType, String secretField) {
        this.id = id;
        this.dexType = dexType;
        this.secretField = secretField;
    }

    public String id() { return id; }

    /** The {@code type} of the Dex connector. */
    public String dexType() { return dexType; }

    /** The connector config field that holds this type's secret (bind password or client secret). */
    public String secretField() { return secretField; }

    public boolean isDirectory() { return "ldap".equals(dexType); }

    /** OAuth2-style connectors send the browser back to Dex's callback URL. */
    public boolean needsRedirect() { return !isDirectory(); }

    public String secretLabel() { return isDirectory() ? "bind password" : "client secret"; }

    public static IdpType of(String id) {
        for (IdpType t : values()) if (t.id.equals(id)) return t;
        throw new IllegalArgumentException("unknown IdP type '" + id + "'; use one of "
                + Arrays.stream(values()).map(IdpType::id).collect(Collectors.joining(", ")));
    }
}
