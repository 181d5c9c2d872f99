package dexauth.idp.ldap;

import com.fasterxml.jackson.databind.JsonNode;
import com.unboundid.ldap.sdk.ExtendedResult;
import com.unboundid.ldap.sdk.Filter;
import com.unboundid.ldap.sdk.LDAPConnection;
import com.unboundid.ldap.sdk.LDAPConnectionOptions;
import com.unboundid.ldap.sdk.LDAPException;
import com.unboundid.ldap.sdk.ResultCode;
import com.unboundid.ldap.sdk.SearchResult;
import com.unboundid.ldap.sdk.SearchResultEntry;
import com.unboundid.ldap.sdk.SearchScope;
import com.unboundid.ldap.sdk.extensions.StartTLSExtendedRequest;
import com.unboundid.util.ssl.HostNameSSLSocketVerifier;
import dexauth.idp.IdpSpec;
import dexauth.idp.NetworkCheck;
import dexauth.idp.ProbeReport;

import javax.net.ssl.SSLContext;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Supplier;

/**
 * Checks an LDAP or Active Directory IdP the way Dex will use it: DNS, TCP, TLS trust, the
 * service account's bind, the base DNs, then (given a user) the user search and the group
 * search with Dex's own filters, and the Kubernetes identity the user would get.
 */
final class LdapProbe {
    private LdapProbe() {}

    static ProbeReport run(IdpSpec spec, Supplier<char[]> bindPassword, String user) {
        ProbeReport r = new ProbeReport();
        JsonNode c = spec.config();
        String hostPort = c.path("host").asText();
        int colon = hostPort.lastIndexOf(':');
        String host = hostPort.substring(0, colon).replaceAll("^\\[|]$", "");
        int port = Integer.parseInt(hostPort.substring(colon + 1));
        boolean startTls = c.path("startTLS").asBoolean(false);
        boolean plain = c.path("insecureNoSSL").asBoolean(false);
        if (!NetworkCheck.dns(r, host) || !NetworkCheck.tcp(r, host, port)) return r;

        NetworkCheck.Trust trust = NetworkCheck.trust(r, c);
        if (trust == null) return r;
        SSLContext tls = trust.context();
        LDAPConnectionOptions options = new LDAPConnectionOptions();
        options.setConnectTimeoutMillis(NetworkCheck.TIMEOUT_MS);
        options.setResponseTimeoutMillis(NetworkCheck.TIMEOUT_MS);
        options.setSSLSocketVerifier(new HostNameSSLSocketVerifier(true));
        if (!plain && !startTls && !NetworkCheck.tls(r, host, port, trust)) return r;

        try (LDAPConnection conn = plain || startTls
                ? new LDAPConnection(options, host, port)
                : new LDAPConnection(tls.getSocketFactory(), options, host, port)) {
            if (startTls) {
                try {
                    ExtendedResult res = conn.processExtendedOperation(new StartTLSExtendedRequest(tls));
                    if (res.getResultCode() != ResultCode.SUCCESS) {
                        r.fail("TLS", "the server refused StartTLS: " + res.getDiagnosticMessage(),
                                "enable TLS on the server, or connect with LDAPS (port 636)");
                        return r;
                    }
                    r.pass("TLS", "StartTLS; certificate of " + trust.capture().subject() + " trusted ("
                            + trust.source() + ")");
                } catch (LDAPException e) {
                    NetworkCheck.tlsFailure(r, host, e, trust);
                    return r;
                }
            } else if (plain) {
                r.pass("TLS", "none: plain LDAP ({noTls}), passwords cross the network in clear");
            }
            if (!bind(r, conn, c.path("bindDN").asText(""), bindPassword)) return r;
            String userBase = c.path("userSearch").path("baseDN").asText();
            if (!baseExists(r, conn, "user base", userBase)) return r;
            JsonNode groups = c.path("groupSearch");
            if (!groups.isMissingNode() && !groups.path("baseDN").asText().equals(userBase)
                    && !baseExists(r, conn, "group base", groups.path("baseDN").asText())) return r;
            if (user != null) checkUser(r, conn, spec, user);
        } catch (LDAPException e) {
            r.fail("LDAP", "connection failed: " + e.getResultCode() + " " + e.getMessage(),
                    "check the host, port and TLS settings");
        }
        return r;
    }

    private static boolean bind(ProbeReport r, LDAPConnection conn, String bindDN, Supplier<char[]> secret) {
        if (bindDN.isBlank()) {
            r.pass("Bind", "anonymous (no bind DN)");
            return true;
        }
        char[] password = secret.get();
        if (password == null || password.length == 0) {
            r.fail("Bind", "no bind password for " + bindDN, "give the bind password");
            return false;
        }
        try {
            conn.bind(bindDN, new String(password));
            r.pass("Bind", "as " + bindDN + " accepted");
            return true;
        } catch (LDAPException e) {
            if (e.getResultCode() == ResultCode.INVALID_CREDENTIALS) {
                r.fail("Bind", "the server refused the bind as " + bindDN + " (invalid credentials)",
                        "check the bind DN and re-enter its password");
            } else if (e.getResultCode() == ResultCode.CONFIDENTIALITY_REQUIRED
                    || e.getResultCode() == ResultCode.STRONG_AUTH_REQUIRED) {
                r.fail("Bind", "the server requires TLS for binds", "use LDAPS (port 636) or {startTls}");
            } else {
                r.fail("Bind", "bind as " + bindDN + " failed: " + e.getResultCode() + " "
                        + e.getDiagnosticMessage(), "check the bind DN and the server logs");
            }
            return false;
        }
    }

    private static boolean baseExists(ProbeReport r, LDAPConnection conn, String what, String dn) {
        try {
            SearchResultEntry e = conn.getEntry(dn, "1.1");
            if (e == null) throw new LDAPException(ResultCode.NO_SUCH_OBJECT);
            r.pass("Base DN", what + " " + dn + " exists");
            return true;
        } catch (LDAPException e) {
            if (e.getResultCode() == ResultCode.NO_SUCH_OBJECT) {
                r.fail("Base DN", "the " + what + " DN " + dn + " does not exist (or the bind account cannot see it)",
                        "check {" + (what.startsWith("user") ? "user" : "group") + "BaseDN} against the directory");
            } else {
                r.fail("Base DN", "reading " + dn + " failed: " + e.getResultCode() + " " + e.getDiagnosticMessage(),
                        "check the bind account's read rights");
            }
            return false;
        }
    }

    private static void checkUser(ProbeReport r, LDAPConnection conn, IdpSpec spec, String user) {
        JsonNode us = spec.config().path("userSearch");
        String filter = "(" + us.path("username").asText() + "=" + Filter.encodeValue(user) + ")";
        if (!us.path("filter").asText("").isBlank()) filter = "(&" + us.path("filter").asText() + filter + ")";
        SearchResultEntry entry;
        try {
            SearchResult res = conn.search(us.path("baseDN").asText(), scope(us), filter);
            if (res.getEntryCount() == 0) {
                r.fail("User", "no entry matches " + filter + " under " + us.path("baseDN").asText(),
                        "check the login name, {usernameAttr}/{userFilter} and {userBaseDN}");
                return;
            }
            if (res.getEntryCount() > 1) {
                r.fail("User", res.getEntryCount() + " entries match " + filter + "; Dex needs exactly one",
                        "make {userFilter} or the login attribute unique");
                return;
            }
            entry = res.getSearchEntries().get(0);
        } catch (LDAPException e) {
            r.fail("User", "user search " + filter + " failed: " + e.getResultCode() + " " + e.getDiagnosticMessage(),
                    "check {userFilter} syntax and the bind account's read rights");
            return;
        }
        List<String> missing = new ArrayList<>();
        for (String attr : List.of("idAttr", "nameAttr", "preferredUsernameAttr", "emailAttr")) {
            String a = us.path(attr).asText("");
            if (a.isBlank() || ("emailAttr".equals(attr) && us.has("emailSuffix"))) continue;
            if (first(entry, a) == null) missing.add(a);
        }
        if (!missing.isEmpty()) {
            r.fail("User", entry.getDN() + " lacks " + String.join(", ", missing) + ": Dex refuses such logins",
                    "fill these attributes in the directory or choose other ones ({emailAttr}...)");
            return;
        }
        String email = us.has("emailSuffix") ? first(entry, us.path("nameAttr").asText()) + "@" + us.path("emailSuffix").asText()
                : first(entry, us.path("emailAttr").asText());
        r.pass("User", user + " is " + entry.getDN() + " (email " + email + ")");

        JsonNode gs = spec.config().path("groupSearch");
        List<String> groups = new ArrayList<>();
        if (!gs.isMissingNode()) {
            try {
                groups = groupsOf(conn, gs, entry);
            } catch (LDAPException e) {
                r.fail("Groups", "group search failed: " + e.getResultCode() + " " + e.getDiagnosticMessage(),
                        "check {groupFilter}, {groupMatchers} and the group base DN");
                return;
            }
            if (groups.isEmpty()) {
                r.fail("Groups", "no group found for " + entry.getDN() + " under " + gs.path("baseDN").asText(),
                        "the user can log in but gets no role through groups: check {groupBaseDN}, {groupFilter}"
                                + " and {groupMatchers} (which attribute of a group lists its members)");
            } else {
                r.pass("Groups", String.join(", ", groups));
            }
        }
        r.note("Kubernetes username: oidc:" + spec.name() + ":" + email);
        r.note("Kubernetes groups:   " + (groups.isEmpty() ? "(none)"
                : String.join(", ", groups.stream().map(g -> "oidc:" + spec.name() + ":" + g).toList())));
    }

    /** Dex's group search: one search per matcher and value of the user's userAttr. */
    private static List<String> groupsOf(LDAPConnection conn, JsonNode gs, SearchResultEntry user) throws LDAPException {
        Set<String> names = new LinkedHashSet<>();
        String nameAttr = gs.path("nameAttr").asText("cn");
        for (JsonNode m : gs.path("userMatchers")) {
            String userAttr = m.path("userAttr").asText();
            List<String> values = "dn".equalsIgnoreCase(userAttr) ? List.of(user.getDN())
                    : user.hasAttribute(userAttr) ? List.of(user.getAttributeValues(userAttr)) : List.of();
            for (String v : values) {
                String f = "(" + m.path("groupAttr").asText() + "=" + Filter.encodeValue(v) + ")";
                if (!gs.path("filter").asText("").isBlank()) f = "(&" + gs.path("filter").asText() + f + ")";
                for (SearchResultEntry g : conn.search(gs.path("baseDN").asText(), scope(gs), f, nameAttr).getSearchEntries()) {
                    String n = g.getAttributeValue(nameAttr);
                    if (n != null) names.add(n);
                }
            }
        }
        return new ArrayList<>(names);
    }

    private static SearchScope scope(JsonNode search) {
        return "one".equals(search.path("scope").asText()) ? SearchScope.ONE : SearchScope.SUB;
    }

    private static String first(SearchResultEntry e, String attr) {
        if ("dn".equalsIgnoreCase(attr)) return e.getDN();
        String v = e.getAttributeValue(attr);
        return v == null || v.isBlank() ? null : v;
    }

}
