"""The one way tests wait for something: ``wait_until(predicate, timeout, what)``.

Thin wrappers elsewhere add meaning on top of it (a server process that died fails at once,
with its log; a browser adds the page it shows), never a loop of their own.
"""
import time

__all__ = ["WaitTimeout", "wait_until"]


class WaitTimeout(AssertionError):
    """``what`` did not happen in time: a test failure, not an error of the test's machinery."""


def wait_until(predicate, timeout=120, what="condition", *, interval=0.5, retry_on=(Exception,), abort=None,
               describe=None, error=WaitTimeout):
    """Calls ``predicate()`` until it returns something true, and returns that value.

    It is always called at least once, also with ``timeout=0``. Exceptions of a type in
    ``retry_on`` count as "not yet" (the last one is named in the failure); others propagate.
    ``abort()``, called before each try, may raise to stop early (e.g. the server died);
    ``describe()`` adds what a reader needs to the failure (e.g. the last lines of a log);
    ``error`` makes the exception from its message (default WaitTimeout, an AssertionError).
    """
    deadline = time.monotonic() + timeout
    last = None
    while True:
        if abort is not None:
            abort()
        try:
            value = predicate()
            if value:
                return value
        except retry_on as e:
            last = e
        if time.monotonic() >= deadline:
            detail = describe() if describe is not None else ""
            raise error(f"{what} not reached within {timeout}s (last error: {last}){detail}")
        time.sleep(interval)
