package dexauth.errors;

/** The caller's identity may not do this (Kubernetes said so, or the rule is the project's). */
public final class Forbidden extends DomainException {
    public Forbidden(String message) { super(message, null); }
}
