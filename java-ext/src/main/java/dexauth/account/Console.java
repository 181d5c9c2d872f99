package dexauth.account;

import com.nimbusds.oauth2.sdk.AuthorizationCode;
import dexauth.dex.PasswordHasher;
import dexauth.errors.DomainException;
import dexauth.errors.Forbidden;
import dexauth.errors.LoginRequired;
import dexauth.errors.Unauthenticated;
import dexauth.oidc.DexClient;
import dexauth.rbac.Role;
import dexauth.users.UserService;
import gg.jte.TemplateEngine;
import gg.jte.output.StringOutput;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import io.javalin.http.HttpStatus;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.time.Clock;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Supplier;

/**
 * The web console: HTML pages over {@link Accounts}. Logs in through Dex (authorization code,
 * PKCE, state, nonce), keeps the tokens in the server-side session, checks the session's CSRF
 * token and the Origin on every POST, and shows a must-change user nothing but the password form.
 */
final class Console {
    private static final Map<String, String> ASSETS = Map.of("styles.css", "text/css; charset=utf-8",
            "logo.svg", "image/svg+xml");

    /** Ends the handling of a request with a redirect (to the login, or to the password form). */
    private static final class Redirect extends RuntimeException {
        final String location;

        Redirect(String location) {
            super(null, null, false, false);
            this.location = location;
        }
    }

    private final ServiceConfig config;
    private final Accounts accounts;
    private final Sessions sessions;
    private final Supplier<DexClient> dex;
    private final Identity.Apiserver apiserver;
    private final Clock clock;
    private final TemplateEngine templates = TemplateEngine.createPrecompiled(null, gg.jte.ContentType.Html, null,
            "dexauth.account.pages");
    private final String base;
    private final String origin;

    Console(ServiceConfig config, Accounts accounts, Sessions sessions, Supplier<DexClient> dex,
            Identity.Apiserver apiserver, Clock clock) {
        this.config = config;
        this.accounts = accounts;
        this.sessions = sessions;
        this.dex = dex;
        this.apiserver = apiserver;
        this.clock = clock;
        this.base = config.basePath();
        URI pub = URI.create(config.publicUrl);
        this.origin = pub.getScheme() + "://" + pub.getRawAuthority();
    }

    void routes(RoutesConfig r) {
        r.before(this::headers);
        r.get("/static/{file}", this::asset);
        r.get("/auth/verify", this::verify);
        r.get("/login", this::login);
        r.get("/callback", this::callback);
        r.post("/logout", this::logout);
        r.get("/", ctx -> page(ctx, "account", this::account));
        r.get("/password", ctx -> page(ctx, "account", this::passwordForm));
        r.post("/password", ctx -> page(ctx, "account", this::changePassword));
        r.get("/users", ctx -> page(ctx, "users", this::users));
        r.post("/users", ctx -> page(ctx, "users", this::addUser));
        r.get("/users/{email}", ctx -> page(ctx, "users", this::user));
        r.post("/users/{email}/roles", ctx -> page(ctx, "users", this::changeRole));
        r.post("/users/{email}/reset", ctx -> page(ctx, "users", this::resetPassword));
        r.post("/users/{email}/unlock", ctx -> page(ctx, "users", (c, s, who, view) -> onUser(c, s, who, view,
                "unlocked the login", () -> accounts.unlock(who, c.pathParam("email"), null))));
        r.get("/users/{email}/delete", ctx -> page(ctx, "users", this::confirmDelete));
        r.post("/users/{email}/delete", ctx -> page(ctx, "users", this::deleteUser));
        r.get("/groups", ctx -> page(ctx, "groups", this::groups));
        r.post("/groups", ctx -> page(ctx, "groups", this::changeGroup));
        r.exception(Redirect.class, (e, ctx) -> ctx.redirect(e.location, HttpStatus.SEE_OTHER));
    }

    // ---- plumbing -------------------------------------------------------------------------

    /** A page handler: the request, its logged-in session, and the page frame to render into. */
    private interface PageHandler {
        void handle(Context ctx, Sessions.Session session, Identity who, View view);
    }

    private void headers(Context ctx) {
        if (ctx.path().startsWith(base + "/api/")) return;
        ctx.header("Cache-Control", "no-store");
        ctx.header("X-Frame-Options", "DENY");
        ctx.header("X-Content-Type-Options", "nosniff");
        ctx.header("Referrer-Policy", "same-origin"); // no-referrer would make Chrome send "Origin: null" on our own POSTs
        ctx.header("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'none';"
                + " form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
    }

    /**
     * Runs a page for a logged-in person: no session sends them to Dex (and back here), a POST
     * without this session's CSRF token or from another origin is refused, and a user who must
     * change their password sees only the password form.
     */
    private void page(Context ctx, String section, PageHandler handler) {
        Sessions.Session s = sessions.find(ctx.cookie(Sessions.COOKIE)).orElse(null);
        Identity who = s == null ? null : s.identity;
        boolean post = "POST".equals(ctx.method().name());
        if (who == null) {
            if (post) {
                refuse(ctx, HttpStatus.FORBIDDEN, "Your session has ended", "Log in again, then repeat what you were doing.");
                return;
            }
            throw new Redirect(base + "/login?return=" + java.net.URLEncoder.encode(ctx.path(),
                    java.nio.charset.StandardCharsets.UTF_8));
        }
        if (post && !sameOrigin(ctx, s)) {
            refuse(ctx, HttpStatus.FORBIDDEN, "Request refused",
                    "This form did not come from this console, or it has expired. Reload the page and try again.");
            return;
        }
        try {
            boolean mustChange = accounts.mustChange(who);
            if (mustChange && !ctx.path().equals(base + "/password")) throw new Redirect(base + "/password");
            View view = new View(config.productName, base, s.csrf, who.email, !mustChange && accounts.canReadDirectory(who),
                    mustChange, s.takeFlash(), null, section);
            handler.handle(ctx, s, who, view);
        } catch (LoginRequired ended) {
            sessions.end(s);
            ctx.header("Set-Cookie", sessions.cookie(null));
            throw new Redirect(base + "/login");
        }
    }

    private boolean sameOrigin(Context ctx, Sessions.Session s) {
        String o = ctx.header("Origin");
        if (o != null && !o.equals(origin)) return false;
        return s.csrfMatches(ctx.formParam("csrf"));
    }

    private void render(Context ctx, String template, Map<String, Object> params) {
        StringOutput out = new StringOutput();
        templates.render(template, params, out);
        ctx.contentType("text/html; charset=utf-8").result(out.toString());
    }

    /** A failure no page handled: a page that says what went wrong (never a stack trace). */
    void failed(Context ctx, DomainException e) {
        refuse(ctx, HttpStatus.forStatus(status(e)), "Not done", e.getMessage());
    }

    private void refuse(Context ctx, HttpStatus status, String title, String text) {
        View view = new View(config.productName, base, "", null, false, false, null, null, "");
        ctx.status(status);
        render(ctx, "message.jte", params("view", view, "title", title, "text", text, "linkText", "Go to the console",
                "linkHref", base + "/"));
    }

    /** When a lockout ends, as people read it: to the second, in UTC. */
    static String untilText(java.time.Instant until) {
        return java.time.format.DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss 'UTC'")
                .withZone(java.time.ZoneOffset.UTC).format(until);
    }

    private static Map<String, Object> params(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) m.put((String) kv[i], kv[i + 1]);
        return m;
    }

    static int status(DomainException e) {
        if (e instanceof dexauth.errors.Invalid) return 400;
        if (e instanceof Unauthenticated || e instanceof LoginRequired) return 401;
        if (e instanceof Forbidden) return 403;
        if (e instanceof dexauth.errors.NotFound) return 404;
        if (e instanceof dexauth.errors.Conflict) return 409;
        return 503; // Unavailable: a dependency (Kubernetes, Dex) failed
    }

    // ---- login and logout -------------------------------------------------------------------

    private void asset(Context ctx) throws IOException {
        if ("brand.css".equals(ctx.pathParam("file"))) { // the pillar's colour: a file, so the CSP needs no inline style
            ctx.header("Cache-Control", "max-age=3600").contentType("text/css; charset=utf-8")
                    .result(":root { --primary: " + config.primaryColor + "; }\n");
            return;
        }
        String type = ASSETS.get(ctx.pathParam("file"));
        InputStream in = type == null ? null : Console.class.getResourceAsStream("static/" + ctx.pathParam("file"));
        if (in == null) {
            ctx.status(HttpStatus.NOT_FOUND).result("not found");
            return;
        }
        try (in) {
            ctx.header("Cache-Control", "max-age=3600").contentType(type).result(in.readAllBytes());
        }
    }

    private void login(Context ctx) {
        Sessions.Session s = sessions.find(ctx.cookie(Sessions.COOKIE)).orElseGet(sessions::create);
        DexClient.AuthRequest request = dex.get().authorization(URI.create(config.publicUrl + "/callback"));
        s.pending = request;
        String back = ctx.queryParam("return");
        // A path on this host only (the console, or another admin UI after single sign-on): never
        // an open redirect to another site.
        s.returnTo = back != null && back.startsWith("/") && !back.startsWith("//") && !back.contains("\\")
                && !back.startsWith(base + "/login") && !back.startsWith(base + "/callback") ? back : base + "/";
        ctx.header("Set-Cookie", sessions.cookie(s));
        ctx.redirect(request.url().toString(), HttpStatus.FOUND);
    }

    /**
     * Forward authentication (the ingress controller's auth subrequest, nginx auth_request): 2xx
     * with the person's identity in headers for a live session with a role, 401 without a session
     * (the controller then sends the browser to the login), 403 for a person without a role. The
     * controller copies these headers onto the request to the admin UI, replacing any the client
     * sent under the same names.
     */
    private void verify(Context ctx) {
        ctx.header("Cache-Control", "no-store");
        Sessions.Session s = sessions.find(ctx.cookie(Sessions.COOKIE)).orElse(null);
        Identity who = s == null ? null : s.identity;
        try {
            if (who == null || accounts.mustChange(who)) {
                ctx.status(HttpStatus.UNAUTHORIZED).result("log in at " + base + "/login");
                return;
            }
            Optional<Role> role = accounts.highestRole(who);
            if (role.isEmpty()) {
                ctx.status(HttpStatus.FORBIDDEN).result(who.email + " holds no role");
                return;
            }
            ctx.header(ForwardAuth.USER, who.email).header(ForwardAuth.EMAIL, who.email)
                    .header(ForwardAuth.NAME, who.name).header(ForwardAuth.GROUPS, String.join(",", who.groups))
                    .header(ForwardAuth.ROLE, role.get().id())
                    .header(ForwardAuth.GRAFANA_ROLE, ForwardAuth.grafanaRole(role.get()));
            ctx.status(HttpStatus.OK).result("ok");
        } catch (LoginRequired ended) {
            sessions.end(s);
            ctx.status(HttpStatus.UNAUTHORIZED).result("log in at " + base + "/login");
        }
    }

    private void callback(Context ctx) {
        Sessions.Session s = sessions.find(ctx.cookie(Sessions.COOKIE)).orElse(null);
        DexClient.AuthRequest pending = s == null ? null : s.pending;
        String state = ctx.queryParam("state");
        if (pending == null || state == null || !pending.state().getValue().equals(state)) {
            stale(ctx, "This login link is not for this browser session, or it was already used.");
            return;
        }
        s.pending = null;
        if (ctx.queryParam("error") != null) {
            stale(ctx, "Dex ended the login: " + ctx.queryParam("error"));
            return;
        }
        String code = ctx.queryParam("code");
        if (code == null || code.isBlank()) {
            stale(ctx, "Dex sent no authorization code.");
            return;
        }
        DexClient.Tokens tokens;
        try {
            tokens = dex.get().redeem(pending, new AuthorizationCode(code));
        } catch (DomainException e) {
            stale(ctx, "The login could not be completed: " + e.getMessage());
            return;
        }
        sessions.rotate(s);
        s.identity = new Identity(tokens, apiserver, dex.get(), clock);
        ctx.header("Set-Cookie", sessions.cookie(s));
        log("login", s.identity.email);
        String next = accounts.mustChange(s.identity) ? base + "/password" : s.returnTo;
        ctx.redirect(next == null ? base + "/" : next, HttpStatus.SEE_OTHER);
    }

    private void stale(Context ctx, String text) {
        View view = new View(config.productName, base, "", null, false, false, null, null, "");
        ctx.status(HttpStatus.BAD_REQUEST);
        render(ctx, "message.jte", params("view", view, "title", "Login not completed", "text", text,
                "linkText", "Log in", "linkHref", base + "/login"));
    }

    private void logout(Context ctx) {
        Sessions.Session s = sessions.find(ctx.cookie(Sessions.COOKIE)).orElse(null);
        if (s != null && s.identity != null && !sameOrigin(ctx, s)) {
            refuse(ctx, HttpStatus.FORBIDDEN, "Request refused", "This form did not come from this console.");
            return;
        }
        if (s != null) {
            if (s.identity != null) log("logout", s.identity.email);
            sessions.end(s);
        }
        ctx.header("Set-Cookie", sessions.cookie(null));
        View view = new View(config.productName, base, "", null, false, false, null, null, "");
        render(ctx, "message.jte", params("view", view, "title", "Logged out",
                "text", "Your console session has ended. Dex keeps no login session of its own (Dex v2.45 has no"
                        + " logout endpoint), so nothing else stays logged in here; kubectl keeps its own tokens until"
                        + " `authctl logout`.", "linkText", "Log in again", "linkHref", base + "/login"));
    }

    // ---- my account -------------------------------------------------------------------------

    private void account(Context ctx, Sessions.Session s, Identity who, View view) {
        Accounts.Me me = accounts.me(who);
        render(ctx, "account.jte", params("view", view, "email", me.email(), "name", me.name(), "roles", me.roles(),
                "groups", me.groups(), "local", me.local(), "createdAt", me.createdAt(),
                "lastPasswordChange", me.lastPasswordChange()));
    }

    private void passwordForm(Context ctx, Sessions.Session s, Identity who, View view) {
        render(ctx, "password.jte", params("view", view, "forced", view.mustChange(),
                "minLength", accounts.policy().minLength()));
    }

    private void changePassword(Context ctx, Sessions.Session s, Identity who, View view) {
        char[] current = chars(ctx.formParam("current"));
        char[] fresh = chars(ctx.formParam("new"));
        char[] again = chars(ctx.formParam("again"));
        try {
            accounts.changeOwnPassword(who, clientAddress(ctx, config), current, fresh, again);
            log("changed own password", who.email);
            try { // Dex revoked every refresh token of the user, ours too: log in again with the new password
                who.replace(dex.get().password(who.email, fresh));
            } catch (DomainException e) {
                sessions.end(s);
                ctx.header("Set-Cookie", sessions.cookie(null));
                throw new Redirect(base + "/login");
            }
            s.flash = "Your password was changed. Other sessions and kubectl logins must log in again.";
            throw new Redirect(base + "/");
        } catch (DomainException e) {
            ctx.status(status(e));
            render(ctx, "password.jte", params("view", view.withError(e.getMessage()), "forced", view.mustChange(),
                    "minLength", accounts.policy().minLength()));
        } finally {
            PasswordHasher.wipe(current);
            PasswordHasher.wipe(fresh);
            PasswordHasher.wipe(again);
        }
    }

    // ---- users --------------------------------------------------------------------------------

    private void users(Context ctx, Sessions.Session s, Identity who, View view) {
        usersPage(ctx, who, view);
    }

    private void usersPage(Context ctx, Identity who, View view) {
        String q = Optional.ofNullable(ctx.queryParam("q")).orElse("");
        int offset = intParam(ctx, "offset", 0);
        try {
            var page = accounts.list(who, q, offset, 50);
            render(ctx, "users.jte", params("view", view, "page", page, "search", q, "canManage", accounts.canManage(who)));
        } catch (Forbidden e) {
            refuse(ctx, HttpStatus.FORBIDDEN, "Not allowed", e.getMessage());
        }
    }

    private void addUser(Context ctx, Sessions.Session s, Identity who, View view) {
        char[] typed = chars(ctx.formParam("password"));
        try {
            Set<Role> roles = Accounts.roles(ctx.formParams("role"));
            String email = UserService.checkUserEmail(ctx.formParam("email"));
            Optional<char[]> generated = accounts.add(who, email, ctx.formParam("username"), roles, typed);
            log("created user " + email, who.email);
            if (generated.isPresent()) {
                oneTime(ctx, view, email, generated.get(), "User " + email + " created");
            } else {
                s.flash = "User " + email + " created; they must change the password at first login.";
                throw new Redirect(base + "/users/" + email);
            }
        } catch (DomainException e) {
            ctx.status(status(e));
            usersPage(ctx, who, view.withError(e.getMessage()));
        } finally {
            PasswordHasher.wipe(typed);
        }
    }

    private void oneTime(Context ctx, View view, String email, char[] password, String what) {
        try {
            render(ctx, "one-time.jte", params("view", view, "email", email, "password", new String(password), "what", what));
        } finally {
            PasswordHasher.wipe(password);
        }
    }

    private void user(Context ctx, Sessions.Session s, Identity who, View view) {
        try {
            Accounts.UserView u = accounts.user(who, ctx.pathParam("email"));
            render(ctx, "user.jte", params("view", view, "user", u.record(), "events", u.events(),
                    "lockedUntil", u.lockedUntil().map(Console::untilText).orElse(""), "canManage", accounts.canManage(who)));
        } catch (DomainException e) {
            refuse(ctx, HttpStatus.forStatus(status(e)), "Cannot show this user", e.getMessage());
        }
    }

    /** Runs a change on one user, then back to their page with a notice, or the page with the error. */
    private void onUser(Context ctx, Sessions.Session s, Identity who, View view, String done, Runnable change) {
        String email = ctx.pathParam("email");
        try {
            change.run();
            log(done + " " + email, who.email);
            s.flash = done.substring(0, 1).toUpperCase(java.util.Locale.ROOT) + done.substring(1) + ".";
            throw new Redirect(base + "/users/" + email);
        } catch (DomainException e) {
            userPageWithError(ctx, who, view, email, e);
        }
    }

    private void userPageWithError(Context ctx, Identity who, View view, String email, DomainException e) {
        ctx.status(status(e));
        try {
            Accounts.UserView u = accounts.user(who, email);
            render(ctx, "user.jte", params("view", view.withError(e.getMessage()), "user", u.record(),
                    "events", u.events(), "lockedUntil", u.lockedUntil().map(Console::untilText).orElse(""),
                    "canManage", accounts.canManage(who)));
        } catch (DomainException unreadable) {
            refuse(ctx, HttpStatus.forStatus(status(e)), "Not done", e.getMessage());
        }
    }

    private void changeRole(Context ctx, Sessions.Session s, Identity who, View view) {
        boolean revoke = "revoke".equals(ctx.formParam("action"));
        onUser(ctx, s, who, view, (revoke ? "revoked " : "granted ") + "role " + ctx.formParam("role"),
                () -> accounts.grant(who, ctx.pathParam("email"), Role.parse(ctx.formParam("role")), revoke));
    }

    private void resetPassword(Context ctx, Sessions.Session s, Identity who, View view) {
        char[] typed = chars(ctx.formParam("password"));
        String email = ctx.pathParam("email");
        try {
            Optional<char[]> generated = accounts.reset(who, email, typed);
            log("reset the password of " + email, who.email);
            if (generated.isPresent()) {
                oneTime(ctx, view, email, generated.get(), "Password of " + email + " reset");
            } else {
                s.flash = "Password reset; " + email + " must change it at next login.";
                throw new Redirect(base + "/users/" + email);
            }
        } catch (DomainException e) {
            userPageWithError(ctx, who, view, email, e);
        } finally {
            PasswordHasher.wipe(typed);
        }
    }

    private void confirmDelete(Context ctx, Sessions.Session s, Identity who, View view) {
        try {
            Accounts.UserView u = accounts.user(who, ctx.pathParam("email"));
            render(ctx, "confirm-delete.jte", params("view", view, "email", u.record().email()));
        } catch (DomainException e) {
            refuse(ctx, HttpStatus.forStatus(status(e)), "Cannot delete this user", e.getMessage());
        }
    }

    private void deleteUser(Context ctx, Sessions.Session s, Identity who, View view) {
        String email = ctx.pathParam("email");
        try {
            accounts.delete(who, email);
            log("deleted user " + email, who.email);
            s.flash = "User " + email + " deleted.";
            throw new Redirect(base + "/users");
        } catch (DomainException e) {
            ctx.status(status(e));
            usersPage(ctx, who, view.withError(e.getMessage()));
        }
    }

    // ---- group grants ---------------------------------------------------------------------------

    private void groups(Context ctx, Sessions.Session s, Identity who, View view) {
        try {
            render(ctx, "groups.jte", params("view", view, "grants", accounts.groups(who), "canManage", accounts.canManage(who)));
        } catch (DomainException e) {
            refuse(ctx, HttpStatus.forStatus(status(e)), "Not allowed", e.getMessage());
        }
    }

    private void changeGroup(Context ctx, Sessions.Session s, Identity who, View view) {
        boolean revoke = "revoke".equals(ctx.formParam("action"));
        String group = ctx.formParam("group");
        String idp = ctx.formParam("idp");
        try {
            accounts.grantGroup(who, idp, group, Role.parse(ctx.formParam("role")), revoke);
            log((revoke ? "revoked a role of group " : "granted a role to group ") + group + " of IdP " + idp, who.email);
            s.flash = (revoke ? "Role revoked from " : "Role granted to ") + "group " + group + " of IdP " + idp + ".";
            throw new Redirect(base + "/groups");
        } catch (DomainException e) {
            ctx.status(status(e));
            try {
                render(ctx, "groups.jte", params("view", view.withError(e.getMessage()), "grants", accounts.groups(who),
                        "canManage", accounts.canManage(who)));
            } catch (DomainException unreadable) {
                refuse(ctx, HttpStatus.forStatus(status(e)), "Not done", e.getMessage());
            }
        }
    }

    // ---- helpers ----------------------------------------------------------------------------------

    /** The client's address: the connection's, or the one a trusted proxy appended to X-Forwarded-For. */
    static String clientAddress(Context ctx, ServiceConfig config) {
        return dexauth.loginguard.ClientAddress.of(ctx.ip(), ctx.header("X-Forwarded-For"), config.trustedProxies);
    }

    private static char[] chars(String s) {
        return s == null ? new char[0] : s.toCharArray();
    }

    private static int intParam(Context ctx, String name, int fallback) {
        try {
            return Math.max(0, Integer.parseInt(ctx.queryParam(name)));
        } catch (NumberFormatException e) {
            return fallback;
        }
    }

    /** One line per change: who did what (never a password, a token or a cookie). */
    static void log(String what, String actor) {
        System.out.println("account-service: " + actor + ": " + what);
    }
}
