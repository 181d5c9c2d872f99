package dexauth.idp;

import dexauth.errors.Causes;
import dexauth.errors.DomainException;
import dexauth.errors.Forbidden;
import dexauth.errors.Unavailable;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.NonDeletingOperation;

import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Collection;
import java.util.Map;
import java.util.TreeMap;

/**
 * The Kubernetes Secrets holding IdP bind passwords and client secrets, one per IdP, in Dex's
 * namespace. Each Secret's key is the environment variable Dex reads it from. Kubernetes enforces
 * who may change them: a refusal is {@link Forbidden}, any other failure {@link Unavailable}.
 */
public final class IdpSecrets {
    public static final String LABEL = "dexauth.io/idp";

    private final KubernetesClient kube;
    private final String namespace;

    public IdpSecrets(KubernetesClient kube, String namespace) {
        this.kube = kube;
        this.namespace = namespace;
    }

    public String namespace() { return namespace; }

    /** Creates or replaces the IdP's Secret. */
    public void save(IdpSpec spec, char[] secret) {
        String b64 = Base64.getEncoder().encodeToString(new String(secret).getBytes(StandardCharsets.UTF_8));
        Secret s = new SecretBuilder().withNewMetadata().withName(spec.secretName()).withNamespace(namespace)
                .addToLabels(LABEL, spec.name()).addToLabels("app.kubernetes.io/managed-by", "authctl").endMetadata()
                .withType("Opaque").addToData(spec.secretEnv(), b64).build();
        try {
            kube.secrets().inNamespace(namespace).resource(s).createOr(NonDeletingOperation::update);
        } catch (KubernetesClientException e) {
            throw failure(e, "store the " + spec.kind().secretLabel() + " in Secret " + spec.secretName());
        }
    }

    private Secret get(String idpName) {
        return kube.secrets().inNamespace(namespace).withName(IdpSpec.secretName(idpName)).get();
    }

    /** The stored secret, for checking a saved IdP; null when there is none. */
    public char[] read(IdpSpec spec) {
        Secret s;
        try {
            s = get(spec.name());
        } catch (KubernetesClientException e) {
            throw failure(e, "read Secret " + spec.secretName());
        }
        if (s == null || s.getData() == null || s.getData().get(spec.secretEnv()) == null) return null;
        return new String(Base64.getDecoder().decode(s.getData().get(spec.secretEnv())), StandardCharsets.UTF_8).toCharArray();
    }

    /** Deletes the Secret of IdP {@code idpName}; true when there was one. */
    public boolean delete(String idpName) {
        try {
            return !kube.secrets().inNamespace(namespace).withName(IdpSpec.secretName(idpName)).delete().isEmpty();
        } catch (KubernetesClientException e) {
            throw failure(e, "delete Secret " + IdpSpec.secretName(idpName));
        }
    }

    private static DomainException failure(KubernetesClientException e, String what) {
        if (e.getCode() == 401 || e.getCode() == 403) {
            return new Forbidden("not allowed to " + what + ": IdPs are managed by Cluster Admins");
        }
        return new Unavailable(Unavailable.Dependency.KUBERNETES, "cannot " + what + ": " + Causes.messages(e), e);
    }

    /**
     * A digest of the Secrets the IdPs use, so Dex restarts when one changes: an HMAC-SHA256 with the
     * per-cluster random {@code key}, because it becomes a pod annotation that whoever reads Deployments
     * (Read Only) sees; a plain hash would let them test guesses of a bind password offline. An IdP
     * whose Secret is missing (e.g. after a purge) is named in {@code missing}: Dex still deploys (the
     * local store must keep working) and only that IdP's logins fail until its secret is stored again.
     */
    public String checksum(Collection<IdpSpec> idps, java.util.List<String> missing, byte[] key) {
        Map<String, String> data = new TreeMap<>();
        for (IdpSpec spec : idps) {
            if (!spec.hasSecret()) continue;
            Secret s = get(spec.name());
            String v = s == null || s.getData() == null ? null : s.getData().get(spec.secretEnv());
            if (v == null) {
                missing.add("IdP '" + spec.name() + "' has no Secret " + namespace + "/" + spec.secretName()
                        + " (its logins fail); store its " + spec.kind().secretLabel() + " again by adding the IdP"
                        + " anew with `authctl idp add " + spec.kind().id() + " " + spec.name() + "`");
                v = "missing";
            }
            data.put(spec.secretEnv(), v);
        }
        StringBuilder text = new StringBuilder();
        data.forEach((k, v) -> text.append(k).append('=').append(v).append('\n'));
        return dexauth.pki.Digests.keyed(key, text.toString());
    }
}
