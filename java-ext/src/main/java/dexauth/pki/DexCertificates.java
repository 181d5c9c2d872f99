package dexauth.pki;

import dexauth.config.DeploymentConfig;

import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/** The certificates a Dex deployment needs, derived from the pillar. */
public final class DexCertificates {
    public static final String HTTPS = "dex-https";
    public static final String GRPC = "dex-grpc";
    public static final String CLI_CLIENT = "authctl-client";
    /** The account service's HTTPS certificate (its Service names, pillar IPs, the console's host). */
    public static final String ACCOUNT = "account-https";

    /** Where Dex listens for its login guard, inside its pod. */
    public static final String LOOPBACK = "127.0.0.1";

    private DexCertificates() {}

    public static PkiRequest request(DeploymentConfig cfg, String serviceName) {
        Set<String> dns = new LinkedHashSet<>(cfg.dnsSans());
        dns.addAll(cfg.ingressHosts());
        String ns = cfg.namespace();
        dns.addAll(List.of(serviceName + "." + ns, serviceName + "." + ns + ".svc",
                serviceName + "." + ns + ".svc.cluster.local"));
        Set<String> ips = new LinkedHashSet<>(cfg.ipSans());
        // The issuer's host must be in the certificate or every client fails TLS verification.
        if (CertificateSpec.isIpLiteral(cfg.issuerHost())) ips.add(cfg.issuerHost());
        else dns.add(cfg.issuerHost());
        // kube-apiserver fetches discovery at the Service's IP (DeploymentConfig.discoveryUrl).
        if (cfg.serviceIp() != null) ips.add(cfg.serviceIp());
        String grpcHost = cfg.grpcAddress().replaceFirst(":\\d+$", "").replaceAll("[\\[\\]]", "");
        Set<String> grpcIps = new LinkedHashSet<>(ips);
        Set<String> grpcDns = new LinkedHashSet<>(dns);
        if (CertificateSpec.isIpLiteral(grpcHost)) grpcIps.add(grpcHost);
        else grpcDns.add(grpcHost);
        int days = cfg.validityDays();
        // The login guard reaches Dex inside the pod at 127.0.0.1, verifying this certificate.
        Set<String> httpsIps = new LinkedHashSet<>(ips);
        httpsIps.add(LOOPBACK);
        List<CertificateSpec> specs = new java.util.ArrayList<>(List.of(
                new CertificateSpec(HTTPS, serviceName + "." + ns + ".svc", List.of(), List.copyOf(dns),
                        List.copyOf(httpsIps), CertificateSpec.Usage.SERVER, days),
                new CertificateSpec(GRPC, serviceName + "-grpc." + ns + ".svc", List.of(), List.copyOf(grpcDns),
                        List.copyOf(grpcIps), CertificateSpec.Usage.SERVER, days),
                new CertificateSpec(CLI_CLIENT, "authctl", List.of("dexauth:grpc-clients"), List.of(), List.of(),
                        CertificateSpec.Usage.CLIENT, days)));
        if (cfg.accountEnabled()) specs.add(account(cfg, serviceName + "-account"));
        return new PkiRequest(cfg.certDir().toString(), "dexauth-" + cfg.clusterName() + "-ca", 3650,
                List.copyOf(specs), List.of(), cfg.renewBeforeDays());
    }

    /** The account service's serving certificate: its Service's DNS names, pillar's IPs and names, the console's host. */
    private static CertificateSpec account(DeploymentConfig cfg, String service) {
        String ns = cfg.namespace();
        Set<String> dns = new LinkedHashSet<>(List.of(service + "." + ns, service + "." + ns + ".svc",
                service + "." + ns + ".svc.cluster.local"));
        dns.addAll(cfg.dnsSans());
        dns.addAll(cfg.ingressHosts());
        Set<String> ips = new LinkedHashSet<>(cfg.ipSans());
        String host = cfg.account().publicUrl().getHost();
        if (CertificateSpec.isIpLiteral(host)) ips.add(host);
        else dns.add(host);
        return new CertificateSpec(ACCOUNT, service + "." + ns + ".svc", List.of(), List.copyOf(dns), List.copyOf(ips),
                CertificateSpec.Usage.SERVER, cfg.validityDays());
    }
}
