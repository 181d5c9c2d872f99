package dexauth.errors;

/** It exists already, or changed under us (retrying may help). */
public final class Conflict extends DomainException {
    public Conflict(String message) { super(message, null); }
}
