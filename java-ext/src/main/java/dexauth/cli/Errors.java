package dexauth.cli;

import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;

/** Turns exceptions into one line an operator can act on. */
final class Errors {
    private Errors() {}

    static String describe(Throwable ex) {
        Throwable t = ex;
        while ((t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null) {
            t = t.getCause();
        }
        String msg = t.getMessage();
        if (t instanceof java.net.ConnectException) return "connection refused (" + msg + "); is the service running?";
        if (t instanceof javax.net.ssl.SSLException) return "TLS failure: " + msg + " (check the CA file in the config)";
        return msg == null ? t.getClass().getSimpleName() : msg;
    }
}
