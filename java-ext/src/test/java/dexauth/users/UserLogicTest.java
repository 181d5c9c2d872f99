package dexauth.users;

import dexauth.errors.Invalid;
import dexauth.rbac.Role;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class UserLogicTest {
    private final PasswordPolicy policy = PasswordPolicy.defaults();

    private static io.fabric8.kubernetes.api.model.ConfigMap record(String name, java.util.Map<String, String> data) {
        return new io.fabric8.kubernetes.api.model.ConfigMapBuilder().withNewMetadata().withName(name).endMetadata()
                .withData(data).build();
    }

    @Test
    void userRecordsAreCheckedWhenRead() {
        String jane = "jane@example.com";
        var good = java.util.Map.of("email", jane, "roles", "read-only,cluster-admin", "mustChangePassword", "false");
        UserRecord u = UserStore.fromConfigMap(record(UserStore.objectName(jane), good));
        assertEquals(java.util.Set.of(Role.READ_ONLY, Role.CLUSTER_ADMIN), u.roles());

        java.util.Map<String, String> reasons = new java.util.LinkedHashMap<>();
        reasons.put("no data", UserStore.objectName(jane));
        reasons.put("does not match its email", "dexauth-user-forged");
        for (var e : reasons.entrySet()) {
            var data = e.getKey().equals("no data") ? java.util.Map.<String, String>of() : good;
            var err = assertThrows(Invalid.class, () -> UserStore.fromConfigMap(record(e.getValue(), data)));
            assertTrue(err.getMessage().contains(e.getKey()), err.getMessage());
        }
        var badRole = new java.util.HashMap<>(good);
        badRole.put("roles", "root");
        assertTrue(assertThrows(Invalid.class, () -> UserStore.fromConfigMap(record(UserStore.objectName(jane), badRole)))
                .getMessage().contains("root"));
        var badFlag = new java.util.HashMap<>(good);
        badFlag.put("mustChangePassword", "maybe");
        assertThrows(Invalid.class, () -> UserStore.fromConfigMap(record(UserStore.objectName(jane), badFlag)));
        var badEmail = new java.util.HashMap<>(good);
        badEmail.put("email", "not-an-email");
        assertThrows(Invalid.class, () -> UserStore.fromConfigMap(record(UserStore.objectName("not-an-email"), badEmail)));
    }

    @Test
    void driftNamesTheBindingsBeyondAndShortOfTheStoredRolesAndTheFix() {
        assertEquals("", UserService.drift(null, java.util.Set.of(Role.READ_ONLY), java.util.Set.of(Role.READ_ONLY)));
        String d = UserService.drift(null, java.util.Set.of(Role.CLUSTER_ADMIN), java.util.Set.of(Role.READ_ONLY));
        assertTrue(d.contains("still bound as read-only") && d.contains("not bound as cluster-admin")
                && d.contains("state.apply dexauth.roles"), d);
        assertEquals("missing in Dex", UserService.drift("missing in Dex", java.util.Set.of(), java.util.Set.of()));
    }

    @Test
    void localSubjectMatchesTheSubOfARealDexToken() {
        // sub of an ID token Dex v2.45.1 issued for a local user with this user id
        assertEquals("CiQ5NzZhMjA4MC01ZTUxLTQ2ZTctOTk4ZC1hY2E3MDdlZTA2NDESBWxvY2Fs",
                UserService.localSubject("976a2080-5e51-46e7-998d-aca707ee0641"));
    }

    @Test
    void policyRefusesShortCommonAndNamePasswords() {
        assertTrue(policy.check("Short-1".toCharArray(), "jane@example.com").orElseThrow().contains("too short"));
        assertTrue(policy.check("password1234".toCharArray(), "x@example.com").orElseThrow().contains("common"));
        assertTrue(policy.check("my-Jane-secret-9".toCharArray(), "jane@example.com").orElseThrow().contains("jane"));
        assertTrue(policy.check("aaaaaaaaaaaab".toCharArray(), "x@example.com").orElseThrow().contains("different"));
        assertTrue(policy.check("Copper-Harbor-7265".toCharArray(), "jane@example.com").isEmpty());
    }

    @Test
    void policyMessagesNeverEchoThePassword() {
        String pw = "Sh0rt!";
        assertTrue(!policy.check(pw.toCharArray(), "a@b.io").orElseThrow().contains(pw));
    }

    @Test
    void invalidEmailsAreRefusedWithTheirValue() {
        var e = assertThrows(Invalid.class, () -> UserService.checkEmail("not-an-email"));
        assertEquals("email", e.field());
        assertTrue(e.getMessage().contains("not-an-email"));
        assertEquals("jane@example.com", UserService.checkEmail("Jane@Example.com"));
    }

    @Test
    void rolesParseLooselyAndRejectUnknownOnes() {
        assertEquals(Role.SOLUTION_ADMIN, Role.parse("Solution Admin"));
        assertEquals(Role.READ_ONLY, Role.parse("read_only"));
        var e = assertThrows(Invalid.class, () -> Role.parse("root"));
        assertTrue(e.getMessage().contains("cluster-admin, solution-admin, read-only"));
    }

    @Test
    void objectNamesAreStableAndCaseInsensitive() {
        assertEquals(UserStore.objectName("Jane@Example.com"), UserStore.objectName("jane@example.com"));
        assertTrue(UserStore.objectName("jane@example.com").matches("dexauth-user-[0-9a-f]{20}"));
    }
}
