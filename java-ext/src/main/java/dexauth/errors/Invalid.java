package dexauth.errors;

/** Input that can never succeed as given; names the field (option, pillar key, form field). */
public final class Invalid extends DomainException {
    private final String field;

    public Invalid(String field, String problem) {
        super(problem, null);
        this.field = field;
    }

    /** The input at fault, e.g. {@code email} or {@code dexauth:issuer}; null when it is the request as a whole. */
    public String field() { return field; }
}
