package dexauth.users;

import dexauth.dex.grpc.ListPasswordReq;
import dexauth.dex.grpc.VerifyPasswordReq;
import dexauth.rbac.Role;
import io.fabric8.kubernetes.api.model.Secret;
import org.junit.jupiter.api.Test;

import java.util.EnumSet;
import java.util.Map;

import static dexauth.users.UserServiceTest.INVALID;
import static dexauth.users.UserServiceTest.refused;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** kube-apiserver's probe account: kept by the deployment, refused to every person's use-case, listed nowhere. */
class ProbeAccountTest extends UserServiceFixture {
    static final String PROBE = ProbeAccount.EMAIL;


    boolean dexVerifies(char[] password) {
        return dex.api.stub().verifyPassword(VerifyPasswordReq.newBuilder().setEmail(PROBE)
                .setPassword(new String(password)).build()).getVerified();
    }

    @Test
    void theReservedAddressIsAValidEmailAndReservedWhateverItsCase() {
        assertEquals(PROBE, UserService.checkEmail(PROBE));
        assertTrue(ProbeAccount.is("  APIServer-Probe@DexAuth.Invalid "));
        assertFalse(ProbeAccount.is("apiserver-probe@dexauth.example"));
        assertFalse(ProbeAccount.is(null));
        String msg = refused(INVALID, () -> UserService.checkUserEmail(PROBE.toUpperCase())).getMessage();
        assertTrue(msg.contains("reserved for the kube-apiserver health check"), msg);
        assertEquals("jane@example.com", UserService.checkUserEmail("Jane@Example.com"));
    }

    @Test
    void ensureSetsAPasswordOnceAndARerunChangesNothing() {
        Map<String, String> first = ProbeAccount.ensure(kube, dex.api, NS, 10, false);
        assertEquals(1, first.size(), first::toString);
        char[] stored = ProbeAccount.password(kube, NS).orElseThrow();
        assertEquals(ProbeAccount.PASSWORD_LENGTH, stored.length);
        assertTrue(dexVerifies(stored));
        first.values().forEach(v -> assertFalse(v.contains(new String(stored)), "a password in the report"));

        assertEquals(Map.of(), ProbeAccount.ensure(kube, dex.api, NS, 10, false));
        assertEquals(new String(stored), new String(ProbeAccount.password(kube, NS).orElseThrow()));
    }

    @Test
    void aPasswordDexNoLongerVerifiesIsReplacedAndADryRunOnlySaysSo() {
        ProbeAccount.ensure(kube, dex.api, NS, 10, false);
        char[] before = ProbeAccount.password(kube, NS).orElseThrow();
        kube.secrets().inNamespace(NS).withName(ProbeAccount.SECRET).edit(s -> {
            s.getData().put(ProbeAccount.KEY, java.util.Base64.getEncoder().encodeToString("not-it".getBytes()));
            return s;
        });

        assertEquals(1, ProbeAccount.ensure(kube, dex.api, NS, 10, true).size());
        assertEquals("not-it", new String(ProbeAccount.password(kube, NS).orElseThrow()));

        assertEquals(1, ProbeAccount.ensure(kube, dex.api, NS, 10, false).size());
        char[] after = ProbeAccount.password(kube, NS).orElseThrow();
        assertNotEquals(new String(before), new String(after));
        assertTrue(dexVerifies(after));
        assertFalse(dexVerifies(before));
    }

    @Test
    void noPersonsUseCaseTouchesItAndNoListingShowsIt() {
        ProbeAccount.ensure(kube, dex.api, NS, 10, false);
        for (org.junit.jupiter.api.function.Executable call : new org.junit.jupiter.api.function.Executable[]{
                () -> users.add(PROBE, null, EnumSet.of(Role.CLUSTER_ADMIN), "Lantern-Quartz-4417".toCharArray()),
                () -> users.delete(PROBE),
                () -> users.grant(PROBE, Role.READ_ONLY, false),
                () -> users.resetPassword(PROBE, "Lantern-Quartz-4417".toCharArray()),
                () -> users.show(PROBE)}) {
            assertTrue(refused(INVALID, call).getMessage().contains("kube-apiserver health check"));
        }
        assertTrue(dexVerifies(ProbeAccount.password(kube, NS).orElseThrow()), "still there, its password unchanged");
        assertTrue(users.list().stream().noneMatch(r -> ProbeAccount.is(r.email())), users.list()::toString);
    }

    @Test
    void removeDeletesTheAccountAndTheSecretThenHasNothingToDo() {
        ProbeAccount.ensure(kube, dex.api, NS, 10, false);
        assertEquals(2, ProbeAccount.remove(kube, dex.api, NS, false).size());
        Secret gone = kube.secrets().inNamespace(NS).withName(ProbeAccount.SECRET).get();
        assertNull(gone);
        assertTrue(dex.api.stub().listPasswords(ListPasswordReq.getDefaultInstance()).getPasswordsList().isEmpty());
        assertEquals(Map.of(), ProbeAccount.remove(kube, dex.api, NS, false));
    }
}
