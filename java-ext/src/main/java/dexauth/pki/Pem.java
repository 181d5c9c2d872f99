package dexauth.pki;

import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;

import java.io.IOException;
import java.io.StringReader;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.PrivateKey;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;

import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;

/** PEM encoding and the file writes around it (atomic, private keys 0600). */
public final class Pem {
    private Pem() {}

    public static String encode(Object object) {
        StringWriter out = new StringWriter();
        try (JcaPEMWriter writer = new JcaPEMWriter(out)) {
            // Private keys go out in the traditional form ("EC PRIVATE KEY"): every consumer
            // here (Go, Python ssl, fabric8) reads it, while fabric8 misreads PKCS#8 EC keys.
            writer.writeObject(object);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toString();
    }

    public static List<X509Certificate> readCertificates(String pem) throws IOException {
        List<X509Certificate> certs = new ArrayList<>();
        try (PEMParser parser = new PEMParser(new StringReader(pem))) {
            Object o;
            while ((o = parser.readObject()) != null) {
                if (o instanceof X509CertificateHolder holder) {
                    certs.add(new JcaX509CertificateConverter().getCertificate(holder));
                }
            }
        } catch (CertificateException e) {
            throw new IOException("not a valid certificate: " + e.getMessage(), e);
        }
        return certs;
    }

    public static PrivateKey readPrivateKey(String pem) throws IOException {
        try (PEMParser parser = new PEMParser(new StringReader(pem))) {
            Object o = parser.readObject();
            JcaPEMKeyConverter converter = new JcaPEMKeyConverter();
            if (o instanceof PrivateKeyInfo info) return converter.getPrivateKey(info);
            if (o instanceof PEMKeyPair pair) return converter.getKeyPair(pair).getPrivate();
            throw new IOException("no private key found");
        }
    }

    /** True when the private key belongs to the certificate (proved by a signature, not by parsing). */
    public static boolean keyMatches(PrivateKey key, X509Certificate cert) {
        try {
            String alg = key.getAlgorithm().equals("EC") ? "SHA256withECDSA" : "SHA256withRSA";
            byte[] probe = "dexauth key check".getBytes(java.nio.charset.StandardCharsets.UTF_8);
            var signer = java.security.Signature.getInstance(alg);
            signer.initSign(key);
            signer.update(probe);
            byte[] sig = signer.sign();
            var verifier = java.security.Signature.getInstance(alg);
            verifier.initVerify(cert.getPublicKey());
            verifier.update(probe);
            return verifier.verify(sig);
        } catch (java.security.GeneralSecurityException e) {
            return false;
        }
    }

    /** Writes a public file (0644) atomically. */
    public static void writePublic(Path file, String content) throws IOException {
        write(file, content, "rw-r--r--");
    }

    /** Writes a private key (0600) atomically; the key is never world-readable, even briefly. */
    public static void writePrivate(Path file, String content) throws IOException {
        write(file, content, "rw-------");
    }

    private static void write(Path file, String content, String mode) throws IOException {
        Files.createDirectories(file.toAbsolutePath().getParent());
        Path tmp = file.resolveSibling("." + file.getFileName() + ".tmp");
        Files.deleteIfExists(tmp);
        Files.createFile(tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString(mode)));
        // The umask may have narrowed the mode at creation: set it exactly.
        Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString(mode));
        Files.writeString(tmp, content, StandardOpenOption.TRUNCATE_EXISTING);
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }
}
