package dexauth.loginguard;

import java.time.Instant;

/** Tells operators that an account was locked (a Kubernetes Event). */
public interface LockoutEvents {
    void lockedOut(AccountKey account, int failures, Instant until);
}
