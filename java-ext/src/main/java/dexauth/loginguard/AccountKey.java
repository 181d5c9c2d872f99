package dexauth.loginguard;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Locale;

/**
 * One account as the guard counts it: a login name at one connector ("local" for Dex's own
 * users). Login names are compared without case, as Dex's password database does for emails.
 * The name of its counter object is a digest (any login fits a Kubernetes name); nothing of a
 * password is ever part of it.
 */
public record AccountKey(String connector, String login) {
    /** Dex's own password database (its connector id). */
    public static final String LOCAL = "local";
    /** Longest login kept; longer ones are cut (an attacker's input, stored in an annotation). */
    static final int MAX_LOGIN = 256;

    public AccountKey {
        login = login == null ? "" : login.trim().toLowerCase(Locale.ROOT);
        if (login.length() > MAX_LOGIN) login = login.substring(0, MAX_LOGIN);
    }

    public static AccountKey local(String email) {
        return new AccountKey(LOCAL, email);
    }

    /**
     * The account an administrator names: a local user's email ({@code idp} null), or a login
     * name at an LDAP or AD IdP (what its users type, not always an email).
     */
    public static AccountKey named(String login, String idp) {
        if (idp == null || idp.isBlank()) return local(dexauth.users.UserService.checkEmail(login));
        if (login == null || login.isBlank() || login.length() > MAX_LOGIN) {
            throw new dexauth.errors.Invalid("login", "give the login name the user types at " + idp
                    + " (1 to " + MAX_LOGIN + " characters)");
        }
        return new AccountKey(idp.trim(), login);
    }

    /** The counter object's name: {@code dexauth-login-} and 40 hex digits of SHA-256(connector, login). */
    public String objectName() {
        try {
            byte[] d = MessageDigest.getInstance("SHA-256").digest((connector + "\n" + login).getBytes(StandardCharsets.UTF_8));
            return "dexauth-login-" + HexFormat.of().formatHex(d, 0, 20);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public String toString() {
        return LOCAL.equals(connector) ? login : connector + ":" + login;
    }
}
