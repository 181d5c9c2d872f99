package dexauth.pki;

import dexauth.errors.Invalid;

import java.util.List;

/**
 * Desired state of one certificate directory.
 *
 * @param dir            where the files live
 * @param caCommonName   CN of the CA created on first use (an existing CA is always kept)
 * @param caValidityDays lifetime of a new CA
 * @param certificates   leaf certificates to keep valid
 * @param keyPairs       bare key pairs ({@code <name>.key} + {@code <name>.pub}), e.g. service-account signing
 * @param renewBeforeDays re-issue a leaf this many days before it expires
 */
public record PkiRequest(String dir, String caCommonName, int caValidityDays, List<CertificateSpec> certificates,
                         List<String> keyPairs, int renewBeforeDays) {
    public PkiRequest {
        if (dir == null || dir.isBlank()) throw new Invalid("dir", "dir is required");
        if (caCommonName == null || caCommonName.isBlank()) caCommonName = "dexauth-ca";
        if (caValidityDays <= 0) caValidityDays = 3650;
        certificates = certificates == null ? List.of() : List.copyOf(certificates);
        keyPairs = keyPairs == null ? List.of() : List.copyOf(keyPairs);
        if (renewBeforeDays < 0) throw new Invalid("renewBeforeDays", "renewBeforeDays must be 0 or more");
    }
}
