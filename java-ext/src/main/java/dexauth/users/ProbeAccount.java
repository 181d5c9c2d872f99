package dexauth.users;

import com.google.protobuf.ByteString;
import dexauth.dex.DexApi;
import dexauth.dex.PasswordHasher;
import dexauth.dex.grpc.CreatePasswordReq;
import dexauth.dex.grpc.DeletePasswordReq;
import dexauth.dex.grpc.Password;
import dexauth.dex.grpc.UpdatePasswordReq;
import dexauth.dex.grpc.VerifyPasswordReq;
import dexauth.errors.Invalid;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;

import java.nio.CharBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

/**
 * The reserved local account that kube-apiserver's health check logs in with after a node's
 * authentication changed (ApiserverHealth): a Dex password that never holds a role, whose password
 * only a Secret of the authentication namespace holds (Cluster Admins alone read Secrets there). No
 * person may add, delete, reset, grant or see it: {@link #refuse} is the one rule the user use-cases
 * apply, {@link #is} the one the listings apply.
 */
public final class ProbeAccount {
    /** A reserved top-level domain (RFC 2606): no real mailbox ever has this address. */
    public static final String EMAIL = "apiserver-probe@dexauth.invalid";
    public static final String SECRET = "dexauth-apiserver-probe";
    static final String KEY = "password";
    static final int PASSWORD_LENGTH = 32;
    private static final String MANAGED_BY = "app.kubernetes.io/managed-by";

    private ProbeAccount() {}

    public static boolean is(String email) {
        return email != null && EMAIL.equals(email.trim().toLowerCase(Locale.ROOT));
    }

    /** Refuses the reserved address as the target of a person's use-case. */
    public static String refuse(String email) {
        if (is(email)) {
            throw new Invalid("email", "'" + EMAIL + "' is reserved for the kube-apiserver health check (dexauth's"
                    + " probe account, which never holds a role): use another address");
        }
        return email;
    }

    /**
     * The account exists and the Secret holds a password Dex verifies; otherwise a new random password
     * (bcrypt-hashed here) is set in Dex and stored in the Secret. Returns what changed (never a password).
     */
    public static Map<String, String> ensure(KubernetesClient kube, DexApi dex, String namespace, int bcryptCost,
                                             boolean dryRun) {
        Map<String, String> changes = new LinkedHashMap<>();
        Optional<char[]> stored = password(kube, namespace);
        boolean verified = false;
        if (stored.isPresent()) {
            var answer = dex.stub().verifyPassword(VerifyPasswordReq.newBuilder().setEmail(EMAIL)
                    .setPassword(new String(stored.get())).build());
            verified = answer.getVerified() && !answer.getNotFound();
            PasswordHasher.wipe(stored.get());
        }
        if (verified) return changes;
        changes.put("user/" + EMAIL, (stored.isPresent() ? "new password (Dex did not verify the stored one)"
                : "password set") + ", kept in secret/" + namespace + "/" + SECRET);
        if (dryRun) return changes;
        char[] fresh = PasswordHasher.randomPassword(PASSWORD_LENGTH);
        try {
            ByteString hash = ByteString.copyFrom(PasswordHasher.hash(fresh, bcryptCost));
            boolean notFound = dex.stub().updatePassword(UpdatePasswordReq.newBuilder().setEmail(EMAIL).setNewHash(hash)
                    .build()).getNotFound();
            if (notFound) {
                Password p = Password.newBuilder().setEmail(EMAIL).setUsername("apiserver-probe")
                        .setUserId(UUID.randomUUID().toString()).setHash(hash).build();
                dex.stub().createPassword(CreatePasswordReq.newBuilder().setPassword(p).build());
            }
            // Dex first: if this write fails, the next run finds a password Dex does not verify and starts over.
            byte[] raw = StandardCharsets.UTF_8.encode(CharBuffer.wrap(fresh)).array();
            String data = Base64.getEncoder().encodeToString(java.util.Arrays.copyOf(raw, fresh.length));
            java.util.Arrays.fill(raw, (byte) 0);
            kube.secrets().inNamespace(namespace).resource(new SecretBuilder().withNewMetadata().withName(SECRET)
                    .withNamespace(namespace).addToLabels(MANAGED_BY, "dexauth").endMetadata().withType("Opaque")
                    .addToData(KEY, data).build()).serverSideApply();
        } finally {
            PasswordHasher.wipe(fresh);
        }
        return changes;
    }

    /** The stored password, if the Secret holds one. */
    public static Optional<char[]> password(KubernetesClient kube, String namespace) {
        Secret s = kube.secrets().inNamespace(namespace).withName(SECRET).get();
        String data = s == null || s.getData() == null ? null : s.getData().get(KEY);
        if (data == null || data.isEmpty()) return Optional.empty();
        byte[] raw = Base64.getDecoder().decode(data);
        char[] out = StandardCharsets.UTF_8.decode(java.nio.ByteBuffer.wrap(raw)).array();
        java.util.Arrays.fill(raw, (byte) 0);
        return Optional.of(out);
    }

    /**
     * Removes the account from Dex ({@code dex} null: Dex is gone, its users with it or with the purge)
     * and the Secret.
     */
    public static Map<String, String> remove(KubernetesClient kube, DexApi dex, String namespace, boolean dryRun) {
        Map<String, String> changes = new LinkedHashMap<>();
        if (dex != null) {
            boolean inDex = dex.stub().listPasswords(dexauth.dex.grpc.ListPasswordReq.getDefaultInstance())
                    .getPasswordsList().stream().anyMatch(p -> is(p.getEmail()));
            if (inDex) {
                changes.put("user/" + EMAIL, "deleted");
                if (!dryRun) dex.stub().deletePassword(DeletePasswordReq.newBuilder().setEmail(EMAIL).build());
            }
        }
        if (kube.secrets().inNamespace(namespace).withName(SECRET).get() != null) {
            changes.put("secret/" + namespace + "/" + SECRET, "deleted");
            if (!dryRun) kube.secrets().inNamespace(namespace).withName(SECRET).delete();
        }
        return changes;
    }
}
