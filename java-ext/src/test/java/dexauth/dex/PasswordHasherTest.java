package dexauth.dex;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dexauth.errors.Invalid;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class PasswordHasherTest {
    private static final char[] PASSWORD = "correct horse battery staple".toCharArray();

    @Test
    void hashIsBcrypt2aWithTheRequestedCost() {
        String hash = new String(PasswordHasher.hash(PASSWORD, 12), StandardCharsets.US_ASCII);
        assertTrue(hash.startsWith("$2a$12$"), hash);
        assertEquals(60, hash.length());
    }

    @Test
    void matchesOnlyTheRightPassword() {
        byte[] hash = PasswordHasher.hash(PASSWORD, 10);
        assertTrue(PasswordHasher.matches(PASSWORD, hash));
        assertFalse(PasswordHasher.matches("correct horse battery stapler".toCharArray(), hash));
    }

    @Test
    void sameLengthPasswordsGetDifferentSalts() {
        assertNotEquals(new String(PasswordHasher.hash(PASSWORD, 10), StandardCharsets.US_ASCII),
                new String(PasswordHasher.hash(PASSWORD, 10), StandardCharsets.US_ASCII));
    }

    @ParameterizedTest
    @ValueSource(ints = {9, 17})
    void costOutsideTenToSixteenIsRejected(int cost) {
        Invalid e = assertThrows(Invalid.class, () -> PasswordHasher.hash(PASSWORD, cost));
        assertTrue(e.getMessage().contains(Integer.toString(cost)), e::getMessage);
    }

    @Test
    void randomPasswordsHaveTheLengthAndDiffer() {
        char[] first = PasswordHasher.randomPassword(24);
        char[] second = PasswordHasher.randomPassword(24);
        assertEquals(24, first.length);
        assertEquals(24, second.length);
        assertNotEquals(new String(first), new String(second));
    }

    @Test
    void randomPasswordsAvoidAmbiguousCharacters() {
        String pw = new String(PasswordHasher.randomPassword(500));
        assertTrue(pw.chars().noneMatch(c -> "0O1lI ".indexOf(c) >= 0), pw);
    }

    @Test
    void wipeClearsTheSecret() {
        char[] secret = "s3cret".toCharArray();
        PasswordHasher.wipe(secret);
        assertEquals(new String(new char[6]), new String(secret));
    }
}
