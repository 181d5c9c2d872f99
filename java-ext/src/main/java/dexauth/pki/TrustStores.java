package dexauth.pki;

import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.List;

/** Builds TLS contexts that trust exactly one CA file (never "trust all"). */
public final class TrustStores {
    private TrustStores() {}

    public static SSLContext trusting(Path caFile) throws IOException {
        return context(caFile, null, null);
    }

    /** Mutual TLS: trusts {@code caFile} and presents the client certificate. */
    public static SSLContext context(Path caFile, Path clientCert, Path clientKey) throws IOException {
        try {
            SSLContext ctx = SSLContext.getInstance("TLS");
            KeyManagerFactory kmf = null;
            if (clientCert != null) {
                kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
                kmf.init(keyStore(clientCert, clientKey), new char[0]);
            }
            ctx.init(kmf == null ? null : kmf.getKeyManagers(), trustManagers(caFile), null);
            return ctx;
        } catch (GeneralSecurityException e) {
            throw new IOException("cannot build a TLS context from " + caFile + ": " + e.getMessage(), e);
        }
    }

    /** A key store (empty password) holding one key and its certificate chain, read from PEM files. */
    public static KeyStore keyStore(Path certFile, Path keyFile) throws IOException, GeneralSecurityException {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        List<X509Certificate> chain = Pem.readCertificates(Files.readString(certFile));
        PrivateKey key = Pem.readPrivateKey(Files.readString(keyFile));
        ks.setKeyEntry("key", key, new char[0], chain.toArray(X509Certificate[]::new));
        return ks;
    }

    /** Trusts exactly the CA certificates of a PEM text (e.g. embedded in a kubeconfig). */
    public static SSLContext trustingPem(String caPem) throws IOException {
        try {
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(null, trustManagers(caPem, "the CA data"), null);
            return ctx;
        } catch (GeneralSecurityException e) {
            throw new IOException("cannot build a TLS context from the CA data: " + e.getMessage(), e);
        }
    }

    public static javax.net.ssl.TrustManager[] trustManagers(Path caFile) throws IOException, GeneralSecurityException {
        if (caFile == null || !Files.isReadable(caFile)) {
            throw new IOException("CA file " + caFile + " is missing or unreadable");
        }
        return trustManagers(Files.readString(caFile), caFile.toString());
    }

    private static javax.net.ssl.TrustManager[] trustManagers(String pem, String source)
            throws IOException, GeneralSecurityException {
        KeyStore ts = KeyStore.getInstance("PKCS12");
        ts.load(null, null);
        int i = 0;
        for (X509Certificate c : Pem.readCertificates(pem)) ts.setCertificateEntry("ca" + i++, c);
        if (i == 0) throw new IOException(source + " holds no certificate");
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(ts);
        return tmf.getTrustManagers();
    }
}
