package dexauth.errors;

/** What the request names does not exist (a user, an IdP, a Secret). */
public final class NotFound extends DomainException {
    public NotFound(String message) { super(message, null); }
}
