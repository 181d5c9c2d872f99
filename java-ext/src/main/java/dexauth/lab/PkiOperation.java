package dexauth.lab;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dexauth.engine.Engine;
import dexauth.errors.Invalid;
import dexauth.pki.CertificateSpec;
import dexauth.pki.PkiManager;
import dexauth.pki.PkiRequest;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * {@code pki.ensure}: keeps a certificate directory as requested (the lab's cluster PKI).
 * <pre>{"dir": "...", "caCommonName": "...", "renewBeforeDays": 30,
 *  "certificates": [{"name": "server", "commonName": "...", "dnsNames": [], "ipAddresses": [],
 *                    "organizations": [], "usage": "server|client|both", "validityDays": 365}],
 *  "keyPairs": ["sa"]}</pre>
 */
final class PkiOperation implements Engine.Operation {
    @Override
    public ObjectNode apply(JsonNode req, boolean dryRun) throws Exception {
        List<CertificateSpec> certs = new ArrayList<>();
        for (JsonNode c : req.path("certificates")) {
            certs.add(new CertificateSpec(text(c, "name"), text(c, "commonName"), strings(c.path("organizations")),
                    strings(c.path("dnsNames")), strings(c.path("ipAddresses")),
                    CertificateSpec.Usage.valueOf(c.path("usage").asText("server").toUpperCase(Locale.ROOT)),
                    c.path("validityDays").asInt(365)));
        }
        PkiRequest request = new PkiRequest(text(req, "dir"), req.path("caCommonName").asText(null),
                req.path("caValidityDays").asInt(3650), certs, strings(req.path("keyPairs")),
                req.path("renewBeforeDays").asInt(30));
        PkiManager.Result result = new PkiManager().ensure(request, dryRun);
        ObjectNode reply = LabTools.JSON.createObjectNode();
        ObjectNode changes = reply.putObject("changes");
        result.changes().forEach(changes::put);
        return reply;
    }

    static String text(JsonNode node, String field) {
        JsonNode v = node.get(field);
        if (v == null || v.asText().isBlank()) throw new Invalid(field, "'" + field + "' is required");
        return v.asText();
    }

    static List<String> strings(JsonNode array) {
        List<String> out = new ArrayList<>();
        if (array.isArray()) array.forEach(n -> out.add(n.asText()));
        return out;
    }
}
