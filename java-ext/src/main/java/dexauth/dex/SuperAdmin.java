package dexauth.dex;

import com.google.protobuf.ByteString;
import dexauth.dex.grpc.CreatePasswordReq;
import dexauth.dex.grpc.CreatePasswordResp;
import dexauth.dex.grpc.ListPasswordReq;
import dexauth.dex.grpc.Password;

import java.util.Optional;
import java.util.UUID;

/**
 * The super-admin: a local Dex user created once with a random strong password. Its
 * password is handed back to the caller exactly once, on creation, and never stored here.
 */
public final class SuperAdmin {
    public static final int PASSWORD_LENGTH = 24;
    private static final java.time.Duration WAIT = java.time.Duration.ofSeconds(120);

    /** Result of {@link #ensure}: the one-time password when the user was just created. */
    public record Outcome(boolean created, Optional<char[]> initialPassword) {}

    private SuperAdmin() {}

    public static boolean exists(DexApi dex, String email) {
        return dex.retrying(() -> dex.stub().listPasswords(ListPasswordReq.getDefaultInstance()), WAIT)
                .getPasswordsList().stream().anyMatch(p -> p.getEmail().equalsIgnoreCase(email));
    }

    public static Outcome ensure(DexApi dex, String email, String username, int bcryptCost, boolean dryRun) {
        if (exists(dex, email)) return new Outcome(false, Optional.empty());
        if (dryRun) return new Outcome(true, Optional.empty());
        char[] password = PasswordHasher.randomPassword(PASSWORD_LENGTH);
        byte[] hash = PasswordHasher.hash(password, bcryptCost);
        CreatePasswordReq req = CreatePasswordReq.newBuilder().setPassword(
                Password.newBuilder().setEmail(email).setUsername(username).setUserId(UUID.randomUUID().toString())
                        .setHash(ByteString.copyFrom(hash))).build();
        CreatePasswordResp resp = dex.retrying(() -> dex.stub().createPassword(req), WAIT);
        if (resp.getAlreadyExists()) {
            // Created concurrently by someone else: theirs stands, and we print nothing.
            PasswordHasher.wipe(password);
            return new Outcome(false, Optional.empty());
        }
        return new Outcome(true, Optional.of(password));
    }
}
