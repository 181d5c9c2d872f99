package dexauth.users;

import java.util.Locale;
import java.util.Optional;
import java.util.Set;

/** Rules a new password must pass before it is hashed. Pure logic. */
public record PasswordPolicy(int minLength) {
    /** A small list of passwords every attacker tries first (lowercase). */
    static final Set<String> COMMON = Set.of("password", "password1", "password12", "password123",
            "password1234", "123456789012", "1234567890123", "qwertyuiopas", "qwerty123456", "letmein12345",
            "welcome12345", "iloveyou1234", "administrator", "admin1234567", "changeme1234", "passw0rd1234",
            "p@ssw0rd1234", "abc123456789", "trustno1trustno1", "kubernetes123", "monkey123456",
            "football1234", "baseball1234", "sunshine1234", "princess1234", "dragon123456", "superman1234",
            "qwertyqwerty", "aaaaaaaaaaaa", "111111111111", "000000000000", "correcthorse");

    public PasswordPolicy {
        if (minLength < 8) throw new dexauth.errors.Invalid("password minimum length", "minimum password length must be at least 8");
    }

    public static PasswordPolicy defaults() { return new PasswordPolicy(12); }

    /** Empty when acceptable; otherwise what is wrong (never echoing the password). */
    public Optional<String> check(char[] password, String email) {
        String pw = new String(password);
        if (pw.length() < minLength) {
            return Optional.of("password too short: at least " + minLength + " characters are required");
        }
        String local = email == null ? "" : email.split("@", 2)[0].toLowerCase(Locale.ROOT);
        if (local.length() >= 3 && pw.toLowerCase(Locale.ROOT).contains(local)) {
            return Optional.of("password must not contain the email's name part ('" + local + "')");
        }
        if (COMMON.contains(pw.toLowerCase(Locale.ROOT))) {
            return Optional.of("password is in the list of common passwords; choose another");
        }
        if (pw.chars().distinct().count() < 4) {
            return Optional.of("password uses fewer than 4 different characters; choose another");
        }
        return Optional.empty();
    }
}
