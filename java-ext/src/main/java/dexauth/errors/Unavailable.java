package dexauth.errors;

/** A dependency failed or could not be reached; says which, so callers can say where to look. */
public final class Unavailable extends DomainException {
    /** The systems this project depends on. */
    public enum Dependency { KUBERNETES, DEX, SALT_API, DIRECTORY, FILESYSTEM }

    private final Dependency dependency;

    public Unavailable(Dependency dependency, String message, Throwable cause) {
        super(message, cause);
        this.dependency = dependency;
    }

    public Dependency dependency() { return dependency; }
}
