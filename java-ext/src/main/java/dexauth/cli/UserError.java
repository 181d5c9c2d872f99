package dexauth.cli;

/** A failure caused by input or environment, reported as one line without a stack trace. */
public class UserError extends RuntimeException {
    private final int exitCode;

    public UserError(String message) { this(message, ExitCode.INVALID); }

    UserError(String message, ExitCode code) { this(message, code.code); }

    public UserError(String message, int exitCode) {
        super(message);
        this.exitCode = exitCode;
    }

    public int exitCode() { return exitCode; }
}
