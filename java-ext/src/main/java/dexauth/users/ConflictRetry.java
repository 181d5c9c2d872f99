package dexauth.users;

import dexauth.dex.DexApi;
import dexauth.errors.Conflict;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.grpc.StatusRuntimeException;

import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Supplier;

/**
 * Optimistic concurrency for read-modify-write of stored records: an attempt whose write Kubernetes
 * refused with 409 (the object changed since it was read, or was created meanwhile) runs again from
 * the read, after a short random pause so that racing writers spread out. Dex's own writes to its
 * Kubernetes storage race the same way ({@link DexApi#isStorageConflict}) and are retried alike.
 */
final class ConflictRetry {
    static final int ATTEMPTS = 12;

    private ConflictRetry() {}

    static <T> T run(Supplier<T> attempt) {
        for (int i = 1; ; i++) {
            try {
                return attempt.get();
            } catch (KubernetesClientException e) {
                if (e.getCode() != 409) throw e;
                giveUpAfter(i);
            } catch (StatusRuntimeException e) {
                if (!DexApi.isStorageConflict(e)) throw e;
                giveUpAfter(i);
            }
        }
    }

    private static void giveUpAfter(int attempt) {
        if (attempt >= ATTEMPTS) {
            throw new Conflict("the record kept changing while being written (" + ATTEMPTS + " attempts); retry");
        }
        pause(attempt);
    }

    private static void pause(int attempt) {
        try {
            Thread.sleep(ThreadLocalRandom.current().nextLong(10, 40L * Math.min(attempt, 8)));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while retrying a conflicting write", e);
        }
    }
}
