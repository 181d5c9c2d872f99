package dexauth.pki;

import java.net.InetAddress;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

import javax.security.auth.x500.X500Principal;

/** Decides whether an existing certificate still satisfies its spec. Pure logic. */
public final class CertificateCheck {
    private CertificateCheck() {}

    /** Empty when the certificate can be kept; otherwise why it must be re-issued. */
    public static Optional<String> reasonToReissue(X509Certificate cert, CertificateSpec spec,
                                                   X509Certificate ca, Duration renewBefore, Instant now) {
        try {
            cert.verify(ca.getPublicKey());
        } catch (Exception e) {
            return Optional.of("not signed by the current CA");
        }
        if (now.isAfter(cert.getNotAfter().toInstant())) return Optional.of("expired");
        if (now.plus(renewBefore).isAfter(cert.getNotAfter().toInstant())) {
            return Optional.of("expires " + cert.getNotAfter().toInstant() + ", inside the renewal window of "
                    + renewBefore.toDays() + " days");
        }
        if (!subjectOf(spec).equals(cert.getSubjectX500Principal())) {
            return Optional.of("subject changed");
        }
        Set<String> wantDns = new TreeSet<>(spec.dnsNames());
        Set<String> wantIp = new TreeSet<>();
        for (String ip : spec.ipAddresses()) wantIp.add(canonicalIp(ip));
        Set<String> haveDns = new TreeSet<>();
        Set<String> haveIp = new TreeSet<>();
        try {
            Collection<List<?>> sans = cert.getSubjectAlternativeNames();
            if (sans != null) {
                for (List<?> san : sans) {
                    int type = (Integer) san.get(0);
                    if (type == 2) haveDns.add((String) san.get(1));
                    if (type == 7) haveIp.add(canonicalIp((String) san.get(1)));
                }
            }
        } catch (CertificateParsingException e) {
            return Optional.of("unreadable subject alternative names");
        }
        if (!wantDns.equals(haveDns) || !wantIp.equals(haveIp)) {
            return Optional.of("SANs changed (have DNS " + haveDns + " IP " + haveIp
                    + ", want DNS " + wantDns + " IP " + wantIp + ")");
        }
        if (!usageMatches(cert, spec.usage())) return Optional.of("key usage changed");
        return Optional.empty();
    }

    static X500Principal subjectOf(CertificateSpec spec) {
        // Same RDN order as CertificateAuthority.issue: O values first, then CN.
        var builder = new org.bouncycastle.asn1.x500.X500NameBuilder(org.bouncycastle.asn1.x500.style.BCStyle.INSTANCE);
        for (String o : spec.organizations()) builder.addRDN(org.bouncycastle.asn1.x500.style.BCStyle.O, o);
        builder.addRDN(org.bouncycastle.asn1.x500.style.BCStyle.CN, spec.commonName());
        try {
            return new X500Principal(builder.build().getEncoded());
        } catch (java.io.IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static boolean usageMatches(X509Certificate cert, CertificateSpec.Usage usage) {
        try {
            List<String> eku = cert.getExtendedKeyUsage();
            List<String> want = new ArrayList<>();
            if (usage != CertificateSpec.Usage.CLIENT) want.add("1.3.6.1.5.5.7.3.1");
            if (usage != CertificateSpec.Usage.SERVER) want.add("1.3.6.1.5.5.7.3.2");
            return eku != null && new TreeSet<>(eku).equals(new TreeSet<>(want));
        } catch (CertificateParsingException e) {
            return false;
        }
    }

    private static String canonicalIp(String ip) {
        try {
            return InetAddress.getByAddress(IpAddresses.toBytes(ip)).getHostAddress();
        } catch (Exception e) {
            return ip;
        }
    }
}
