package dexauth.kubectl;

/** Why a workstation login could not give a token; callers map each kind to their own output. */
public abstract class LoginException extends RuntimeException {
    LoginException(String message) { super(message); }

    LoginException(String message, Throwable cause) { super(message, cause); }

    /** A setting is malformed: names the setting. */
    public static final class Invalid extends LoginException {
        private final String field;

        public Invalid(String field, String problem) {
            super(field + " " + problem);
            this.field = field;
        }

        public String field() { return field; }
    }

    /** No usable token and nobody at a terminal to log in. */
    public static final class Required extends LoginException {
        public Required(String message) { super(message); }
    }

    /** Dex refused the credentials or the user gave up (denied, expired code). */
    public static final class Refused extends LoginException {
        public Refused(String message) { super(message); }
    }

    /** Dex could not be reached or answered something unexpected. */
    public static final class Unavailable extends LoginException {
        public Unavailable(String message, Throwable cause) { super(message, cause); }
    }
}
