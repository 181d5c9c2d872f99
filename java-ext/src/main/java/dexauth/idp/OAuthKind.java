package dexauth.idp;

import com.fasterxml.jackson.databind.node.ObjectNode;

import java.net.URI;

/** What the OAuth2 kinds share: a client secret, and Dex's callback URL as their redirect URI. */
public abstract class OAuthKind implements IdpKind {
    /** Dex's connector types carry the same names as these kinds. */
    @Override public String dexType() { return id(); }

    @Override public String secretField() { return "clientSecret"; }

    @Override public String secretLabel() { return "client secret"; }

    /** The provider sends the browser back to Dex's callback URL. */
    @Override
    public void complete(ObjectNode connectorConfig, URI dexIssuer) {
        connectorConfig.put("redirectURI", dexIssuer.toString().replaceAll("/$", "") + "/callback");
    }
}
