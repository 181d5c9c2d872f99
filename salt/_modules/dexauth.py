"""Execution module: the bridge from Salt to the dexauth Java engine (authctl).

Requests go to ``authctl engine session`` as one JSON line each on stdin, so no secret
ever appears in a process argument list, and each JSON reply comes back as a dict. One
session (one JVM) serves every engine call of a state run: a JVM start costs about half
a second, and a state run makes several calls. The engine reports ``changed`` /
``changes`` truthfully; the state module (salt/_states/dexauth.py) turns that into
Salt's changes. Every failure raises ``CommandExecutionError`` with a message that is
safe to show (the engine never echoes secrets).

CLI examples::

    salt-call dexauth.version
    salt-call dexauth.engine config.validate request='{"pillar": {...}}'
"""
import atexit
import json
import logging
import os
import selectors
import subprocess
import tempfile
import threading
import time

from salt.exceptions import CommandExecutionError

log = logging.getLogger(__name__)

__virtualname__ = "dexauth"

# The engine ends a session after 120 s without a request; reusing one only while it has
# been idle for less than half that leaves no race with that exit.
_REUSE_SECONDS = 60

# Counted so orchestration benchmarks can report how often the JVM was started.
_STATS = {"calls": 0, "seconds": 0.0, "jvm_starts": 0}

_LOCK = threading.Lock()
_SESSION = {}


def __virtual__():
    return __virtualname__


def _authctl():
    return __opts__.get("dexauth_authctl") or __salt__["config.get"]("dexauth_authctl", "authctl")


class _Session:
    """One ``authctl engine session`` process, owned by the process that started it."""

    def __init__(self, authctl):
        self.authctl = authctl
        self.pid = os.getpid()
        self.stderr = tempfile.TemporaryFile()
        try:
            self.proc = subprocess.Popen(
                [authctl, "engine", "session"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self.stderr,
                env={**os.environ, "AUTHCTL_CALLER": "salt"},
            )
        except FileNotFoundError:
            raise CommandExecutionError(
                "authctl not found at '{}'; set dexauth_authctl in the minion config".format(authctl)
            )
        except PermissionError:
            raise CommandExecutionError("authctl at '{}' is not executable (chmod +x it)".format(authctl))
        self.buffer = b""
        self.last_used = time.monotonic()

    def usable(self, authctl):
        # A forked child (a parallel state) must not share its parent's pipes.
        return (self.pid == os.getpid() and self.authctl == authctl and self.proc.poll() is None
                and time.monotonic() - self.last_used < _REUSE_SECONDS)

    def call(self, operation, request, timeout):
        line = json.dumps({"operation": operation, "request": request}) + "\n"
        try:
            self.proc.stdin.write(line.encode("utf-8"))
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise self._died(operation)
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stdout, selectors.EVENT_READ)
            while True:
                while b"\n" in self.buffer:
                    raw, self.buffer = self.buffer.split(b"\n", 1)
                    reply = _json_object(raw.decode("utf-8", "replace"))
                    if reply is not None:  # anything else on stdout (JVM notices) is ignored
                        self.last_used = time.monotonic()
                        return reply
                left = deadline - time.monotonic()
                if left <= 0:
                    self.proc.kill()
                    self.close()
                    raise CommandExecutionError(
                        "engine operation {} did not finish within {} s".format(operation, timeout)
                    )
                if not sel.select(left):
                    continue
                chunk = os.read(self.proc.stdout.fileno(), 65536)
                if not chunk:
                    raise self._died(operation)
                self.buffer += chunk

    def _died(self, operation):
        """The engine ended without a reply (a launcher build failure, a crash): say why."""
        try:
            code = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            code = None
        self.stderr.seek(0)
        # The launcher's stderr (e.g. a Maven build failure) bears no secret.
        err = self.stderr.read().decode("utf-8", "replace").strip()[-2000:]
        self.close()
        return CommandExecutionError(
            "engine operation {} returned no JSON (exit {}): {}".format(operation, code, err)
        )

    def close(self):
        # End of input ends the session; nobody waits for the JVM to exit.
        for stream in (self.proc.stdin, self.proc.stdout, self.stderr):
            try:
                stream.close()
            except OSError:
                pass


def _json_object(line):
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        return json.loads(line)
    except ValueError:
        return None


@atexit.register
def _close_session():
    current = _SESSION.pop("current", None)
    if current is not None and current.pid == os.getpid():
        current.close()


def _session(authctl):
    current = _SESSION.get("current")
    if current is not None and current.usable(authctl):
        return current
    if current is not None and current.pid == os.getpid():
        current.close()
    _SESSION["current"] = _Session(authctl)
    _STATS["jvm_starts"] += 1
    return _SESSION["current"]


def engine(operation, request=None, test=False, timeout=600):
    """
    Run one engine operation and return its JSON reply; raise ``CommandExecutionError``
    when the engine refuses or fails.

    operation
        Engine operation name, e.g. ``certs.ensure``.
    request
        Dict (or JSON string) sent to the engine.
    test
        Report what would change without changing it.
    """
    if isinstance(request, str):
        request = json.loads(request)
    payload = dict(request or {})
    payload["test"] = bool(test)
    started = time.monotonic()
    with _LOCK:
        starts = _STATS["jvm_starts"]
        try:
            reply = _session(_authctl()).call(operation, payload, timeout)
        finally:
            seconds = time.monotonic() - started
            _STATS["calls"] += 1
            _STATS["seconds"] += seconds
            _record_stats(operation, seconds, _STATS["jvm_starts"] - starts)
    if not reply.get("result"):
        raise CommandExecutionError(reply.get("error") or "engine operation {} failed".format(operation))
    return reply


def _record_stats(operation, seconds, jvm_started):
    """Appends one line per engine call when DEXAUTH_ENGINE_STATS names a file (benchmarks):
    operation, seconds, and 1 when the call started the JVM."""
    path = os.environ.get("DEXAUTH_ENGINE_STATS") or __opts__.get("dexauth_engine_stats")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write("{}\t{:.3f}\t{}\n".format(operation, seconds, jvm_started))


def version():
    """
    Return the engine's version (runs the Java engine).

    CLI Example::

        salt-call dexauth.version
    """
    return engine("version")["engineVersion"]
