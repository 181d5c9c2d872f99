package dexauth.pki;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dexauth.errors.Unavailable;
import java.io.IOException;
import java.io.StringReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import javax.security.auth.x500.X500Principal;
import org.bouncycastle.asn1.ASN1ObjectIdentifier;
import org.bouncycastle.asn1.x9.X9ObjectIdentifiers;
import org.bouncycastle.util.io.pem.PemObject;
import org.bouncycastle.util.io.pem.PemReader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PkiManagerTest {
    private static final ASN1ObjectIdentifier P256 = X9ObjectIdentifiers.prime256v1;

    @TempDir
    Path dir;

    private final PkiManager pki = new PkiManager();

    private PkiRequest request(List<String> serverDns, int renewBeforeDays) {
        return new PkiRequest(dir.toString(), "test-ca", 3650, List.of(
                new CertificateSpec("server", "dex.dexauth.svc", List.of(), serverDns,
                        List.of("127.0.0.1", "10.0.0.1"), CertificateSpec.Usage.SERVER, 365),
                new CertificateSpec("admin", "kubernetes-admin", List.of("system:masters"), List.of(), List.of(),
                        CertificateSpec.Usage.CLIENT, 365)),
                List.of("sa"), renewBeforeDays);
    }

    private PkiRequest request() {
        return request(List.of("dex.example.com"), 30);
    }

    /** Every file in the directory with its content. */
    private Map<String, byte[]> snapshot() throws IOException {
        Map<String, byte[]> files = new TreeMap<>();
        try (Stream<Path> list = Files.list(dir)) {
            for (Path p : list.collect(Collectors.toList())) files.put(p.getFileName().toString(), Files.readAllBytes(p));
        }
        return files;
    }

    private static void assertSameFiles(Map<String, byte[]> expected, Map<String, byte[]> actual) {
        assertEquals(expected.keySet(), actual.keySet());
        expected.forEach((name, bytes) -> assertArrayEquals(bytes, actual.get(name), name + " changed"));
    }

    private X509Certificate cert(String name) throws IOException {
        List<X509Certificate> certs = Pem.readCertificates(Files.readString(dir.resolve(name + ".crt")));
        assertEquals(1, certs.size(), name + ".crt holds one certificate");
        return certs.get(0);
    }

    private String mode(String file) throws IOException {
        return PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve(file)));
    }

    @Test
    void firstEnsureCreatesCaCertificatesAndKeyPairs() throws IOException {
        PkiManager.Result result = pki.ensure(request(), false);

        assertTrue(result.changed());
        assertEquals(List.of("ca", "server", "admin", "sa"), List.copyOf(result.changes().keySet()));
        assertEquals("created", result.changes().get("ca"));
        assertEquals(Set.of("ca.crt", "ca.key", "server.crt", "server.key", "admin.crt", "admin.key", "sa.key", "sa.pub"),
                snapshot().keySet());
    }

    @Test
    void secondEnsureChangesNothing() throws IOException {
        pki.ensure(request(), false);
        Map<String, byte[]> before = snapshot();

        PkiManager.Result again = pki.ensure(request(), false);

        assertFalse(again.changed(), () -> "unexpected changes " + again.changes());
        assertSameFiles(before, snapshot());
    }

    @Test
    void changedSansReissueOnlyThatCertificate() throws Exception {
        pki.ensure(request(), false);
        Map<String, byte[]> before = snapshot();

        PkiManager.Result result = pki.ensure(request(List.of("dex.example.com", "login.example.com"), 30), false);

        assertEquals(Set.of("server"), result.changes().keySet());
        assertTrue(result.changes().get("server").contains("SANs"), result.changes()::toString);
        Map<String, byte[]> after = snapshot();
        assertFalse(Arrays.equals(before.get("server.crt"), after.get("server.crt")), "server.crt re-issued");
        before.keySet().stream().filter(f -> !f.startsWith("server."))
                .forEach(f -> assertArrayEquals(before.get(f), after.get(f), f + " must be left alone"));
        assertTrue(cert("server").getSubjectAlternativeNames().contains(List.of(2, "login.example.com")));
    }

    @Test
    void renewalWindowLongerThanValidityReissuesLeaves() throws IOException {
        pki.ensure(request(), false);
        byte[] ca = Files.readAllBytes(dir.resolve("ca.crt"));

        PkiManager.Result result = pki.ensure(request(List.of("dex.example.com"), 400), false);

        assertEquals(Set.of("server", "admin"), result.changes().keySet());
        result.changes().values().forEach(r -> assertTrue(r.contains("renewal window"), r));
        assertArrayEquals(ca, Files.readAllBytes(dir.resolve("ca.crt")), "the CA is kept");
    }

    @Test
    void dryRunReportsButWritesNothing() throws IOException {
        PkiManager.Result result = pki.ensure(request(), true);

        assertEquals(Set.of("ca", "server", "admin", "sa"), result.changes().keySet());
        assertEquals(Map.of(), snapshot());
    }

    @Test
    void dryRunOfAChangeLeavesFilesAlone() throws IOException {
        pki.ensure(request(), false);
        Map<String, byte[]> before = snapshot();

        PkiManager.Result result = pki.ensure(request(List.of("login.example.com"), 30), true);

        assertEquals(Set.of("server"), result.changes().keySet());
        assertSameFiles(before, snapshot());
    }

    @Test
    void privateKeysAre0600AndPublicFiles0644() throws IOException {
        pki.ensure(request(), false);
        for (String key : List.of("ca.key", "server.key", "admin.key", "sa.key")) assertEquals("rw-------", mode(key), key);
        for (String pub : List.of("ca.crt", "server.crt", "admin.crt", "sa.pub")) assertEquals("rw-r--r--", mode(pub), pub);
    }

    @Test
    void serverCertificateVerifiesAndCarriesRequestedSans() throws Exception {
        pki.ensure(request(), false);
        X509Certificate ca = cert("ca");
        X509Certificate server = cert("server");

        server.verify(ca.getPublicKey()); // throws if not signed by the CA
        assertEquals(ca.getSubjectX500Principal(), server.getIssuerX500Principal());
        assertEquals(Set.of(List.of(2, "dex.example.com"), List.of(7, "127.0.0.1"), List.of(7, "10.0.0.1")),
                Set.copyOf(server.getSubjectAlternativeNames()));
        assertEquals(List.of("1.3.6.1.5.5.7.3.1"), server.getExtendedKeyUsage()); // serverAuth
    }

    @Test
    void clientCertificateCarriesItsOrganization() throws Exception {
        pki.ensure(request(), false);
        X509Certificate admin = cert("admin");

        admin.verify(cert("ca").getPublicKey());
        String subject = admin.getSubjectX500Principal().getName(X500Principal.RFC2253);
        assertTrue(subject.contains("O=system:masters"), subject);
        assertTrue(subject.contains("CN=kubernetes-admin"), subject);
        assertEquals(List.of("1.3.6.1.5.5.7.3.2"), admin.getExtendedKeyUsage()); // clientAuth
    }

    @Test
    void writtenKeyIsACompleteEcPrivateKeyMatchingItsCertificate() throws Exception {
        pki.ensure(request(), false);
        String pem = Files.readString(dir.resolve("server.key"));
        X509Certificate server = cert("server");

        PemObject object;
        try (PemReader reader = new PemReader(new StringReader(pem))) {
            object = reader.readPemObject();
        }
        assertEquals("EC PRIVATE KEY", object.getType());
        var ec = org.bouncycastle.asn1.sec.ECPrivateKey.getInstance(object.getContent());
        assertEquals(P256, ec.getParametersObject(), "the curve is named in the key");
        assertNotNull(ec.getPublicKey(), "the public point is in the key");
        assertArrayEquals(server.getPublicKey().getEncoded(),
                new org.bouncycastle.asn1.x509.SubjectPublicKeyInfo(
                        new org.bouncycastle.asn1.x509.AlgorithmIdentifier(X9ObjectIdentifiers.id_ecPublicKey, P256),
                        ec.getPublicKey().getBytes()).getEncoded(),
                "the embedded public point is the certificate's");

        PrivateKey key = Pem.readPrivateKey(pem);
        assertInstanceOf(java.security.interfaces.ECPrivateKey.class, key);
        assertTrue(Pem.keyMatches(key, server));
        assertFalse(Pem.keyMatches(key, cert("admin")), "keyMatches must tell keys apart");
    }

    @Test
    void swappedKeyIsReissued() throws IOException {
        pki.ensure(request(), false);
        Files.copy(dir.resolve("admin.key"), dir.resolve("server.key"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);

        PkiManager.Result result = pki.ensure(request(), false);

        assertEquals(Map.of("server", "re-issued (key does not match)"), result.changes());
        assertTrue(Pem.keyMatches(Pem.readPrivateKey(Files.readString(dir.resolve("server.key"))), cert("server")));
    }

    @Test
    void caKeyNotMatchingItsCertificateIsAnError() throws IOException {
        pki.ensure(request(), false);
        Files.copy(dir.resolve("admin.key"), dir.resolve("ca.key"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);

        Unavailable e = assertThrows(Unavailable.class, () -> pki.ensure(request(), false));
        assertEquals(Unavailable.Dependency.FILESYSTEM, e.dependency());
        assertTrue(e.getMessage().contains("does not belong to"), e::getMessage);
    }
}
