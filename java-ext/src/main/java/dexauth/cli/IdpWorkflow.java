package dexauth.cli;

import dexauth.dex.DexApi;
import dexauth.idp.IdpAdmin;
import dexauth.idp.IdpCatalog;
import dexauth.idp.IdpSecrets;
import dexauth.idp.IdpSpec;
import dexauth.salt.SaltApi;
import io.fabric8.kubernetes.client.KubernetesClient;

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

    /** The IdP use-cases, over the pillar file on the Salt master and (unless salt-only) the IdP Secrets. */
    IdpAdmin admin() {
        return new IdpAdmin(new PillarFile(), kube == null ? null : new IdpSecrets(kube, cfg.users.namespace));
    }

    /** The IdPs' pillar file, read and written through salt-api's wheel. */
    private final class PillarFile implements IdpAdmin.CatalogFile {
        @Override
        public String read() {
            try {
                return salt.readPillarFile(IdpCatalog.PILLAR_FILE);
            } catch (CompletionException | IllegalStateException e) {
                throw new UserError("cannot read pillar " + IdpCatalog.PILLAR_FILE + " through salt-api: "
                        + Errors.describe(e), ExitCode.SALT_API);
            }
        }

        @Override
        public void write(String text) {
            try {
                salt.writePillarFile(IdpCatalog.PILLAR_FILE, text, cfg.saltApi.pillarRootIndex);
            } catch (CompletionException | IllegalStateException e) {
                throw new UserError("cannot write pillar " + IdpCatalog.PILLAR_FILE + " through salt-api: "
                        + Errors.describe(e), ExitCode.SALT_API);
            }
        }
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
                    + "; the IdP settings are saved: retry with `authctl idp apply`", ExitCode.SALT_API);
        }
        if (results.isEmpty()) {
            throw new UserError("no minion matches grain " + target + " (saltApi.target in the configuration);"
                    + " the settings are saved: retry with `authctl idp apply`", ExitCode.SALT_API);
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
            return ExitCode.SALT_API.code;
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
                    + " listed in the pillar top file of the master (base environment)?", ExitCode.SALT_API);
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
