package dexauth.pki;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dexauth.errors.Invalid;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class CertificateCheckTest {
    private static final CertificateAuthority CA = CertificateAuthority.create("test-ca", 3650);
    private static final Duration RENEW_BEFORE = Duration.ofDays(30);

    private static CertificateSpec server(List<String> dns, List<String> ips, int validityDays) {
        return new CertificateSpec("server", "dex.dexauth.svc", List.of(), dns, ips,
                CertificateSpec.Usage.SERVER, validityDays);
    }

    private static final CertificateSpec SERVER = server(List.of("dex.example.com"), List.of("127.0.0.1"), 365);

    private static X509Certificate issue(CertificateAuthority ca, CertificateSpec spec) {
        return ca.issue(spec, CertificateAuthority.newKeyPair().getPublic());
    }

    private static Optional<String> check(X509Certificate cert, CertificateSpec spec) {
        return CertificateCheck.reasonToReissue(cert, spec, CA.certificate(), RENEW_BEFORE, Instant.now());
    }

    @Test
    void certificateMatchingItsSpecIsKept() {
        assertEquals(Optional.empty(), check(issue(CA, SERVER), SERVER));
    }

    @Test
    void changedDnsSanIsReissued() {
        X509Certificate cert = issue(CA, SERVER);
        String reason = check(cert, server(List.of("dex.example.org"), List.of("127.0.0.1"), 365)).orElseThrow();
        assertTrue(reason.contains("SANs"), reason);
        assertTrue(reason.contains("dex.example.org"), reason);
    }

    @Test
    void addedIpSanIsReissued() {
        X509Certificate cert = issue(CA, SERVER);
        String reason = check(cert, server(List.of("dex.example.com"), List.of("127.0.0.1", "10.0.0.1"), 365))
                .orElseThrow();
        assertTrue(reason.contains("SANs"), reason);
    }

    @Test
    void ipv6SpellingDoesNotCountAsAChange() {
        X509Certificate cert = issue(CA, server(List.of(), List.of("::1"), 365));
        assertEquals(Optional.empty(), check(cert, server(List.of(), List.of("0:0:0:0:0:0:0:1"), 365)));
    }

    @Test
    void certificateInsideTheRenewalWindowIsReissued() {
        X509Certificate cert = issue(CA, server(List.of("dex.example.com"), List.of("127.0.0.1"), 10));
        String reason = check(cert, SERVER).orElseThrow();
        assertTrue(reason.contains("renewal window"), reason);
    }

    @Test
    void expiredCertificateIsReissued() {
        X509Certificate cert = issue(CA, SERVER);
        Instant later = cert.getNotAfter().toInstant().plus(Duration.ofDays(1));
        assertEquals(Optional.of("expired"),
                CertificateCheck.reasonToReissue(cert, SERVER, CA.certificate(), RENEW_BEFORE, later));
    }

    @Test
    void certificateFromAnotherCaIsReissued() {
        X509Certificate foreign = issue(CertificateAuthority.create("other-ca", 3650), SERVER);
        assertEquals(Optional.of("not signed by the current CA"), check(foreign, SERVER));
    }

    @Test
    void changedOrganizationIsASubjectChange() {
        CertificateSpec admin = new CertificateSpec("admin", "admin", List.of("system:masters"), List.of(), List.of(),
                CertificateSpec.Usage.CLIENT, 365);
        CertificateSpec viewer = new CertificateSpec("admin", "admin", List.of("viewers"), List.of(), List.of(),
                CertificateSpec.Usage.CLIENT, 365);
        X509Certificate cert = issue(CA, admin);
        assertEquals(Optional.empty(), check(cert, admin));
        assertEquals(Optional.of("subject changed"), check(cert, viewer));
    }

    @Test
    void changedUsageIsReissued() {
        X509Certificate cert = issue(CA, SERVER);
        CertificateSpec both = new CertificateSpec("server", "dex.dexauth.svc", List.of(), List.of("dex.example.com"),
                List.of("127.0.0.1"), CertificateSpec.Usage.BOTH, 365);
        assertEquals(Optional.of("key usage changed"), check(cert, both));
    }

    @Test
    void specRejectsAnInvalidIpNamingIt() {
        Invalid e = assertThrows(Invalid.class, () -> server(List.of(), List.of("10.0.0.300"), 365));
        assertEquals("ipAddresses", e.field());
        assertTrue(e.getMessage().contains("'10.0.0.300'"), e::getMessage);
    }

    @Test
    void specRejectsAnInvalidDnsNameNamingIt() {
        Invalid e = assertThrows(Invalid.class, () -> server(List.of("bad_name!"), List.of(), 365));
        assertEquals("dnsNames", e.field());
        assertTrue(e.getMessage().contains("'bad_name!'"), e::getMessage);
    }

    @Test
    void specDoesNotTakeHostNamesAsIps() {
        // ipAddresses takes literals only: a host name there must not be resolved or accepted.
        assertThrows(Invalid.class, () -> server(List.of(), List.of("localhost"), 365));
    }

    @Test
    void specAcceptsWildcardDnsAndIpv6() {
        CertificateSpec spec = server(List.of("*.apps.example.com"), List.of("fd00::10"), 365);
        assertEquals(List.of("*.apps.example.com"), spec.dnsNames());
    }
}
