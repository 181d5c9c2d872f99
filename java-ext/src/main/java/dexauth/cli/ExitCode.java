package dexauth.cli;

import dexauth.errors.Conflict;
import dexauth.errors.DomainException;
import dexauth.errors.Forbidden;
import dexauth.errors.Invalid;
import dexauth.errors.LoginRequired;
import dexauth.errors.NotFound;
import dexauth.errors.Unauthenticated;
import dexauth.errors.Unavailable;

import java.util.Arrays;
import java.util.stream.Collectors;

/** authctl's exit codes: the one table that turns domain errors into numbers (listed in --help). */
enum ExitCode {
    OK(0, "done"),
    FAILED(1, "unexpected failure (a bug: please report it with the message)"),
    INVALID(2, "invalid input (option, file, stdin, pillar); nothing was changed"),
    CONFLICT(3, "it exists already, or changed meanwhile (retry)"),
    UNAUTHENTICATED(4, "login refused (wrong email or password, abandoned login)"),
    NOT_FOUND(5, "no such user, IdP or object"),
    FORBIDDEN(6, "not allowed for your identity"),
    LOGIN_REQUIRED(7, "not logged in, or the session ended: `authctl login` (or kubectl in a terminal)"),
    KUBERNETES(8, "the Kubernetes API failed"),
    DEX(9, "Dex failed or could not be reached"),
    CHECK_FAILED(10, "a connection check failed (its cause and fix are printed)"),
    SALT_API(11, "salt-api failed");

    final int code;
    final String meaning;

    ExitCode(int code, String meaning) {
        this.code = code;
        this.meaning = meaning;
    }

    static ExitCode of(DomainException e) {
        if (e instanceof Invalid) return INVALID;
        if (e instanceof Conflict) return CONFLICT;
        if (e instanceof Unauthenticated) return UNAUTHENTICATED;
        if (e instanceof NotFound) return NOT_FOUND;
        if (e instanceof Forbidden) return FORBIDDEN;
        if (e instanceof LoginRequired) return LOGIN_REQUIRED;
        Unavailable u = (Unavailable) e;
        return switch (u.dependency()) {
            case KUBERNETES -> KUBERNETES;
            case DEX -> DEX;
            case SALT_API -> SALT_API;
            case DIRECTORY -> CHECK_FAILED;
            case FILESYSTEM -> INVALID;
        };
    }

    /** The table, one line per code, for --help. */
    static String[] table() {
        return Arrays.stream(values()).map(c -> String.format("  %2d  %s", c.code, c.meaning))
                .collect(Collectors.toList()).toArray(String[]::new);
    }
}
