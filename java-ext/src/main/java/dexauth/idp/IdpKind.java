package dexauth.idp;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.net.URI;
import java.util.function.Supplier;

/**
 * One kind of upstream identity provider, as Dex's {@code connector/} packages each own one:
 * its settings ({@link IdpSettings}), the checks of its Dex connector config as kept in pillar,
 * what Dex needs beyond that config, the connection checks and how it is described. The kinds
 * are listed in {@link IdpKinds} only.
 */
public interface IdpKind {
    /** The pillar {@code type} and the word operators use, e.g. {@code ldap}. */
    String id();

    /** The {@code type} of the Dex connector. */
    String dexType();

    /** The connector config field that holds the secret (bind password or client secret). */
    String secretField();

    /** What the secret is called in messages. */
    String secretLabel();

    /** Whether an IdP of this kind with {@code config} has a secret (anonymous LDAP binds have none). */
    default boolean hasSecret(JsonNode config) { return true; }

    /**
     * Checks a connector config as kept in pillar; {@link dexauth.errors.Invalid} names the key
     * under {@code key} (e.g. {@code dexauth:idps:corp:config}) that is wrong.
     */
    void validate(String key, JsonNode config);

    /** Adds what Dex needs beyond the pillar config (e.g. the callback URL) to a copy of it. */
    default void complete(ObjectNode connectorConfig, URI dexIssuer) {}

    /**
     * Checks that Dex will be able to use the IdP, step by step; {@code secret} is asked only
     * when a step needs it, {@code user} (may be null) is a login to look up where the kind can.
     */
    ProbeReport check(IdpSpec spec, Supplier<char[]> secret, String user);

    /**
     * Whether anyone with an account may create a group of any name there (GitLab, GitHub): such
     * an IdP's groups never inherit a grant made for a group name alone (see GroupGrants' migration).
     */
    default boolean groupsOpenToAnyone() { return false; }

    /** Where the IdP is, for a listing: a URL or {@code ldaps://host:port}. */
    String server(JsonNode config);
}
