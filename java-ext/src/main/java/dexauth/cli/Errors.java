package dexauth.cli;

import dexauth.errors.Causes;

/** Turns exceptions into one line an operator can act on. */
final class Errors {
    private Errors() {}

    static String describe(Throwable ex) {
        Throwable t = Causes.unwrap(ex);
        String msg = t.getMessage();
        if (t instanceof java.net.ConnectException) return "connection refused (" + msg + "); is the service running?";
        if (t instanceof javax.net.ssl.SSLException) return "TLS failure: " + msg + " (check the CA file in the config)";
        return msg == null ? t.getClass().getSimpleName() : msg;
    }
}
