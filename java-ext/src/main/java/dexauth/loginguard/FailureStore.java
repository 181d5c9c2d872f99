package dexauth.loginguard;

import java.util.List;
import java.util.Optional;

/**
 * Where the guard keeps failure records, shared by every replica and kept across restarts.
 * Writes are conditional: {@link #create} fails when the record exists, {@link #replace} when
 * it changed since it was read; the guard then reads again.
 */
public interface FailureStore {
    Optional<FailureRecord> get(AccountKey account);

    /** False when another writer created it first. */
    boolean create(FailureRecord record);

    /** False when the stored record is no longer {@code record.version()}. */
    boolean replace(FailureRecord record);

    /** Removes the record; false when there was none. */
    boolean delete(AccountKey account);

    /** Every record (for the sweep of expired ones). */
    List<FailureRecord> all();

    /** Removes the record only if it is still {@code record.version()}. */
    void deleteIfUnchanged(FailureRecord record);
}
