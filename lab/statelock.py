"""A state run on a lab minion, once no other state run holds the minion's state lock.

The dexauth.roles schedule (kept in the minion's configuration of a re-used lab root) may be
running when the lab applies its own states. Salt's queue=True is no answer: Salt 3008 then
replies "queued" at once, before the run, with no result to check."""
import time


def held(result):
    """Whether a minion's state.apply answer is Salt's refusal to run beside another state run (e.g.
    the dexauth.roles schedule, kept with a re-used lab root)."""
    return isinstance(result, list) and any("is running as PID" in str(line) for line in result)


def until_free(apply, what, timeout=300):
    """Calls ``apply()`` until it ran (True), i.e. found no other state run holding the minion's lock.
    Not Salt's queue=True: Salt 3008 then answers "queued" at once, before the run."""
    deadline = time.time() + timeout
    while not apply():
        if time.time() > deadline:
            raise SystemExit(f"labctl: {what}: another state run kept the minion busy for {timeout}s")
        time.sleep(1)
