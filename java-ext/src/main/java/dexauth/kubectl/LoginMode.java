package dexauth.kubectl;

import dexauth.errors.Invalid;
import java.util.Locale;

/** How an interactive login happens when no cached or refreshable token is left. */
public enum LoginMode {
    /** Password prompt when Dex offers only local users; else the browser, or the device flow without one. */
    AUTO,
    /** Email and password typed in the terminal (Dex's local users, password grant). */
    PASSWORD,
    /** Authorization code with PKCE, Dex's pages in a browser, redirect to a loopback port: any IdP. */
    BROWSER,
    /** Device flow: a URL and a code to enter on any device with a browser (SSH sessions). */
    DEVICE;

    public static LoginMode parse(String text) {
        try {
            return valueOf(text.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException | NullPointerException e) {
            throw new Invalid("login mode", "'" + text + "' is not one of auto, password, browser, device");
        }
    }

    public String flag() { return name().toLowerCase(Locale.ROOT); }
}
