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
        String grpcHost = cfg.grpcAddress().replaceFirst(":\\d+$", "").replaceAll("[\\[\\]]", "");
        Set<String> grpcIps = new LinkedHashSet<>(ips);
        Set<String> grpcDns = new LinkedHashSet<>(dns);
        if (CertificateSpec.isIpLiteral(grpcHost)) grpcIps.add(grpcHost);
        else grpcDns.add(grpcHost);
        int days = cfg.validityDays();
        return new PkiRequest(cfg.certDir().toString(), "dexauth-" + cfg.clusterName() + "-ca", 3650, List.of(
                new CertificateSpec(HTTPS, serviceName + "." + ns + ".svc", List.of(), List.copyOf(dns),
                        List.copyOf(ips), CertificateSpec.Usage.SERVER, days),
                new CertificateSpec(GRPC, serviceName + "-grpc." + ns + ".svc", List.of(), List.copyOf(grpcDns),
                        List.copyOf(grpcIps), CertificateSpec.Usage.SERVER, days),
                new CertificateSpec(CLI_CLIENT, "authctl", List.of("dexauth:grpc-clients"), List.of(), List.of(),
                        CertificateSpec.Usage.CLIENT, days)),
                List.of(), cfg.renewBeforeDays());
    }
}
