package dexauth.errors;

import java.util.Optional;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;

/** The one place that walks exception cause chains (libraries wrap the useful part). */
public final class Causes {
    private Causes() {}

    /** The first exception of {@code type} in the chain of {@code e}, itself included. */
    public static <T extends Throwable> Optional<T> find(Throwable e, Class<T> type) {
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (type.isInstance(t)) return Optional.of(type.cast(t));
        }
        return Optional.empty();
    }

    /** {@code e} without the wrappers that carry no message of their own (futures, reflection). */
    public static Throwable unwrap(Throwable e) {
        Throwable t = e;
        while ((t instanceof CompletionException || t instanceof ExecutionException
                || t instanceof java.lang.reflect.InvocationTargetException) && t.getCause() != null) {
            t = t.getCause();
        }
        return t;
    }

    /** Every distinct message of the chain, outermost first, joined by ": " (bounded). */
    public static String messages(Throwable e) {
        StringBuilder out = new StringBuilder();
        for (Throwable t = e; t != null && out.length() < 2000; t = t.getCause() == t ? null : t.getCause()) {
            String m = t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage();
            if (out.indexOf(m) >= 0) continue;
            if (out.length() > 0) out.append(": ");
            out.append(m);
        }
        return out.toString();
    }
}
