package dexauth.users;

import dexauth.rbac.Role;
import dexauth.rbac.RoleAssignments;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.StatusBuilder;
import io.fabric8.kubernetes.api.model.rbac.ClusterRoleBinding;
import io.fabric8.kubernetes.api.model.rbac.RoleBinding;
import io.fabric8.kubernetes.api.model.rbac.Subject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The user use-cases against fabric8's mock API server (CRUD mode: objects are stored and
 * listed as by a real one, see MockCluster) and an in-process Dex gRPC API (FakeDex). Each test asserts what the
 * operator and the user would see: the state of Dex and of the cluster after each call.
 */
class UserServiceTest extends UserServiceFixture {
    // The kinds of refusal the use-cases throw (dexauth.errors), as callers map them.
    static final Class<? extends RuntimeException> INVALID = dexauth.errors.Invalid.class;
    static final Class<? extends RuntimeException> CONFLICT = dexauth.errors.Conflict.class;
    static final Class<? extends RuntimeException> NOT_FOUND = dexauth.errors.NotFound.class;
    static final Class<? extends RuntimeException> WRONG_PASSWORD = dexauth.errors.Unauthenticated.class;
    static final Class<? extends RuntimeException> FORBIDDEN = dexauth.errors.Forbidden.class;

    static final String READ_ONLY_BINDING = "dexauth:role:read-only";

    // Jane: her first password (set by the admin), then the one she chooses.
    static final String JANE = "jane@example.com";
    static final String FIRST = "Lantern-Quartz-4417", CHOSEN = "Harbor-Copper-7265";


    /** The refusal {@code call} throws, checked to be of the expected kind and not a bug. */
    static RuntimeException refused(Class<? extends RuntimeException> kind, Executable call) {
        RuntimeException e = assertThrows(kind, call);
        assertFalse(e instanceof IllegalArgumentException || e instanceof IllegalStateException
                || e instanceof NullPointerException || e instanceof ClassCastException,
                () -> "a bug, not a refusal: " + e);
        return e;
    }

    // ------------------------------------------------------------------ what the cluster shows

    Map<String, String> record(String email) {
        ConfigMap cm = kube.configMaps().inNamespace(NS).withName(UserStore.objectName(email)).get();
        return cm == null ? null : cm.getData();
    }

    /** Subjects of a dexauth cluster role binding, as "User:oidc:x" / "Group:oidc:y"; empty if absent. */
    List<String> clusterSubjects(String binding) {
        ClusterRoleBinding b = kube.rbac().clusterRoleBindings().withName(binding).get();
        return b == null ? List.of() : b.getSubjects().stream().map(UserServiceTest::text).toList();
    }

    List<String> namespaceSubjects(String ns, String binding) {
        RoleBinding b = kube.rbac().roleBindings().inNamespace(ns).withName(binding).get();
        return b == null ? List.of() : b.getSubjects().stream().map(UserServiceTest::text).toList();
    }

    static String text(Subject s) {
        return s.getKind() + ":" + s.getName();
    }

    List<String> auditMessages() {
        return kube.v1().events().inNamespace(NS).list().getItems().stream().map(e -> e.getMessage()).sorted().toList();
    }

    /** Jane added with a role, then her own password change: an active user. */
    void activeJane(Role role) {
        users.add(JANE, null, EnumSet.of(role), FIRST.toCharArray());
        users.changeOwnPassword(JANE, FIRST.toCharArray(), CHOSEN.toCharArray());
    }

    // ------------------------------------------------------------------ writers following the store

    @Test
    void aWriterWhoseStoreChangedWhileItWroteWritesAgainFromTheStoreAsItIs() {
        activeJane(Role.READ_ONLY);
        List<Set<String>> written = new java.util.ArrayList<>();
        Holders.followingStore(kube, NS, false, read -> {
            written.add(Set.copyOf(read.holders().users().get(Role.CLUSTER_ADMIN)));
            // another admin's change lands after this writer read the store
            if (written.size() == 1) users.grant(JANE, Role.CLUSTER_ADMIN, false);
        });
        assertEquals(List.of(Set.of(), Set.of(JANE)), written,
                "the first result was written from a store that changed meanwhile: written again from the new one");

        List<Integer> passes = new java.util.ArrayList<>();
        Holders.followingStore(kube, NS, false, read -> passes.add(1));
        assertEquals(1, passes.size(), "nothing changed meanwhile: written once");
    }

    // ------------------------------------------------------------------ add

    @Test
    void addStoresTheHashInDexAndTheMetadataInTheClusterAndGivesNoRoleUntilThePasswordIsChanged() {
        UserRecord u = users.add("Jane@Example.com", null, EnumSet.of(Role.READ_ONLY), FIRST.toCharArray());

        assertEquals(JANE, u.email());
        assertTrue(dex.accepts(JANE, FIRST), "Dex checks the first password");
        assertFalse(dex.password(JANE).orElseThrow().getHash().toStringUtf8().contains(FIRST));
        assertEquals("jane", dex.password(JANE).orElseThrow().getUsername());
        Map<String, String> data = record(JANE);
        assertEquals("read-only", data.get("roles"));
        assertEquals("true", data.get("mustChangePassword"));
        assertEquals(ADMIN, data.get("createdBy"));
        assertTrue(auditMessages().contains(ADMIN + " created user " + JANE
                + ": roles read-only, must change password"), auditMessages().toString());

        users.reconcile();
        assertEquals(List.of(), clusterSubjects(READ_ONLY_BINDING), "a user who must change the password has no role");
        assertEquals("read-only", users.show(JANE).roles());
        assertTrue(users.show(JANE).mustChange());
    }

    @Test
    void addRefusesABadEmailAWeakPasswordAndAnExistingUserChangingNothing() {
        refused(INVALID, () -> users.add("not-an-email", null, EnumSet.of(Role.READ_ONLY), FIRST.toCharArray()));
        refused(INVALID, () -> users.add(JANE, null, EnumSet.of(Role.READ_ONLY), "password1234".toCharArray()));
        assertTrue(dex.passwords.isEmpty());
        assertNull(record(JANE));

        users.add(JANE, null, EnumSet.of(Role.READ_ONLY), FIRST.toCharArray());
        var e = refused(CONFLICT, () -> users.add("JANE@example.com", null, EnumSet.of(Role.CLUSTER_ADMIN),
                CHOSEN.toCharArray()));
        assertTrue(e.getMessage().contains("already exists"), e.getMessage());
        assertTrue(dex.accepts(JANE, FIRST), "the first user's password is kept");
        assertEquals("read-only", record(JANE).get("roles"));
    }

    @Test
    void addRefusesAUserDexAlreadyHasAndLeavesNoMetadataBehind() {
        users.add(JANE, null, EnumSet.of(Role.READ_ONLY), FIRST.toCharArray());
        kube.configMaps().inNamespace(NS).withName(UserStore.objectName(JANE)).delete();

        refused(CONFLICT, () -> users.add(JANE, null, EnumSet.of(Role.READ_ONLY), CHOSEN.toCharArray()));
        assertNull(record(JANE), "nothing half-done");
        assertTrue(dex.accepts(JANE, FIRST));
        assertEquals("no dexauth metadata", users.show(JANE).drift());
    }

    @Test
    void anOperatorWithoutTheRightIsRefusedAndDexIsNotTouched() {
        cluster.server.expect().post().withPath("/api/v1/namespaces/" + NS + "/configmaps")
                .andReturn(403, new StatusBuilder().withCode(403).withReason("Forbidden")
                        .withMessage("configmaps is forbidden").build()).always();

        var e = refused(FORBIDDEN, () -> users.add(JANE, null, EnumSet.of(Role.READ_ONLY), FIRST.toCharArray()));
        assertTrue(e.getMessage().contains(ADMIN), e.getMessage());
        assertTrue(dex.passwords.isEmpty());
    }

    // ------------------------------------------------------------------ change own password

    @Test
    void changingTheOwnPasswordActivatesTheRolesAndEndsEverySessionOfThatUserOnly() {
        users.add(JANE, null, EnumSet.of(Role.READ_ONLY), FIRST.toCharArray());
        users.add("bob@example.com", null, EnumSet.of(Role.READ_ONLY), "Meadow-Orbit-9321".toCharArray());
        dex.loggedIn(JANE, "kubernetes");
        dex.loggedIn(JANE, "authctl");
        dex.loggedIn("bob@example.com", "kubernetes");

        users.changeOwnPassword(JANE, FIRST.toCharArray(), CHOSEN.toCharArray());

        assertTrue(dex.accepts(JANE, CHOSEN));
        assertFalse(dex.accepts(JANE, FIRST));
        assertEquals(List.of(), dex.refreshClients(JANE), "every refresh token of Jane is revoked");
        assertEquals(List.of("kubernetes"), dex.refreshClients("bob@example.com"));
        assertEquals("false", record(JANE).get("mustChangePassword"));
        assertEquals(List.of("User:oidc:" + JANE), clusterSubjects(READ_ONLY_BINDING));
        assertTrue(auditMessages().contains(ADMIN + " changed own password " + JANE + ": refresh tokens revoked"));
    }

    @Test
    void aWrongCurrentPasswordOrAnUnchangedOneIsRefusedChangingNothing() {
        users.add(JANE, null, EnumSet.of(Role.READ_ONLY), FIRST.toCharArray());
        dex.loggedIn(JANE, "kubernetes");

        refused(WRONG_PASSWORD, () -> users.changeOwnPassword(JANE, "Wrong-Guess-0000".toCharArray(),
                CHOSEN.toCharArray()));
        refused(INVALID, () -> users.changeOwnPassword(JANE, FIRST.toCharArray(), FIRST.toCharArray()));
        refused(INVALID, () -> users.changeOwnPassword(JANE, FIRST.toCharArray(), "short".toCharArray()));
        refused(WRONG_PASSWORD, () -> users.changeOwnPassword("nobody@example.com", FIRST.toCharArray(),
                CHOSEN.toCharArray()));

        assertTrue(dex.accepts(JANE, FIRST));
        assertEquals(List.of("kubernetes"), dex.refreshClients(JANE));
        assertEquals("true", record(JANE).get("mustChangePassword"));
        users.reconcile();
        assertEquals(List.of(), clusterSubjects(READ_ONLY_BINDING));
    }

    // ------------------------------------------------------------------ reset password

    @Test
    void anAdminResetSetsTheNewPasswordSuspendsTheRolesAndEndsTheSessions() {
        activeJane(Role.READ_ONLY);
        dex.loggedIn(JANE, "kubernetes");
        assertEquals(List.of("User:oidc:" + JANE), clusterSubjects(READ_ONLY_BINDING));

        users.resetPassword(JANE, "Granite-Window-3388".toCharArray());

        assertTrue(dex.accepts(JANE, "Granite-Window-3388"));
        assertFalse(dex.accepts(JANE, CHOSEN));
        assertEquals("true", record(JANE).get("mustChangePassword"));
        assertEquals(List.of(), clusterSubjects(READ_ONLY_BINDING), "no role until the user changes it again");
        assertEquals(List.of(), dex.refreshClients(JANE));
        assertTrue(auditMessages().contains(ADMIN + " reset the password of " + JANE + ": must change password"));
    }

    @Test
    void aResetThatRacesAnotherWriteInDexsStorageIsRetriedAndAnyOtherStorageFailureIsNot() {
        activeJane(Role.READ_ONLY);
        dex.conflictsAhead.set(3);
        users.resetPassword(JANE, "Granite-Window-3388".toCharArray());
        assertTrue(dex.accepts(JANE, "Granite-Window-3388"));
        assertEquals(0, dex.conflictsAhead.get());

        dex.brokenStorage = "update password: put passwords: response from server \"etcdserver: no space\"";
        RuntimeException e = refused(dexauth.errors.Unavailable.class,
                () -> users.resetPassword(JANE, "Marble-Falcon-2291".toCharArray()));
        assertTrue(e.getMessage().contains("no space"), e.getMessage());
        assertTrue(dex.accepts(JANE, "Granite-Window-3388"));
    }

    @Test
    void resetRefusesAnUnknownUserAndAWeakPasswordChangingNothing() {
        activeJane(Role.READ_ONLY);
        refused(NOT_FOUND, () -> users.resetPassword("nobody@example.com", "Granite-Window-3388".toCharArray()));
        assertNull(record("nobody@example.com"));
        assertTrue(dex.password("nobody@example.com").isEmpty());

        refused(INVALID, () -> users.resetPassword(JANE, "password1234".toCharArray()));
        assertTrue(dex.accepts(JANE, CHOSEN));
        assertEquals("false", record(JANE).get("mustChangePassword"));
    }

    // ------------------------------------------------------------------ delete

    @Test
    void deleteRemovesTheUserEverywhereItsBindingsAndItsSessions() {
        activeJane(Role.READ_ONLY);
        dex.loggedIn(JANE, "kubernetes");
        String subject = UserService.localSubject(dex.password(JANE).orElseThrow().getUserId());

        users.delete(JANE);

        assertNull(record(JANE));
        assertTrue(dex.password(JANE).isEmpty());
        assertEquals(List.of(), dex.refreshTokens.getOrDefault(subject, List.of()));
        assertEquals(List.of(), clusterSubjects(READ_ONLY_BINDING));
        assertTrue(users.list().isEmpty());
        assertTrue(auditMessages().contains(ADMIN + " deleted user " + JANE
                + ": role bindings removed, refresh tokens revoked"));

        refused(NOT_FOUND, () -> users.delete(JANE));
    }

    // ------------------------------------------------------------------ roles

    @Test
    void grantAndRevokeChangeTheBindingsAndRepeatingThemChangesNothing() {
        kube.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName("solution-a")
                .addToLabels(RoleAssignments.SOLUTION_LABEL, "true").endMetadata().build()).create();
        activeJane(Role.READ_ONLY);

        users.grant(JANE, Role.SOLUTION_ADMIN, false);
        assertEquals("read-only,solution-admin", record(JANE).get("roles"));
        assertEquals(List.of("User:oidc:" + JANE), clusterSubjects("dexauth:role:solution-admin-cluster"));
        assertEquals(List.of("User:oidc:" + JANE), namespaceSubjects("solution-a", "dexauth:role:solution-admin"));
        assertEquals("baseline", kube.namespaces().withName("solution-a").get().getMetadata().getLabels()
                .get("pod-security.kubernetes.io/enforce"));
        int events = auditMessages().size();
        users.grant(JANE, Role.SOLUTION_ADMIN, false);
        assertEquals(events, auditMessages().size(), "granting a held role is a no-op");

        users.grant(JANE, Role.SOLUTION_ADMIN, true);
        assertEquals("read-only", record(JANE).get("roles"));
        assertEquals(List.of(), clusterSubjects("dexauth:role:solution-admin-cluster"));
        assertEquals(List.of(), namespaceSubjects("solution-a", "dexauth:role:solution-admin"));
        assertEquals(List.of("User:oidc:" + JANE), clusterSubjects(READ_ONLY_BINDING));
        users.grant(JANE, Role.SOLUTION_ADMIN, true);
        assertEquals(events + 1, auditMessages().size(), "revoking a role not held is a no-op");

        refused(NOT_FOUND, () -> users.grant("nobody@example.com", Role.READ_ONLY, false));
        assertNull(record("nobody@example.com"));
    }

    @Test
    void groupGrantsBindTheGroupOfTheirIdpOnlyAndSurviveInTheCluster() {
        GroupGrants.Group ops = new GroupGrants.Group("corp", "cn=ops,ou=groups");
        GroupGrants.Group devs = new GroupGrants.Group("gitlab", "developers");
        users.grantGroup("corp", "cn=ops,ou=groups", Role.READ_ONLY, false);
        users.grantGroup("gitlab", "developers", Role.CLUSTER_ADMIN, false);

        assertEquals(Map.of(ops, Set.of(Role.READ_ONLY), devs, Set.of(Role.CLUSTER_ADMIN)), new GroupGrants(kube, NS).all());
        assertEquals(List.of("Group:oidc:corp:cn=ops,ou=groups"), clusterSubjects(READ_ONLY_BINDING));
        assertEquals(List.of("Group:oidc:gitlab:developers"), clusterSubjects("dexauth:role:cluster-admin"));

        users.grantGroup("corp", "cn=ops,ou=groups", Role.READ_ONLY, true);
        assertEquals(Map.of(devs, Set.of(Role.CLUSTER_ADMIN)), new GroupGrants(kube, NS).all());
        assertEquals(List.of(), clusterSubjects(READ_ONLY_BINDING));
        assertNotNull(kube.rbac().clusterRoleBindings().withName("dexauth:role:cluster-admin").get());

        refused(INVALID, () -> users.grantGroup("corp", " ", Role.READ_ONLY, false));
        refused(INVALID, () -> users.grantGroup(null, "ops", Role.READ_ONLY, false));
        refused(INVALID, () -> users.grantGroup("local", "ops", Role.READ_ONLY, false));
        assertEquals(Map.of(devs, Set.of(Role.CLUSTER_ADMIN)), new GroupGrants(kube, NS).all());
    }

    @Test
    void legacyGroupGrantsAreMigratedOnceToTheNamedIdps() {
        kube.configMaps().inNamespace(NS).resource(new io.fabric8.kubernetes.api.model.ConfigMapBuilder()
                .withNewMetadata().withName(GroupGrants.NAME).withNamespace(NS).endMetadata()
                .addToData(GroupGrants.LEGACY_KEY, "{\"ops\":[\"read-only\"]}").build()).create();
        List<String> warnings = new java.util.ArrayList<>();
        GroupGrants grants = new GroupGrants(kube, NS);
        assertFalse(grants.migrate(List.of("corp"), warnings, false).isEmpty());
        assertEquals(Map.of(new GroupGrants.Group("corp", "ops"), Set.of(Role.READ_ONLY)), grants.all());
        assertTrue(grants.migrate(List.of("corp"), warnings, false).isEmpty(), "migrated once");
        assertTrue(warnings.isEmpty(), warnings.toString());
    }

    // ------------------------------------------------------------------ hardening (issue 13)

    @Test
    void systemNamespacesNeverGetSolutionBindingsAndEveryStaleBindingGoes() {
        for (String ns : List.of("kube-system", "default", NS, "solution-a")) {
            kube.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName(ns)
                    .addToLabels(RoleAssignments.SOLUTION_LABEL, "true").endMetadata().build()).createOr(n -> n.update());
        }
        kube.rbac().roleBindings().inNamespace("kube-system").resource(new io.fabric8.kubernetes.api.model.rbac
                .RoleBindingBuilder().withNewMetadata().withName("dexauth:role:solution-admin").withNamespace("kube-system")
                .addToLabels("app.kubernetes.io/managed-by", "dexauth").endMetadata().withNewRoleRef()
                .withKind("ClusterRole").withName("dexauth:solution-admin").endRoleRef().build()).create();
        activeJane(Role.SOLUTION_ADMIN);

        assertEquals(List.of("User:oidc:" + JANE), namespaceSubjects("solution-a", "dexauth:role:solution-admin"));
        for (String ns : List.of("kube-system", "default", NS)) {
            assertNull(kube.rbac().roleBindings().inNamespace(ns).withName("dexauth:role:solution-admin").get(), ns);
            assertNull(kube.namespaces().withName(ns).get().getMetadata().getLabels()
                    .get("pod-security.kubernetes.io/enforce"), ns);
        }
        assertTrue(kube.v1().events().inNamespace(NS).list().getItems().stream()
                .anyMatch(e -> "SolutionNamespaceRefused".equals(e.getReason())
                        && "kube-system".equals(e.getMetadata().getAnnotations().get(RoleAssignments.REFUSED_NAMESPACE))
                        && "Warning".equals(e.getType())));

        users.delete(JANE);
        assertNull(kube.rbac().roleBindings().inNamespace("solution-a").withName("dexauth:role:solution-admin").get());
        assertEquals(List.of(), clusterSubjects("dexauth:role:solution-admin-cluster"));
    }

    @Test
    void aSuperAdminKnownOnlyToDexGetsANewOneTimePasswordAndNoBindingUntilItIsChanged() {
        char[] first = users.ensureSuperAdmin(ADMIN, "admin", java.time.Duration.ZERO).orElseThrow();
        assertTrue(new UserStore(kube, NS).pending(ADMIN), "pending until shown");
        users.superAdminShown(ADMIN);
        assertTrue(users.ensureSuperAdmin(ADMIN, "admin", java.time.Duration.ZERO).isEmpty(), "shown: kept");
        kube.configMaps().inNamespace(NS).withName(UserStore.objectName(ADMIN)).delete();

        char[] second = users.ensureSuperAdmin(ADMIN, "admin", java.time.Duration.ZERO).orElseThrow();
        assertTrue(dex.accepts(ADMIN, new String(second)));
        assertFalse(dex.accepts(ADMIN, new String(first)));
        assertEquals("true", record(ADMIN).get("mustChangePassword"));
        assertEquals("cluster-admin", record(ADMIN).get("roles"));
        assertEquals(List.of(), clusterSubjects("dexauth:role:cluster-admin"));
        char[] third = users.ensureSuperAdmin(ADMIN, "admin", java.time.Duration.ZERO).orElseThrow();
        assertTrue(dex.accepts(ADMIN, new String(third)), "still pending (never shown): a new one again");
    }

    @Test
    void deleteRemovesAUserKnownOnlyToDex() {
        users.add(JANE, null, EnumSet.noneOf(Role.class), FIRST.toCharArray());
        kube.configMaps().inNamespace(NS).withName(UserStore.objectName(JANE)).delete();
        users.delete(JANE);
        assertTrue(dex.password(JANE).isEmpty());
        refused(NOT_FOUND, () -> users.delete(JANE));
    }

    @Test
    void tooLongEmailsAndSystemGroupsAreRefusedSayingWhatIsAllowed() {
        RuntimeException e = refused(INVALID, () -> users.add("a".repeat(290) + "@example.com", null,
                EnumSet.noneOf(Role.class), FIRST.toCharArray()));
        assertTrue(e.getMessage().contains("at most 150 characters"), e.getMessage());
        e = refused(INVALID, () -> UserService.checkEmail("b".repeat(65) + "@example.com"));
        assertTrue(e.getMessage().contains("64 before the @"), e.getMessage());
        assertEquals("x".repeat(64) + "@example.com", UserService.checkEmail("x".repeat(64) + "@example.com"));
        refused(INVALID, () -> users.grantGroup("corp", "system:masters", Role.CLUSTER_ADMIN, false));
        refused(INVALID, () -> users.grantGroup("corp", "System:Authenticated", Role.READ_ONLY, false));
        assertTrue(new GroupGrants(kube, NS).all().isEmpty());
    }
}
