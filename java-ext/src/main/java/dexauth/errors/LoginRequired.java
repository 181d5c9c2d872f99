package dexauth.errors;

/** No usable login (none, expired, or ended), and none can be made here without a person. */
public final class LoginRequired extends DomainException {
    public LoginRequired(String message) { super(message, null); }
}
