package dexauth.errors;

/** Credentials were refused: wrong password, expired code, a login the person abandoned. */
public final class Unauthenticated extends DomainException {
    public Unauthenticated(String message) { super(message, null); }
}
