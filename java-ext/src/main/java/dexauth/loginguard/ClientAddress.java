package dexauth.loginguard;

import java.util.Collection;

/** The address a request comes from, as limits count it. */
public final class ClientAddress {
    private ClientAddress() {}

    /**
     * The connection's address, or, when that is a trusted proxy (the ingress controller), the
     * last address it added to X-Forwarded-For: earlier entries are the client's to invent.
     */
    public static String of(String remote, String forwardedFor, Collection<String> trustedProxies) {
        if (forwardedFor == null || forwardedFor.isBlank() || !trustedProxies.contains(remote)) return remote;
        String[] hops = forwardedFor.split(",");
        return hops[hops.length - 1].trim();
    }
}
