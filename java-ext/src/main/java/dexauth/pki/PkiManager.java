package dexauth.pki;

import dexauth.errors.Unavailable;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Keeps a directory of CA, leaf certificates and key pairs matching a {@link PkiRequest}.
 * Valid files are left untouched, so applying the same request twice changes nothing.
 */
public final class PkiManager {

    /** What was (or, in a dry run, would be) changed, by file stem. Empty means nothing to do. */
    public record Result(Map<String, String> changes) {
        public boolean changed() { return !changes.isEmpty(); }
    }

    public Result ensure(PkiRequest request, boolean dryRun) throws IOException {
        Path dir = Path.of(request.dir());
        Map<String, String> changes = new LinkedHashMap<>();
        CertificateAuthority ca = loadCa(dir).orElse(null);
        if (ca == null) {
            changes.put("ca", "created");
            if (!dryRun) {
                ca = CertificateAuthority.create(request.caCommonName(), request.caValidityDays());
                Pem.writePrivate(dir.resolve("ca.key"), Pem.encode(ca.key()));
                Pem.writePublic(dir.resolve("ca.crt"), Pem.encode(ca.certificate()));
            }
        }
        Duration renewBefore = Duration.ofDays(request.renewBeforeDays());
        for (CertificateSpec spec : request.certificates()) {
            Optional<String> reason = ca == null ? Optional.of("issued by the new CA")
                    : reasonFor(dir, spec, ca, renewBefore);
            if (reason.isEmpty()) continue;
            changes.put(spec.name(), reason.get());
            if (!dryRun) {
                KeyPair pair = CertificateAuthority.newKeyPair();
                X509Certificate cert = ca.issue(spec, pair.getPublic());
                Pem.writePrivate(dir.resolve(spec.name() + ".key"), Pem.encode(pair.getPrivate()));
                Pem.writePublic(dir.resolve(spec.name() + ".crt"), Pem.encode(cert));
            }
        }
        for (String name : request.keyPairs()) {
            if (Files.exists(dir.resolve(name + ".key")) && Files.exists(dir.resolve(name + ".pub"))) continue;
            changes.put(name, "key pair created");
            if (!dryRun) {
                KeyPair pair = CertificateAuthority.newKeyPair();
                Pem.writePrivate(dir.resolve(name + ".key"), Pem.encode(pair.getPrivate()));
                Pem.writePublic(dir.resolve(name + ".pub"), Pem.encode(pair.getPublic()));
            }
        }
        return new Result(changes);
    }

    private static Optional<CertificateAuthority> loadCa(Path dir) throws IOException {
        Path crt = dir.resolve("ca.crt");
        Path key = dir.resolve("ca.key");
        if (!Files.exists(crt) || !Files.exists(key)) return Optional.empty();
        List<X509Certificate> certs = Pem.readCertificates(Files.readString(crt));
        if (certs.isEmpty()) {
            throw new Unavailable(Unavailable.Dependency.FILESYSTEM, crt + " holds no certificate; move it away to create a new CA", null);
        }
        PrivateKey pk = Pem.readPrivateKey(Files.readString(key));
        if (!Pem.keyMatches(pk, certs.get(0))) {
            throw new Unavailable(Unavailable.Dependency.FILESYSTEM, key + " does not belong to " + crt + "; restore the matching pair", null);
        }
        return Optional.of(new CertificateAuthority(certs.get(0), pk));
    }

    private static Optional<String> reasonFor(Path dir, CertificateSpec spec, CertificateAuthority ca,
                                              Duration renewBefore) throws IOException {
        Path crt = dir.resolve(spec.name() + ".crt");
        Path key = dir.resolve(spec.name() + ".key");
        if (!Files.exists(crt) || !Files.exists(key)) return Optional.of("issued (missing)");
        List<X509Certificate> certs;
        PrivateKey pk;
        try {
            certs = Pem.readCertificates(Files.readString(crt));
            pk = Pem.readPrivateKey(Files.readString(key));
        } catch (IOException e) {
            return Optional.of("re-issued (unreadable: " + e.getMessage() + ")");
        }
        if (certs.isEmpty()) return Optional.of("re-issued (no certificate in file)");
        if (!Pem.keyMatches(pk, certs.get(0))) return Optional.of("re-issued (key does not match)");
        return CertificateCheck.reasonToReissue(certs.get(0), spec, ca.certificate(), renewBefore, Instant.now())
                .map(r -> "re-issued (" + r + ")");
    }
}
