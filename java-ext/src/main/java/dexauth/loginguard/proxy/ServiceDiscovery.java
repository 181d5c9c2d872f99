package dexauth.loginguard.proxy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.net.URI;
import java.util.Locale;

/**
 * Dex's discovery document as kube-apiserver gets it over Dex's Service. Dex names its keys
 * {@code <issuer>/keys}, so without this kube-apiserver would fetch them through whatever answers
 * for the issuer's host (an Ingress); asked at the Service's address, the document names the keys
 * at that address too, and discovery and keys both come from Dex's own pod.
 */
final class ServiceDiscovery {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** https://host:port/path of Dex at its Service; null when Dex has no fixed Service address. */
    private final URI serviceUrl;
    private final String documentPath;

    ServiceDiscovery(String serviceUrl, String issuerPath) {
        this.serviceUrl = serviceUrl == null || serviceUrl.isBlank() ? null : URI.create(serviceUrl.replaceAll("/+$", ""));
        this.documentPath = issuerPath + "/.well-known/openid-configuration";
    }

    /** A request for the discovery document addressed to the Service (by its Host header)? */
    boolean applies(String method, String path, String hostHeader) {
        return serviceUrl != null && "GET".equals(method) && documentPath.equals(path)
                && hostHeader != null && sameHost(hostHeader, serviceUrl.getHost());
    }

    /** Dex's answer with jwks_uri moved from the issuer to the Service; anything else unchanged. */
    Answer rewrite(Answer dex) {
        if (dex.status() != 200) return dex;
        try {
            JsonNode doc = JSON.readTree(dex.body());
            if (!(doc instanceof ObjectNode o) || !doc.path("issuer").isTextual() || !doc.path("jwks_uri").isTextual()) return dex;
            String issuer = doc.get("issuer").asText().replaceAll("/+$", "");
            String keys = doc.get("jwks_uri").asText();
            if (!keys.startsWith(issuer + "/")) return dex;
            o.put("jwks_uri", serviceUrl + keys.substring(issuer.length()));
            return new Answer(dex.status(), dex.headers(), JSON.writeValueAsBytes(o));
        } catch (IOException e) {
            return dex;
        }
    }

    /** Host header "h", "h:port", "[v6]" or "[v6]:port" against a URI host ("[v6]" or a name/IPv4). */
    static boolean sameHost(String hostHeader, String host) {
        String h = hostHeader.trim().toLowerCase(Locale.ROOT);
        if (h.startsWith("[")) {
            int end = h.indexOf(']');
            h = end < 0 ? h : h.substring(0, end + 1);
        } else if (h.indexOf(':') >= 0) {
            h = h.substring(0, h.indexOf(':'));
        }
        return h.equals(host.toLowerCase(Locale.ROOT));
    }
}
