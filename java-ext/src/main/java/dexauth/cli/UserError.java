package dexauth.cli;

/** A failure caused by input or environment, reported as one line without a stack trace. */
public class UserError extends RuntimeException {
    private final int exitCode;

    public UserError(String message) { this(message, ExitCode.INVALID); }

    UserError(String message, ExitCode code) { this(message, code.code); }

    /** Only for commands that still pass a number; prefer {@link ExitCode}. */
    public UserError(String message, int exitCode) {
        super(message);
        this.exitCode = exitCode;
    }

    public int exitCode() { return exitCode; }
}
