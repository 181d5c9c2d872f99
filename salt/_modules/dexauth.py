"""Execution module: the bridge from Salt to the dexauth Java engine (authctl).

Requests go to the engine as one JSON line each, so no secret ever appears in a process
argument list, and each JSON reply comes back as a dict. The engine is one JVM per minion,
``authctl engine server``, on a Unix socket in the minion's cache directory (0700, socket
0600): a JVM start with a cold JIT costs about two seconds of CPU, and an orchestration
makes hundreds of state runs. The first call starts it; it ends after five idle minutes or
when its jar is rebuilt. Each state run holds one connection, an engine session of its own.
The engine reports ``changed`` / ``changes`` truthfully; the state module
(salt/_states/dexauth.py) turns that into Salt's changes. Every failure raises
``CommandExecutionError`` with a message that is safe to show (the engine never echoes secrets).

CLI examples::

    salt-call dexauth.version
    salt-call dexauth.engine config.validate request='{"pillar": {...}}'
"""
import atexit
import hashlib
import json
import logging
import os
import selectors
import socket
import subprocess
import threading
import time

from salt.exceptions import CommandExecutionError

log = logging.getLogger(__name__)

__virtualname__ = "dexauth"

# The engine ends a session after 120 s without a request; reusing one only while it has
# been idle for less than half that leaves no race with that exit.
_REUSE_SECONDS = 60
# What the engine server says once it accepted a connection (EngineServer.READY).
_READY = b"ready\n"
# A server that lost the race for the socket exits 0 at once; the winner gets this long to answer.
_LOST_RACE_SECONDS = 10
# Unix socket paths are limited to 108 bytes (107 and the terminating NUL).
_MAX_SOCKET_PATH = 107

# Counted so orchestration benchmarks can report how often the JVM was started.
_STATS = {"calls": 0, "seconds": 0.0, "jvm_starts": 0}

_LOCK = threading.Lock()
_SESSION = {}


def __virtual__():
    return __virtualname__


def _authctl():
    return __opts__.get("dexauth_authctl") or __salt__["config.get"]("dexauth_authctl", "authctl")


def _socket_path(authctl):
    """One server per minion and launcher: <cachedir>/dexauth/engine-<launcher digest>.sock."""
    base = __opts__.get("dexauth_engine_dir") or os.path.join(
        __opts__.get("cachedir") or "/var/cache/salt/minion", "dexauth")
    name = "engine-{}.sock".format(hashlib.sha256(authctl.encode("utf-8")).hexdigest()[:10])
    path = os.path.join(base, name)
    if len(path.encode("utf-8")) > _MAX_SOCKET_PATH:
        raise CommandExecutionError(
            "the engine's socket path {} is longer than {} bytes; set dexauth_engine_dir in the minion config "
            "to a shorter directory".format(path, _MAX_SOCKET_PATH))
    return path


class _Session:
    """One connection to the engine server (one engine session), owned by the process that made it."""

    def __init__(self, authctl, timeout):
        self.authctl = authctl
        self.pid = os.getpid()
        self.path = _socket_path(authctl)
        self.log_path = self.path[:-len(".sock")] + ".log"
        self.server = None  # the server process, when this session started it
        self.started_server = False
        self.log_offset = _size(self.log_path)
        self.sock = self._connect(time.monotonic() + timeout)
        self.buffer = b""
        self.last_used = time.monotonic()

    def _connect(self, deadline):
        """A connection the server accepted (it said ready), starting the server when none answers."""
        while True:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.connect(self.path)
                if self._ready(sock, deadline):
                    return sock
            except (FileNotFoundError, ConnectionRefusedError):
                if self._should_start():
                    self._start_server()
            except OSError:
                pass  # a server ending as we connected: the next attempt finds or starts another
            sock.close()
            if time.monotonic() > deadline:
                raise CommandExecutionError("the dexauth engine server did not accept a connection on {}: {}".format(
                    self.path, self._log_tail()))
            time.sleep(0.05)

    def _should_start(self):
        if self.server is None:
            return True
        if self.server.poll() is None:
            return False  # still starting (the launcher may be building the jar)
        # Exit 0 at once: another server held the socket's lock, and may still be starting.
        return self.server.returncode != 0 or time.monotonic() - self.started_at > _LOST_RACE_SECONDS

    @staticmethod
    def _ready(sock, deadline):
        sock.settimeout(max(0.1, deadline - time.monotonic()))
        got = b""
        while len(got) < len(_READY):
            chunk = sock.recv(len(_READY) - len(got))
            if not chunk:
                return False  # closed before accepting this connection: it was ending
            got += chunk
        sock.settimeout(None)
        return got == _READY

    def _start_server(self):
        if self.server is not None and self.server.returncode not in (None, 0):
            raise CommandExecutionError("the dexauth engine server exited with code {}: {}".format(
                self.server.returncode, self._log_tail()))
        directory = os.path.dirname(self.path)
        os.makedirs(directory, mode=0o700, exist_ok=True)
        logfile = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            # The server stays in the minion's process group: stopping the minion stops it.
            self.server = subprocess.Popen(
                [self.authctl, "engine", "server", "--socket", self.path],
                stdin=subprocess.DEVNULL, stdout=logfile, stderr=logfile,
                env={**os.environ, "AUTHCTL_CALLER": "salt"}, cwd=directory,
            )
        except FileNotFoundError:
            raise CommandExecutionError(
                "authctl not found at '{}'; set dexauth_authctl in the minion config".format(self.authctl)
            )
        except PermissionError:
            raise CommandExecutionError("authctl at '{}' is not executable (chmod +x it)".format(self.authctl))
        finally:
            os.close(logfile)
        self.started_server = True
        self.started_at = time.monotonic()

    def _log_tail(self):
        """What the server wrote since this session began (launcher build failures, JVM errors: no secret)."""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(self.log_offset)
                return f.read().decode("utf-8", "replace").strip()[-2000:] or "(its log {} is empty)".format(
                    self.log_path)
        except OSError:
            return "(no log at {})".format(self.log_path)

    def usable(self, authctl):
        # A forked child (a parallel state) must not share its parent's connection.
        return (self.pid == os.getpid() and self.authctl == authctl and self.sock is not None
                and time.monotonic() - self.last_used < _REUSE_SECONDS)

    def call(self, operation, request, timeout):
        line = json.dumps({"operation": operation, "request": request}) + "\n"
        try:
            self.sock.sendall(line.encode("utf-8"))
        except OSError:
            raise self._died(operation)
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as sel:
            sel.register(self.sock, selectors.EVENT_READ)
            while True:
                while b"\n" in self.buffer:
                    raw, self.buffer = self.buffer.split(b"\n", 1)
                    reply = _json_object(raw.decode("utf-8", "replace"))
                    if reply is not None:  # anything else is ignored
                        self.last_used = time.monotonic()
                        return reply
                left = deadline - time.monotonic()
                if left <= 0:
                    # The session ends with the connection; the server stays for other state runs.
                    self.close()
                    raise CommandExecutionError(
                        "engine operation {} did not finish within {} s".format(operation, timeout)
                    )
                if not sel.select(left):
                    continue
                try:
                    chunk = self.sock.recv(65536)
                except OSError:
                    chunk = b""
                if not chunk:
                    raise self._died(operation)
                self.buffer += chunk

    def _died(self, operation):
        """The engine closed the connection without a reply (a crash, a server killed): say why."""
        code = None
        if self.server is not None:
            try:
                code = self.server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        self.close()
        return CommandExecutionError("engine operation {} returned no JSON (the engine server {}): {}".format(
            operation, "exited with code {}".format(code) if code is not None else "closed the connection",
            self._log_tail()))

    def close(self):
        # End of input ends the session; the server goes on for the next state run.
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None


def _size(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


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


def _session(authctl, timeout):
    current = _SESSION.get("current")
    if current is not None and current.usable(authctl):
        return current
    if current is not None and current.pid == os.getpid():
        current.close()
    _SESSION["current"] = _Session(authctl, timeout)
    if _SESSION["current"].started_server:
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
            reply = _session(_authctl(), timeout).call(operation, payload, timeout)
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
