package dexauth.loginguard.proxy;

import dexauth.loginguard.AccountKey;

import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Which of Dex's requests check a password, for whom, and what Dex answered. Dex reads form
 * values from the body first, then from the query (Go's {@code FormValue}); so does this class.
 * Paths are compared decoded and cleaned, as Go's router sees them.
 */
final class PasswordRequests {
    enum Kind { FORM, GRANT }

    enum Outcome { ACCEPTED, REFUSED, OTHER }

    record Attempt(Kind kind, AccountKey account) {}

    /** A guarded path whose body the guard cannot read the way Dex would (e.g. multipart): refused. */
    static final class Unreadable extends Exception {
        Unreadable(String message) { super(message); }
    }

    private final String issuerPath;
    private final String passwordConnector;
    private final Pattern formLogin;

    PasswordRequests(String issuerPath, String passwordConnector) {
        this.issuerPath = issuerPath;
        this.passwordConnector = passwordConnector;
        this.formLogin = Pattern.compile(Pattern.quote(issuerPath) + "/auth/([^/]+)/login");
    }

    /** The password attempt of a request, if it is one. */
    Optional<Attempt> attempt(String method, String decodedPath, String rawQuery, String contentType, byte[] body)
            throws Unreadable {
        if (!"POST".equalsIgnoreCase(method)) return Optional.empty();
        String path = clean(decodedPath);
        Matcher m = formLogin.matcher(path);
        boolean form = m.matches();
        boolean token = path.equals(issuerPath + "/token");
        if (!form && !token) return Optional.empty();
        String type = contentType == null ? "" : contentType.split(";")[0].trim().toLowerCase(java.util.Locale.ROOT);
        String bodyText = new String(body, StandardCharsets.UTF_8);
        if (!type.equals("application/x-www-form-urlencoded")) {
            if (body.length == 0 && type.isEmpty()) bodyText = "";
            else throw new Unreadable("send the form as application/x-www-form-urlencoded");
        }
        if (form) return Optional.of(new Attempt(Kind.FORM, new AccountKey(m.group(1), value("login", bodyText, rawQuery))));
        if (!"password".equals(value("grant_type", bodyText, rawQuery))) return Optional.empty();
        return Optional.of(new Attempt(Kind.GRANT, new AccountKey(passwordConnector, value("username", bodyText, rawQuery))));
    }

    /**
     * Dex's verdict: the password form redirects (303) when the password is right and shows the
     * form again (200) when it is wrong; the password grant answers 200 with tokens, or 401.
     */
    static Outcome outcome(Kind kind, int status) {
        if (kind == Kind.FORM) {
            if (status >= 300 && status < 400) return Outcome.ACCEPTED;
            return status == 200 || status == 401 ? Outcome.REFUSED : Outcome.OTHER;
        }
        if (status == 200) return Outcome.ACCEPTED;
        return status == 401 || status == 403 ? Outcome.REFUSED : Outcome.OTHER;
    }

    /** The path as Go's router matches it: no empty, "." or ".." segments, no trailing '/'. */
    static String clean(String path) {
        java.util.Deque<String> out = new java.util.ArrayDeque<>();
        for (String seg : path.split("/")) {
            if (seg.isEmpty() || seg.equals(".")) continue;
            if (seg.equals("..")) {
                out.pollLast();
                continue;
            }
            out.addLast(seg);
        }
        return "/" + String.join("/", out);
    }

    /** The first value of {@code name} in the body, else in the query, else "". */
    static String value(String name, String body, String rawQuery) {
        return first(name, body).or(() -> first(name, rawQuery)).orElse("");
    }

    private static Optional<String> first(String name, String encoded) {
        if (encoded == null || encoded.isEmpty()) return Optional.empty();
        for (String pair : encoded.split("&")) {
            int eq = pair.indexOf('=');
            String k = decode(eq < 0 ? pair : pair.substring(0, eq));
            if (k.equals(name)) return Optional.of(eq < 0 ? "" : decode(pair.substring(eq + 1)));
        }
        return Optional.empty();
    }

    private static String decode(String s) {
        try {
            return URLDecoder.decode(s, StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            return s;
        }
    }
}
