package dexauth.pki;

import dexauth.errors.Invalid;

import java.util.List;
import java.util.Objects;

/**
 * What one leaf certificate must look like. The engine compares an existing
 * certificate against this and re-issues it only when they differ.
 *
 * @param name          file stem: {@code <dir>/<name>.crt} and {@code <name>.key}
 * @param commonName    subject CN
 * @param organizations subject O values (Kubernetes reads them as groups)
 * @param dnsNames      DNS subject alternative names
 * @param ipAddresses   IP subject alternative names, literal addresses only
 * @param usage         server, client, or both
 * @param validityDays  lifetime of a newly issued certificate
 */
public record CertificateSpec(String name, String commonName, List<String> organizations,
                              List<String> dnsNames, List<String> ipAddresses, Usage usage,
                              int validityDays) {

    public enum Usage { SERVER, CLIENT, BOTH }

    public CertificateSpec {
        Objects.requireNonNull(name, "certificate name");
        if (!name.matches("[A-Za-z0-9][A-Za-z0-9._-]*")) {
            throw new Invalid("name", "certificate name '" + name
                    + "' may only hold letters, digits, '.', '_' and '-'");
        }
        if (commonName == null || commonName.isBlank()) {
            throw new Invalid("commonName", "certificate '" + name + "': commonName is required");
        }
        organizations = organizations == null ? List.of() : List.copyOf(organizations);
        dnsNames = dnsNames == null ? List.of() : List.copyOf(dnsNames);
        ipAddresses = ipAddresses == null ? List.of() : List.copyOf(ipAddresses);
        usage = usage == null ? Usage.SERVER : usage;
        if (validityDays <= 0) validityDays = 365;
        for (String ip : ipAddresses) {
            if (!isIpLiteral(ip)) {
                throw new Invalid("ipAddresses", "certificate '" + name + "': '" + ip
                        + "' is not an IPv4 or IPv6 address (ipAddresses takes literal addresses only)");
            }
        }
        for (String dns : dnsNames) {
            if (!isDnsName(dns)) {
                throw new Invalid("dnsNames", "certificate '" + name + "': '" + dns + "' is not a valid DNS name");
            }
        }
    }

    public static boolean isIpLiteral(String s) { return IpAddresses.isLiteral(s); }

    public static boolean isDnsName(String s) {
        return s != null && s.length() <= 253
                && s.matches("(\\*\\.)?[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*");
    }
}
