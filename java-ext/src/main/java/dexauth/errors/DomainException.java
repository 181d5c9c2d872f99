package dexauth.errors;

/**
 * Why a use-case could not do what was asked, in the domain's own terms. The domain packages
 * throw only these; each caller translates them once: the CLI to exit codes, the Salt engine
 * to JSON errors, the account service to HTTP statuses. No exit code, flag or status here.
 */
public abstract sealed class DomainException extends RuntimeException
        permits Invalid, NotFound, Conflict, Forbidden, Unauthenticated, LoginRequired, Unavailable {
    DomainException(String message, Throwable cause) {
        super(message, cause);
    }
}
