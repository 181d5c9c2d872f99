package dexauth.cli;

/** A failure of the command line itself (options, files, config), one line without a stack trace. */
public class UserError extends RuntimeException {
    private final ExitCode exitCode;

    public UserError(String message) { this(message, ExitCode.INVALID); }

    UserError(String message, ExitCode code) {
        super(message);
        this.exitCode = code;
    }

    public int exitCode() { return exitCode.code; }
}
