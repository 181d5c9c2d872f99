package dexauth.idp;

import dexauth.errors.Conflict;
import dexauth.errors.NotFound;

import java.util.Arrays;
import java.util.Map;
import java.util.Optional;

/**
 * The IdP use-cases: list, get, check, save, remove. The settings are kept in the pillar file
 * {@link IdpCatalog#PILLAR_FILE} (through {@link CatalogFile}), each secret in its Kubernetes
 * Secret ({@link IdpSecrets}); re-deploying Dex afterwards is the caller's step.
 */
public final class IdpAdmin {
    /** Where the pillar file of the IdPs is read and written (for authctl: the Salt master). */
    public interface CatalogFile {
        /** The file's text; null or blank when there is none yet. */
        String read();

        void write(String text);
    }

    private final CatalogFile file;
    private final IdpSecrets secrets;

    /** {@code secrets} may be null for a caller that only reads the settings. */
    public IdpAdmin(CatalogFile file, IdpSecrets secrets) {
        this.file = file;
        this.secrets = secrets;
    }

    /** The saved IdPs by name; Invalid names the pillar key when the file is wrong. */
    public Map<String, IdpSpec> list() {
        return IdpCatalog.parse(file.read());
    }

    public IdpSpec get(String name) {
        IdpSpec s = list().get(name);
        if (s == null) throw new NotFound("no IdP named " + name);
        return s;
    }

    /** Checks a saved IdP with its stored secret, read only if a step needs it. */
    public ProbeReport check(IdpSpec spec, String user) {
        char[][] read = new char[1][];
        try {
            return spec.check(() -> read[0] = storedSecret(spec), user);
        } finally {
            if (read[0] != null) Arrays.fill(read[0], '\0');
        }
    }

    private char[] storedSecret(IdpSpec spec) {
        char[] s = secrets.read(spec);
        if (s == null) {
            throw new NotFound("the " + spec.kind().secretLabel() + " of " + spec.name() + " is missing (Secret "
                    + secrets.namespace() + "/" + spec.secretName() + "); store it again by adding the IdP anew,"
                    + " replacing it");
        }
        return s;
    }

    /**
     * Saves the secret, then the settings (so Dex never gets a connector whose secret is not there);
     * Conflict when an IdP of that name exists and {@code replace} is false. Returns the saved IdPs.
     */
    public Map<String, IdpSpec> save(IdpSpec spec, char[] secret, boolean replace) {
        Map<String, IdpSpec> idps = list();
        if (idps.containsKey(spec.name()) && !replace) throw new Conflict("IdP " + spec.name() + " exists");
        if (spec.hasSecret()) secrets.save(spec, secret);
        else secrets.delete(spec.name()); // a directory that now binds anonymously
        idps.put(spec.name(), spec);
        file.write(IdpCatalog.render(idps));
        return idps;
    }

    /**
     * Removes an IdP's settings and returns the IdPs left. Its Secret stays until
     * {@link #deleteSecret} (once Dex runs without the IdP). Empty when the IdP was already gone
     * but had left its Secret (a removal whose re-deploy failed), which is deleted now.
     */
    public Optional<Map<String, IdpSpec>> remove(String name) {
        Map<String, IdpSpec> idps = list();
        if (idps.remove(name) == null) {
            if (secrets.delete(name)) return Optional.empty();
            throw new NotFound("no IdP named " + name);
        }
        file.write(IdpCatalog.render(idps));
        return Optional.of(idps);
    }

    public boolean deleteSecret(String name) {
        return secrets.delete(name);
    }

    /** Where the Secrets are. */
    public String namespace() { return secrets.namespace(); }
}
