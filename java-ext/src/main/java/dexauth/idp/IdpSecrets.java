package dexauth.idp;

import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Base64;
import java.util.Collection;
import java.util.HexFormat;
import java.util.Map;
import java.util.TreeMap;

/**
 * The Kubernetes Secrets holding IdP bind passwords and client secrets, one per IdP, in Dex's
 * namespace. Each Secret's key is the environment variable Dex reads it from.
 */
public final class IdpSecrets {
    public static final String LABEL = "dexauth.io/idp";

    private final KubernetesClient kube;
    private final String namespace;

    public IdpSecrets(KubernetesClient kube, String namespace) {
        this.kube = kube;
        this.namespace = namespace;
    }

    /** Creates or replaces the IdP's Secret; true when it did not exist. */
    public boolean save(IdpSpec spec, char[] secret) {
        boolean created = get(spec.name()) == null;
        String b64 = Base64.getEncoder().encodeToString(new String(secret).getBytes(StandardCharsets.UTF_8));
        Secret s = new SecretBuilder().withNewMetadata().withName(spec.secretName()).withNamespace(namespace)
                .addToLabels(LABEL, spec.name()).addToLabels("app.kubernetes.io/managed-by", "authctl").endMetadata()
                .withType("Opaque").addToData(spec.secretEnv(), b64).build();
        kube.secrets().inNamespace(namespace).resource(s).createOr(io.fabric8.kubernetes.client.dsl.NonDeletingOperation::update);
        return created;
    }

    public Secret get(String idpName) {
        return kube.secrets().inNamespace(namespace).withName(IdpSpec.secretName(idpName)).get();
    }

    /** The stored secret, for `idp test` of a saved IdP; null when there is none. */
    public char[] read(IdpSpec spec) {
        Secret s = get(spec.name());
        if (s == null || s.getData() == null || s.getData().get(spec.secretEnv()) == null) return null;
        return new String(Base64.getDecoder().decode(s.getData().get(spec.secretEnv())), StandardCharsets.UTF_8).toCharArray();
    }

    public boolean delete(String idpName) {
        return !kube.secrets().inNamespace(namespace).withName(IdpSpec.secretName(idpName)).delete().isEmpty();
    }

    /**
     * A digest of the Secrets the IdPs use, so Dex restarts when one changes. An IdP whose Secret
     * is missing (e.g. after a purge) is named in {@code missing}: Dex still deploys (the local store
     * must keep working) and only that IdP's logins fail until its secret is stored again.
     */
    public String checksum(Collection<IdpSpec> idps, java.util.List<String> missing) {
        Map<String, String> data = new TreeMap<>();
        for (IdpSpec spec : idps) {
            if (!spec.hasSecret()) continue;
            Secret s = get(spec.name());
            String v = s == null || s.getData() == null ? null : s.getData().get(spec.secretEnv());
            if (v == null) {
                missing.add("IdP '" + spec.name() + "' has no Secret " + namespace + "/" + spec.secretName()
                        + " (its logins fail); store its " + spec.type().secretLabel() + " with `authctl idp add "
                        + spec.type().id() + " " + spec.name() + " --replace ...`");
                v = "missing";
            }
            data.put(spec.secretEnv(), v);
        }
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            data.forEach((k, v) -> sha.update((k + "=" + v + "\n").getBytes(StandardCharsets.UTF_8)));
            return HexFormat.of().formatHex(sha.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
