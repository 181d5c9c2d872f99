package dexauth.users;

import dexauth.rbac.RoleAssignments;
import dexauth.rbac.SolutionPolicy;
import dexauth.rbac.WarningEvent;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Consumer;

/** Who holds which role, read from the stored users and group grants. */
public final class Holders {
    /** Reason of the warning Event about a user record that is skipped. */
    public static final String INVALID_RECORD = "InvalidUserRecord";
    /** How often a reconcile starts over when the store changed while it wrote the bindings. */
    static final int PASSES = 5;

    private Holders() {}

    /**
     * The holders as stored at one moment, the records skipped as invalid, and the versions read
     * (equal versions: the same store).
     */
    public record Snapshot(RoleAssignments.Holders holders, List<UserStore.Rejected> rejected,
                           Map<String, String> versions) {}

    /** A reconcile's changes, and what the operator should know (records skipped). */
    public record Outcome(Map<String, String> changes, List<String> warnings) {}

    public static Snapshot snapshot(KubernetesClient kube, String namespace) {
        RoleAssignments.Holders holders = RoleAssignments.Holders.empty();
        UserStore.Listing users = new UserStore(kube, namespace).scan();
        for (UserRecord u : users.users()) {
            if (u.mustChange()) continue; // no binding until the password is changed
            u.roles().forEach(r -> holders.users().get(r).add(u.email()));
        }
        GroupGrants grants = new GroupGrants(kube, namespace);
        Map<String, String> versions = new LinkedHashMap<>(users.versions());
        versions.put(GroupGrants.NAME, grants.version());
        grants.all().forEach((g, roles) -> roles.forEach(r -> holders.groups().get(r).add(g.subject())));
        return new Snapshot(holders, users.rejected(), versions);
    }

    /**
     * Runs {@code write} from the holders as stored, and again while the store changed during it.
     * Several writers run at once (admins, the schedule), each from what it read: one that read the
     * store before another's change must not leave its older result last. So after writing, the
     * store is read again, and a writer whose store changed meanwhile starts over: the last one to
     * write wrote from the store as it is. Returns the snapshot written last.
     */
    public static Snapshot followingStore(KubernetesClient kube, String namespace, boolean dryRun,
                                          Consumer<Snapshot> write) {
        Snapshot read = snapshot(kube, namespace);
        for (int pass = 1; ; pass++) {
            write.accept(read);
            if (dryRun || pass == PASSES) return read;
            Snapshot again = snapshot(kube, namespace);
            if (Objects.equals(again.versions(), read.versions())) return read;
            read = again;
        }
    }

    /** Every dexauth binding recomputed from the stored assignments, under the stored solution policy. */
    public static Map<String, String> reconcile(KubernetesClient kube, String namespace, boolean dryRun) {
        return reconcile(kube, namespace, SolutionPolicy.read(kube, namespace), dryRun).changes();
    }

    /**
     * Makes the bindings follow the store ({@link #followingStore}). An invalid record never stops
     * the others: it is skipped, with a warning Event about it.
     */
    public static Outcome reconcile(KubernetesClient kube, String namespace, SolutionPolicy policy, boolean dryRun) {
        Map<String, String> changes = new LinkedHashMap<>();
        Snapshot read = followingStore(kube, namespace, dryRun,
                r -> changes.putAll(RoleAssignments.reconcile(kube, r.holders(), policy, dryRun)));
        List<String> warnings = new ArrayList<>();
        for (UserStore.Rejected r : read.rejected()) {
            warnings.add("user record " + namespace + "/" + r.object() + " skipped: " + r.reason());
            if (!dryRun) warn(kube, namespace, r);
        }
        return new Outcome(changes, warnings);
    }

    /**
     * Said once per record (a fixed Event name, so a scheduled reconcile does not repeat it); an
     * Event that cannot be written never stops the reconcile.
     */
    private static void warn(KubernetesClient kube, String namespace, UserStore.Rejected r) {
        try {
            WarningEvent.once(kube, namespace, "dexauth-invalid-user-record." + r.object(), r.object(), INVALID_RECORD,
                    "user record " + r.object() + " skipped: " + r.reason() + "; it grants nothing (delete it, or"
                            + " re-create the user with `authctl user add`)", Map.of());
        } catch (KubernetesClientException e) {
            System.err.println("dexauth: warning: " + r.object() + " skipped; its warning Event not recorded: "
                    + e.getMessage());
        }
    }
}
