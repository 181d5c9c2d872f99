package dexauth.idp;

import com.fasterxml.jackson.databind.JsonNode;
import dexauth.errors.Causes;
import dexauth.pki.Pem;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509TrustManager;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NoRouteToHostException;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.util.Base64;
import java.util.List;

/** The network steps every IdP check starts with: DNS, TCP, then a verified TLS handshake. */
public final class NetworkCheck {
    public static final int TIMEOUT_MS = 5000;

    private NetworkCheck() {}

    /** Resolves {@code host}; false (and a failed step) when it does not resolve. */
    public static boolean dns(ProbeReport r, String host) {
        try {
            InetAddress[] all = InetAddress.getAllByName(host);
            r.pass("DNS", host + " resolves to " + all[0].getHostAddress());
            return true;
        } catch (UnknownHostException e) {
            r.fail("DNS", "cannot resolve " + host, "check the host name, or the node's DNS and /etc/hosts");
            return false;
        }
    }

    public static boolean tcp(ProbeReport r, String host, int port) {
        long start = System.nanoTime();
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress(host, port), TIMEOUT_MS);
            r.pass("TCP", host + ":" + port + " accepts connections (" + (System.nanoTime() - start) / 1_000_000 + " ms)");
            return true;
        } catch (SocketTimeoutException e) {
            r.fail("TCP", "no answer from " + host + ":" + port + " within " + TIMEOUT_MS / 1000 + " s",
                    "a firewall may drop the traffic, or the host or port is wrong");
        } catch (NoRouteToHostException e) {
            r.fail("TCP", "no route to " + host, "check the address and the network between this node and the server");
        } catch (IOException e) {
            r.fail("TCP", "connection to " + host + ":" + port + " refused",
                    "nothing listens there: check the port (LDAPS is usually 636, LDAP with StartTLS 389, HTTPS 443)"
                            + " and that the server runs");
        }
        return false;
    }

    /** What a probe trusts: the TLS context, the trust manager that sees the server's certificate, and its source. */
    public record Trust(SSLContext context, CapturingTrust capture, String source) {}

    /**
     * The trust an IdP's config asks for: its CA (rootCAData, or rootCAs as PEM) or the system CAs.
     * Null, with a failed TLS step, when the CA cannot be read.
     */
    public static Trust trust(ProbeReport r, JsonNode config) {
        String caPem = caPem(config);
        CapturingTrust capture = new CapturingTrust();
        try {
            return new Trust(context(caPem, capture), capture, caPem == null ? "the system CAs" : "the given CA file");
        } catch (IOException | GeneralSecurityException | RuntimeException e) {
            r.fail("TLS", "cannot read the CA certificate: " + Causes.messages(e), "give a PEM CA file");
            return null;
        }
    }

    private static String caPem(JsonNode c) {
        if (c.has("rootCAData")) {
            return new String(Base64.getDecoder().decode(c.path("rootCAData").asText()), StandardCharsets.US_ASCII);
        }
        JsonNode cas = c.path("rootCAs");
        if (cas.isArray() && !cas.isEmpty()) {
            StringBuilder b = new StringBuilder();
            cas.forEach(ca -> b.append(ca.asText()).append('\n'));
            return b.toString();
        }
        return null;
    }

    /** A TLS context trusting {@code caPem}, or the JDK's default CAs when it is null. */
    private static SSLContext context(String caPem, CapturingTrust capture) throws IOException, GeneralSecurityException {
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        if (caPem == null) {
            tmf.init((KeyStore) null);
        } else {
            KeyStore ks = KeyStore.getInstance(KeyStore.getDefaultType());
            ks.load(null, null);
            List<X509Certificate> certs = Pem.readCertificates(caPem);
            for (int i = 0; i < certs.size(); i++) ks.setCertificateEntry("ca" + i, certs.get(i));
            tmf.init(ks);
        }
        X509TrustManager real = (X509TrustManager) tmf.getTrustManagers()[0];
        capture.delegate = real;
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(null, new TrustManager[]{capture}, null);
        return ctx;
    }

    /** Handshakes with {@code host:port}, checking trust and that the certificate names the host. */
    public static boolean tls(ProbeReport r, String host, int port, Trust trust) {
        CapturingTrust capture = trust.capture();
        try (SSLSocket s = (SSLSocket) trust.context().getSocketFactory().createSocket()) {
            SSLParameters p = s.getSSLParameters();
            p.setEndpointIdentificationAlgorithm("HTTPS"); // same host name rules for LDAPS and HTTPS
            s.setSSLParameters(p);
            s.setSoTimeout(TIMEOUT_MS);
            s.connect(new InetSocketAddress(host, port), TIMEOUT_MS);
            s.startHandshake();
            r.pass("TLS", "certificate of " + capture.subject() + " trusted (" + trust.source() + ")");
            return true;
        } catch (IOException e) {
            tlsFailure(r, host, e, trust);
            return false;
        }
    }

    /** Classifies a TLS failure: untrusted CA, wrong host name, or no TLS at all. */
    public static void tlsFailure(ProbeReport r, String host, Throwable e, Trust trust) {
        CapturingTrust capture = trust.capture();
        String caSource = trust.source();
        String all = Causes.messages(e);
        if (all.contains("PKIX") || all.contains("certification path")
                || Causes.find(e, java.security.cert.CertPathValidatorException.class).isPresent()) {
            r.fail("TLS", "the server certificate (" + capture.subject() + ", issued by " + capture.issuer()
                    + ") is not signed by a trusted CA (" + caSource + ")",
                    "pass {ca} with the CA certificate that signed the server's certificate");
        } else if (all.contains("No subject alternative") || all.contains("No name matching") || all.contains("hostname")
                || all.contains("host name")) {
            r.fail("TLS", "the server certificate (" + capture.subject() + ") does not name " + host,
                    "connect with a host name the certificate lists, or re-issue the certificate with it");
        } else if (all.contains("Unsupported or unrecognized SSL message") || all.contains("plaintext")
                || all.contains("Remote host terminated")) {
            r.fail("TLS", "the server did not answer with TLS",
                    "this port may speak plain LDAP: use port 636 for LDAPS, or {startTls} on port 389");
        } else {
            r.fail("TLS", "TLS handshake failed: " + Causes.messages(e), "check the server's TLS setup and the CA file");
        }
    }

    /** Trust manager that remembers the server's certificate, so messages can name it. */
    public static final class CapturingTrust implements X509TrustManager {
        X509TrustManager delegate;
        X509Certificate leaf;

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType) throws java.security.cert.CertificateException {
            delegate.checkClientTrusted(chain, authType);
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) throws java.security.cert.CertificateException {
            if (chain != null && chain.length > 0) leaf = chain[0];
            delegate.checkServerTrusted(chain, authType);
        }

        @Override
        public X509Certificate[] getAcceptedIssuers() { return delegate.getAcceptedIssuers(); }

        public String subject() { return leaf == null ? "the server" : leaf.getSubjectX500Principal().getName(); }

        public String issuer() { return leaf == null ? "unknown" : leaf.getIssuerX500Principal().getName(); }
    }
}
