package dexauth.loginguard;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LoginGuardTest {
    /** The store's contract (conditional writes on a version), in memory. */
    static final class MemoryStore implements FailureStore {
        final Map<AccountKey, FailureRecord> records = new HashMap<>();
        int version;
        /** Writes that fail as if another replica had written first. */
        int conflicts;

        @Override public Optional<FailureRecord> get(AccountKey a) { return Optional.ofNullable(records.get(a)); }
        @Override public boolean create(FailureRecord r) {
            if (conflicts > 0) { conflicts--; return false; }
            if (records.containsKey(r.account())) return false;
            records.put(r.account(), stamped(r));
            return true;
        }
        @Override public boolean replace(FailureRecord r) {
            if (conflicts > 0) { conflicts--; return false; }
            FailureRecord cur = records.get(r.account());
            if (cur == null || !cur.version().equals(r.version())) return false;
            records.put(r.account(), stamped(r));
            return true;
        }
        @Override public boolean delete(AccountKey a) { return records.remove(a) != null; }
        @Override public List<FailureRecord> all() { return new ArrayList<>(records.values()); }
        @Override public void deleteIfUnchanged(FailureRecord r) {
            FailureRecord cur = records.get(r.account());
            if (cur != null && cur.version().equals(r.version())) records.remove(r.account());
        }
        private FailureRecord stamped(FailureRecord r) {
            return new FailureRecord(r.account(), r.failures(), r.windowStart(), r.lockedUntil(), Integer.toString(++version));
        }
    }

    private final ManualClock clock = new ManualClock();
    private final MemoryStore store = new MemoryStore();
    private final List<String> events = new ArrayList<>();
    private final GuardPolicy policy = new GuardPolicy(5, Duration.ofMinutes(15), Duration.ofMinutes(30), 20,
            Duration.ofMinutes(15), Duration.ofMillis(500));
    private final LoginGuard guard = new LoginGuard(store, policy, clock,
            (account, failures, until) -> events.add(account + " " + failures + " " + until));
    private final AccountKey jane = AccountKey.local("Jane@Example.com");

    @Test
    void locksAfterTheLimitAndTellsOnce() {
        for (int i = 0; i < 5; i++) {
            assertTrue(guard.check(jane, "10.0.0.1").isEmpty(), "attempt " + (i + 1) + " may reach Dex");
            guard.failed(jane, "10.0.0.1");
        }
        Optional<LoginGuard.Refusal> r = guard.check(AccountKey.local("jane@example.com"), "10.0.0.2");
        assertEquals(LoginGuard.Reason.LOCKED, r.orElseThrow().reason(), "the same account whatever the case, from any address");
        assertEquals(Duration.ofMinutes(30), r.get().retryAfter());
        assertEquals(1, events.size(), "one Event per lockout: " + events);
        guard.failed(jane, "10.0.0.1"); // an attempt that was under way when the lock came
        assertEquals(1, events.size());
        clock.advance(Duration.ofMinutes(31));
        assertTrue(guard.check(jane, "10.0.0.3").isEmpty(), "the lockout ends by itself");
        guard.failed(jane, "10.0.0.3");
        assertEquals(1, store.records.get(jane).failures(), "after a lockout the count starts again");
    }

    @Test
    void failuresOutsideTheWindowDoNotAddUp() {
        for (int i = 0; i < 4; i++) guard.failed(jane, "a");
        clock.advance(Duration.ofMinutes(16));
        guard.failed(jane, "a");
        assertTrue(guard.check(jane, "a").isEmpty());
        assertEquals(1, store.records.get(jane).failures());
    }

    @Test
    void successForgetsTheFailuresAndUnlockEndsALock() {
        for (int i = 0; i < 4; i++) guard.failed(jane, "a");
        guard.succeeded(jane);
        assertTrue(store.records.isEmpty());
        for (int i = 0; i < 5; i++) guard.failed(jane, "a");
        assertFalse(guard.check(jane, "b").isEmpty());
        assertTrue(store.delete(jane), "unlock removes the record");
        assertTrue(guard.check(jane, "b").isEmpty());
    }

    @Test
    void concurrentWritersAreRetriedNotLost() {
        store.conflicts = 3;
        guard.failed(jane, "a");
        assertEquals(1, store.records.get(jane).failures());
        store.conflicts = 2;
        guard.failed(jane, "a");
        assertEquals(2, store.records.get(jane).failures());
    }

    @Test
    void anAddressIsLimitedAcrossAccounts() {
        for (int i = 0; i < 20; i++) guard.failed(AccountKey.local("user" + i + "@example.com"), "10.9.9.9");
        assertEquals(LoginGuard.Reason.ADDRESS_LIMITED,
                guard.check(AccountKey.local("someone@example.com"), "10.9.9.9").orElseThrow().reason());
        assertTrue(guard.check(AccountKey.local("someone@example.com"), "10.9.9.8").isEmpty());
    }

    @Test
    void theSweepRemovesOnlyWhatNoLongerCounts() {
        guard.failed(AccountKey.local("old@example.com"), "a");
        clock.advance(Duration.ofMinutes(10));
        for (int i = 0; i < 5; i++) guard.failed(jane, "a");
        guard.failed(AccountKey.local("recent@example.com"), "a");
        clock.advance(Duration.ofMinutes(6));
        assertEquals(1, guard.sweep());
        assertEquals(2, store.records.size(), "a locked account and a recent failure stay");
    }

    @Test
    void accountKeysNameNoPasswordAndFitKubernetes() {
        String name = AccountKey.local("Jane@Example.com").objectName();
        assertEquals(name, AccountKey.local(" jane@example.com ").objectName());
        assertTrue(name.matches("dexauth-login-[0-9a-f]{40}"), name);
        assertFalse(name.equals(new AccountKey("ldap", "jane@example.com").objectName()), "per connector");
        assertEquals(new AccountKey("corp", "alice"), AccountKey.named("Alice", "corp"), "directory logins need no @");
        assertThrows(dexauth.errors.Invalid.class, () -> AccountKey.named("alice", null), "a local user is an email");
        assertThrows(dexauth.errors.Invalid.class, () -> AccountKey.named(" ", "corp"));
    }
}
