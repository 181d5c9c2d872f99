package dexauth.idp.ldap;

import com.fasterxml.jackson.databind.JsonNode;
import dexauth.errors.Invalid;
import dexauth.idp.ConfigChecks;
import dexauth.idp.IdpKind;
import dexauth.idp.IdpSpec;
import dexauth.idp.ProbeReport;

import java.util.function.Supplier;

/** What LDAP and Active Directory share: Dex's LDAP connector, its checks and the probe. */
public abstract class DirectoryKind implements IdpKind {
    @Override public String dexType() { return "ldap"; }

    @Override public String secretField() { return "bindPW"; }

    @Override public String secretLabel() { return "bind password"; }

    /** Without a bind DN, Dex binds anonymously and needs no password. */
    @Override
    public boolean hasSecret(JsonNode config) { return !config.path("bindDN").asText().isBlank(); }

    @Override
    public void validate(String key, JsonNode config) {
        String host = ConfigChecks.required(key, config, "host");
        int colon = host.lastIndexOf(':');
        if (colon <= 0 || !host.substring(colon + 1).matches("\\d{1,5}")
                || Integer.parseInt(host.substring(colon + 1)) > 65535) {
            throw new Invalid(key + ":host", "'" + host + "' must be host:port, e.g. ldap.example.com:636");
        }
        if (config.path("insecureNoSSL").asBoolean(false) && config.path("startTLS").asBoolean(false)) {
            throw new Invalid(key + ":startTLS", "cannot be combined with insecureNoSSL");
        }
        JsonNode users = config.path("userSearch");
        ConfigChecks.required(key + ":userSearch", users, "baseDN");
        ConfigChecks.required(key + ":userSearch", users, "username");
        if (users.path("emailAttr").asText("").isBlank() && users.path("emailSuffix").asText("").isBlank()) {
            throw new Invalid(key + ":userSearch:emailAttr", "is required (or emailSuffix): Kubernetes"
                    + " usernames are email addresses");
        }
        JsonNode groups = config.path("groupSearch");
        if (!groups.isMissingNode()) {
            ConfigChecks.required(key + ":groupSearch", groups, "baseDN");
            JsonNode matchers = groups.path("userMatchers");
            if (!matchers.isArray() || matchers.isEmpty()) {
                throw new Invalid(key + ":groupSearch:userMatchers", "needs at least one {userAttr, groupAttr}");
            }
        }
        ConfigChecks.pemData(key, config, "rootCAData");
    }

    /** DNS, TCP, TLS, the bind, the base DNs; with a user, Dex's user and group searches. */
    @Override
    public ProbeReport check(IdpSpec spec, Supplier<char[]> secret, String user) {
        return LdapProbe.run(spec, secret, user);
    }

    @Override
    public String server(JsonNode c) {
        String scheme = c.path("insecureNoSSL").asBoolean() ? "ldap://" : c.path("startTLS").asBoolean() ? "ldap+starttls://" : "ldaps://";
        return scheme + c.path("host").asText();
    }
}
