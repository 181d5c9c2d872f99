package dexauth.cli;

import dexauth.config.ConfigError;
import dexauth.dex.DexApi;
import dexauth.idp.IdpCatalog;
import dexauth.idp.IdpSecrets;
import dexauth.idp.IdpSpec;
import dexauth.salt.SaltApi;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;

import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionException;

/**
 * What `authctl idp` does with the outside world: the IdP pillar file through salt-api's wheel,
 * the IdP Secrets through the Kubernetes API (with the operator's rights), and the re-apply of
 * the Dex states through salt-api.
 */
final class IdpWorkflow implements AutoCloseable {
    static final List<String> DEX_STATES = List.of("dexauth.deployed");
    private static final int APPLY_TIMEOUT_SECONDS = 600;

    private final Session session;
    private final CliConfig cfg;
    private final SaltApi salt;
    private final KubernetesClient kube;

    private IdpWorkflow(Session session, CliConfig cfg, SaltApi salt, KubernetesClient kube) {
        this.session = session;
        this.cfg = cfg;
        this.salt = salt;
        this.kube = kube;
    }

    /** Salt-api and Kubernetes (with the operator's rights, which Kubernetes enforces on each Secret change). */
    static IdpWorkflow open(IdpCommand.Common c) {
        CliConfig cfg = c.session.cfg();
        KubernetesClient kube = c.session.kube();
        try {
            return new IdpWorkflow(c.session, cfg, SaltCommand.open(cfg, c.saltPasswordStdin, "--salt-password-stdin"), kube);
        } catch (RuntimeException e) {
            kube.close();
            throw e;
        }
    }

    static IdpWorkflow openSaltOnly(IdpCommand.Common c) {
        CliConfig cfg = c.session.cfg();
        return new IdpWorkflow(c.session, cfg, SaltCommand.open(cfg, c.saltPasswordStdin, "--salt-password-stdin"), null);
    }

    String namespace() { return cfg.users.namespace; }

    Map<String, IdpSpec> load() {
        String text;
        try {
            text = salt.readPillarFile(IdpCatalog.PILLAR_FILE);
        } catch (CompletionException | IllegalStateException e) {
            throw new UserError("cannot read pillar " + IdpCatalog.PILLAR_FILE + " through salt-api: "
                    + Errors.describe(e), 11);
        }
        try {
            return IdpCatalog.parse(text);
        } catch (ConfigError e) {
            throw new UserError(e.getMessage() + "; fix " + IdpCatalog.PILLAR_FILE + " on the Salt master", 2);
        }
    }

    IdpSpec get(String name) {
        IdpSpec s = load().get(name);
        if (s == null) throw new UserError("no IdP named " + name + " (see `authctl idp list`)", 5);
        return s;
    }

    void write(Map<String, IdpSpec> idps) {
        try {
            salt.writePillarFile(IdpCatalog.PILLAR_FILE, IdpCatalog.render(idps), cfg.saltApi.pillarRootIndex);
        } catch (CompletionException | IllegalStateException e) {
            throw new UserError("cannot write pillar " + IdpCatalog.PILLAR_FILE + " through salt-api: "
                    + Errors.describe(e), 11);
        }
    }

    /** Stores the IdP's secret (or drops a stale one when the IdP now has none). */
    void store(IdpSpec spec, char[] secret) {
        try {
            IdpSecrets secrets = new IdpSecrets(kube, namespace());
            if (spec.hasSecret()) secrets.save(spec, secret);
            else secrets.delete(spec.name());
        } catch (KubernetesClientException e) {
            throw kubeError(e, "store the " + spec.type().secretLabel() + " in Secret " + spec.secretName());
        }
    }

    char[] secret(IdpSpec spec) {
        try {
            char[] s = new IdpSecrets(kube, namespace()).read(spec);
            if (s == null) {
                throw new UserError("the " + spec.type().secretLabel() + " of " + spec.name() + " is missing (Secret "
                        + namespace() + "/" + spec.secretName() + "); store it again with `authctl idp add "
                        + spec.type().id() + " " + spec.name() + " --replace ...`", 5);
            }
            return s;
        } catch (KubernetesClientException e) {
            throw kubeError(e, "read Secret " + spec.secretName());
        }
    }

    boolean deleteSecret(String name) {
        try {
            return new IdpSecrets(kube, namespace()).delete(name);
        } catch (KubernetesClientException e) {
            throw kubeError(e, "delete Secret " + IdpSpec.secretName(name));
        }
    }

    private UserError kubeError(KubernetesClientException e, String what) {
        if (e.getCode() == 401 || e.getCode() == 403) {
            return new UserError("not allowed to " + what + ": IdPs are managed by Cluster Admins", 6);
        }
        return new UserError("cannot " + what + ": " + UserCommand.rootMessage(e), 8);
    }

    /** Re-applies the Dex states and prints each state's outcome; 0 when all succeeded. */
    int applyUnless(boolean noApply, Map<String, IdpSpec> idps) {
        if (noApply) {
            System.out.println("not applied (--no-apply); run `authctl idp apply` to deploy the change");
            return 0;
        }
        String target = cfg.saltApi.target;
        System.out.println("applying " + String.join(", ", DEX_STATES) + " on minions with grain " + target
                + " through salt-api...");
        long start = System.nanoTime();
        Map<String, List<SaltApi.StateOutcome>> results;
        try {
            results = salt.applyStates(target, DEX_STATES, APPLY_TIMEOUT_SECONDS,
                    secs -> System.out.println("  ... still applying (" + secs + " s)"));
        } catch (CompletionException | IllegalStateException e) {
            throw new UserError("salt-api could not apply the Dex states: " + Errors.describe(e)
                    + "; the IdP settings are saved: retry with `authctl idp apply`", IdpCommand.APPLY_FAILED);
        }
        if (results.isEmpty()) {
            throw new UserError("no minion matches grain " + target + " (saltApi.target in the configuration);"
                    + " the settings are saved: retry with `authctl idp apply`", IdpCommand.APPLY_FAILED);
        }
        boolean ok = true;
        for (var e : results.entrySet()) {
            for (SaltApi.StateOutcome o : e.getValue()) {
                ok &= o.ok();
                System.out.printf("  %s: %-4s %s%s (%.1f s)%s%n", e.getKey(), o.ok() ? "ok" : "FAIL", o.id(),
                        o.changed() ? ", changed" : "", o.seconds(), o.ok() ? "" : "\n      " + o.comment());
            }
        }
        double secs = (System.nanoTime() - start) / 1e9;
        if (!ok) {
            System.out.printf("apply FAILED after %.1f s; the IdP settings are saved: fix the cause above, then"
                    + " `authctl idp apply`%n", secs);
            return IdpCommand.APPLY_FAILED;
        }
        System.out.printf("applied in %.1f s%n", secs);
        return reportOffered(idps);
    }

    /**
     * Says what Dex now offers, read from Dex itself where its gRPC API is reachable (root on the
     * bootstrap node); a difference with the desired IdPs means pillar did not reach the states.
     */
    private int reportOffered(Map<String, IdpSpec> idps) {
        java.util.SortedSet<String> desired = new java.util.TreeSet<>(idps.keySet());
        desired.add(DexApi.LOCAL_CONNECTOR);
        java.util.SortedSet<String> offered;
        try (DexApi dex = session.dex()) {
            offered = dex.connectorIds();
        } catch (RuntimeException e) { // not root on the bootstrap node, or Dex's API unreachable
            System.out.println("the login page should offer: " + describe(desired)
                    + " (Dex's API is not reachable from here to confirm)");
            return 0;
        }
        if (!offered.equals(desired)) {
            System.out.println("Dex offers " + offered + " but the saved IdPs are " + desired);
            throw new UserError("Dex did not pick up the saved IdPs: is " + IdpCatalog.PILLAR_FILE.replace(".sls", "")
                    + " listed in the pillar top file of the master (base environment)?", IdpCommand.APPLY_FAILED);
        }
        System.out.println("the login page offers: " + describe(offered));
        return 0;
    }

    private static String describe(java.util.SortedSet<String> connectors) {
        return connectors.size() == 1 ? "local (directly, no choice screen)" : String.join(", ", connectors);
    }

    @Override
    public void close() {
        salt.close();
        if (kube != null) kube.close();
    }
}
