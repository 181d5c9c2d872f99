package dexauth.cli;

import dexauth.kubectl.LoginException;

/** Exit codes of workstation logins, the same numbers as the rest of authctl (see --help footers). */
final class LoginExits {
    private LoginExits() {}

    static int code(LoginException e) {
        if (e instanceof LoginException.Invalid) return 2;
        if (e instanceof LoginException.Refused) return 4;
        if (e instanceof LoginException.Required) return 7;
        return 9; // Unavailable: Dex unreachable or answering nonsense
    }
}
