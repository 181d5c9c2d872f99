package dexauth.account;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import dexauth.dex.PasswordHasher;
import dexauth.errors.DomainException;
import dexauth.errors.Invalid;
import dexauth.errors.Unauthenticated;
import dexauth.errors.Unavailable;
import dexauth.oidc.DexClient;
import dexauth.rbac.Role;
import dexauth.users.UserRecord;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import io.javalin.http.HttpStatus;

import java.time.Clock;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Supplier;

/**
 * The JSON API that `authctl` uses without root: the same operations as the console, for a
 * caller who presents a Dex ID token for kube-apiserver's audience (`Authorization: Bearer`).
 * No cookie is honoured here, so a browser cannot be made to call it (no CSRF surface).
 */
final class Api {
    static final String PREFIX = "/api/v1";
    private static final String IDENTITY = "dexauth.identity";

    @JsonIgnoreProperties(ignoreUnknown = true)
    static final class NewUser {
        public String email;
        public String username;
        public List<String> roles;
        public char[] password;
    }

    @JsonIgnoreProperties(ignoreUnknown = true)
    static final class PasswordChange {
        public char[] current;
        public char[] password;
    }

    private final ServiceConfig config;
    private final Accounts accounts;
    private final Supplier<DexClient> dex;
    private final Identity.Apiserver apiserver;
    private final Set<String> clients;
    private final Clock clock;
    private final java.util.Map<String, Identity> identities = new java.util.concurrent.ConcurrentHashMap<>();

    Api(ServiceConfig config, Accounts accounts, Supplier<DexClient> dex, Identity.Apiserver apiserver,
        Set<String> clients, Clock clock) {
        this.config = config;
        this.accounts = accounts;
        this.dex = dex;
        this.apiserver = apiserver;
        this.clients = clients;
        this.clock = clock;
    }

    void routes(RoutesConfig r) {
        r.before(PREFIX + "/*", this::authenticate);
        r.get(PREFIX + "/me", ctx -> ctx.json(me(accounts.me(who(ctx)))));
        r.post(PREFIX + "/me/password", this::changeOwnPassword);
        r.get(PREFIX + "/users", this::list);
        r.post(PREFIX + "/users", this::add);
        r.get(PREFIX + "/users/{email}", ctx -> {
            Accounts.UserView u = accounts.user(who(ctx), ctx.pathParam("email"));
            ctx.json(Map.of("user", user(u.record()), "events", u.events()));
        });
        r.delete(PREFIX + "/users/{email}", ctx -> {
            accounts.delete(who(ctx), ctx.pathParam("email"));
            ctx.status(HttpStatus.NO_CONTENT);
        });
        r.post(PREFIX + "/users/{email}/password", this::reset);
        r.delete(PREFIX + "/users/{email}/lockout", ctx -> {
            String email = ctx.pathParam("email");
            boolean was = accounts.unlock(who(ctx), email, ctx.queryParam("idp"));
            Console.log("unlocked " + email + " (API)", who(ctx).email);
            ctx.json(Map.of("email", email, "wasLocked", was));
        });
        r.put(PREFIX + "/users/{email}/roles/{role}", ctx -> role(ctx, false));
        r.delete(PREFIX + "/users/{email}/roles/{role}", ctx -> role(ctx, true));
        r.get(PREFIX + "/groups", ctx -> ctx.json(groups(accounts.groups(who(ctx)))));
        r.put(PREFIX + "/idps/{idp}/groups/{group}/roles/{role}", ctx -> groupRole(ctx, false));
        r.delete(PREFIX + "/idps/{idp}/groups/{group}/roles/{role}", ctx -> groupRole(ctx, true));
    }

    static boolean handles(Context ctx, String base) {
        return ctx.path().startsWith(base + PREFIX + "/");
    }

    static void failed(Context ctx, DomainException e) {
        ctx.status(Console.status(e)).json(error(e));
    }

    private static Map<String, Object> me(Accounts.Me me) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("email", me.email());
        m.put("name", me.name());
        m.put("roles", me.roles().stream().map(Role::id).sorted().toList());
        m.put("groups", me.groups());
        m.put("mustChangePassword", me.mustChange());
        m.put("local", me.local());
        m.put("createdAt", me.createdAt());
        m.put("lastPasswordChange", me.lastPasswordChange());
        return m;
    }

    static Map<String, Object> error(DomainException e) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("error", e.getMessage());
        body.put("kind", e.getClass().getSimpleName().toLowerCase(java.util.Locale.ROOT));
        if (e instanceof Invalid i) body.put("field", i.field());
        if (e instanceof Unavailable u) body.put("dependency", u.dependency().name().toLowerCase(java.util.Locale.ROOT));
        return body;
    }

    private void authenticate(Context ctx) {
        String header = ctx.header("Authorization");
        if (header == null || !header.regionMatches(true, 0, "Bearer ", 0, 7)) {
            ctx.header("WWW-Authenticate", "Bearer");
            throw new Unauthenticated("send your Dex ID token as `Authorization: Bearer <token>` (`authctl login`)");
        }
        String token = header.substring(7).trim();
        Identity who = identities.get(token);
        if (who == null) {
            who = verified(token);
            Identity raced = identities.putIfAbsent(token, who);
            if (raced != null) {
                who.close();
                who = raced;
            }
        }
        ctx.attribute(IDENTITY, who);
    }

    /**
     * A caller, verified once per token and kept until the token expires: a run of calls (an
     * import) reuses its Kubernetes connection instead of opening one per request.
     */
    private Identity verified(String token) {
        Instant now = clock.instant();
        identities.values().removeIf(i -> {
            boolean expired = !now.isBefore(i.expiresAt());
            if (expired) i.close();
            return expired;
        });
        if (identities.size() >= 1000) throw new Unavailable(Unavailable.Dependency.KUBERNETES, "too many callers at once; retry", null);
        DexClient d = dex.get();
        var claims = d.verifyBearer(token, clients);
        return new Identity(new DexClient.Tokens(token, null, claims), apiserver, d, clock);
    }

    private static Identity who(Context ctx) {
        return ctx.attribute(IDENTITY);
    }

    private void changeOwnPassword(Context ctx) {
        PasswordChange body = ctx.bodyAsClass(PasswordChange.class);
        try {
            if (body.current == null || body.password == null) throw new Invalid("password", "send current and password");
            accounts.changeOwnPassword(who(ctx), Console.clientAddress(ctx, config), body.current, body.password,
                    body.password);
            Console.log("changed own password (API)", who(ctx).email);
            ctx.status(HttpStatus.NO_CONTENT);
        } finally {
            PasswordHasher.wipe(body.current);
            PasswordHasher.wipe(body.password);
        }
    }

    private void list(Context ctx) {
        int offset = intParam(ctx, "offset", 0);
        int limit = intParam(ctx, "limit", 500);
        var page = accounts.list(who(ctx), ctx.queryParam("search"), offset, limit);
        ctx.json(Map.of("total", page.total(), "offset", page.offset(), "limit", page.limit(),
                "users", page.users().stream().map(Api::user).toList()));
    }

    private void add(Context ctx) {
        NewUser body = ctx.bodyAsClass(NewUser.class);
        try {
            Optional<char[]> generated = accounts.add(who(ctx), body.email, body.username, Accounts.roles(body.roles),
                    body.password);
            Console.log("created user " + body.email + " (API)", who(ctx).email);
            ctx.status(HttpStatus.CREATED).json(oneTime(body.email, generated));
        } finally {
            PasswordHasher.wipe(body.password);
        }
    }

    private void reset(Context ctx) {
        PasswordChange body = ctx.body().isBlank() ? new PasswordChange() : ctx.bodyAsClass(PasswordChange.class);
        try {
            String email = ctx.pathParam("email");
            Optional<char[]> generated = accounts.reset(who(ctx), email, body.password);
            Console.log("reset the password of " + email + " (API)", who(ctx).email);
            ctx.json(oneTime(email, generated));
        } finally {
            PasswordHasher.wipe(body.password);
        }
    }

    private static Map<String, Object> oneTime(String email, Optional<char[]> generated) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("email", email);
        generated.ifPresent(p -> {
            out.put("oneTimePassword", new String(p));
            PasswordHasher.wipe(p);
        });
        return out;
    }

    private void role(Context ctx, boolean revoke) {
        accounts.grant(who(ctx), ctx.pathParam("email"), Role.parse(ctx.pathParam("role")), revoke);
        ctx.status(HttpStatus.NO_CONTENT);
    }

    private void groupRole(Context ctx, boolean revoke) {
        accounts.grantGroup(who(ctx), ctx.pathParam("idp"), ctx.pathParam("group"), Role.parse(ctx.pathParam("role")),
                revoke);
        ctx.status(HttpStatus.NO_CONTENT);
    }

    /** Group grants as a list of {idp, group, roles}. */
    static java.util.List<Map<String, Object>> groups(Map<dexauth.users.GroupGrants.Group, java.util.Set<Role>> grants) {
        java.util.List<Map<String, Object>> out = new java.util.ArrayList<>();
        grants.forEach((g, roles) -> {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("idp", g.idp());
            m.put("group", g.name());
            m.put("roles", roles.stream().map(Role::id).sorted().toList());
            out.add(m);
        });
        return out;
    }

    static Map<String, Object> user(UserRecord u) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("email", u.email());
        m.put("username", u.username());
        m.put("roles", u.roles().stream().map(Role::id).sorted().toList());
        m.put("mustChangePassword", u.mustChange());
        m.put("createdBy", u.createdBy());
        m.put("createdAt", u.createdAt());
        return m;
    }

    private static int intParam(Context ctx, String name, int fallback) {
        String v = ctx.queryParam(name);
        if (v == null) return fallback;
        try {
            return Math.max(0, Integer.parseInt(v));
        } catch (NumberFormatException e) {
            throw new Invalid(name, "'" + v + "' is not a number");
        }
    }
}
