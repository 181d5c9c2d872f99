"""Server processes the tests own, and the small tools around them.

Every server runs in the foreground as a child of the test process, in its own process group,
with PR_SET_PDEATHSIG so that it dies with the test process; ``close()`` (also registered with
atexit) stops it and removes its files. Keep server roots short (Unix socket paths are limited
to 108 bytes), e.g. ``tempfile.mkdtemp(prefix="/tmp/dxd-")``. Secrets go to files of mode 0600
or to stdin, never on the command line of a long-running process.
"""
import atexit
import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import threading
from pathlib import Path

from support.waiting import wait_until

__all__ = ["HOST", "ServerError", "Process", "Server", "cache_dir", "free_port", "port_open", "write_secret", "tail",
           "run", "register", "wait_for_server"]

HOST = "127.0.0.1"


class ServerError(RuntimeError):
    """A test server could not be provisioned, started or queried."""


def cache_dir():
    """The toolchain's cache directory ($DEXAUTH_CACHE, default ~/.cache/dexauth)."""
    return Path(os.environ.get("DEXAUTH_CACHE") or Path.home() / ".cache" / "dexauth")


def free_port(host=HOST):
    """A TCP port free on ``host`` right now (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def port_open(port, host=HOST, timeout=0.2):
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def write_secret(path, data):
    """Writes a file readable only by its owner (mode 0600 from creation on)."""
    path = Path(path)
    if isinstance(data, str):
        data = data.encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.chmod(path, 0o600)
    return path


def tail(path, lines=40):
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# Child processes die with the test process: PR_SET_PDEATHSIG (Linux), set between fork and exec.
_PR_SET_PDEATHSIG = 1
try:
    _prctl = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):  # pragma: no cover - not Linux
    _prctl = None


def _die_with_parent_preexec():
    parent = os.getpid()

    def preexec():
        if _prctl is not None:
            _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)
    return preexec


_LIVE = set()
_LIVE_LOCK = threading.Lock()


def register(obj):
    with _LIVE_LOCK:
        _LIVE.add(obj)


def unregister(obj):
    with _LIVE_LOCK:
        _LIVE.discard(obj)


@atexit.register
def _close_all():
    with _LIVE_LOCK:
        live = list(_LIVE)
    for obj in live:
        with contextlib.suppress(Exception):
            obj.close()


class Process:
    """A foreground server process in its own process group, logging to a file."""

    def __init__(self, name, cmd, log_path, env=None, cwd=None, keep_stdin=False):
        self.name = name
        self.cmd = [str(c) for c in cmd]
        self.log_path = Path(log_path)
        self._log = open(self.log_path, "ab")
        try:
            self.popen = subprocess.Popen(
                self.cmd, stdin=subprocess.PIPE if keep_stdin else subprocess.DEVNULL, stdout=self._log,
                stderr=subprocess.STDOUT, env=env, cwd=cwd, start_new_session=True,
                preexec_fn=_die_with_parent_preexec())
        except BaseException:
            self._log.close()
            raise
        self.pid = self.popen.pid

    def alive(self):
        return self.popen.poll() is None

    def stop(self, timeout=10):
        """SIGTERM to the whole process group, SIGKILL after ``timeout`` seconds."""
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.pid, signal.SIGKILL)
                self.popen.wait(5)
        with contextlib.suppress(ProcessLookupError):  # leftovers of the group, if any
            os.killpg(self.pid, signal.SIGKILL)
        if self.popen.stdin:
            with contextlib.suppress(OSError):
                self.popen.stdin.close()
        self._log.close()
        return self.popen.returncode


def wait_for_server(predicate, timeout, what, proc=None):
    """wait_until for a server starting or stopping: fails at once, with the end of its log,
    when ``proc`` (a Process) exited; raises ServerError."""
    def abort():
        if proc is not None and not proc.alive():
            raise ServerError(f"{what}: {proc.name} exited with status {proc.popen.returncode}; "
                              f"last lines of {proc.log_path}:\n{tail(proc.log_path)}")

    def describe():
        return f"; last lines of {proc.log_path}:\n{tail(proc.log_path)}" if proc is not None else ""
    return wait_until(predicate, timeout, what, interval=0.05, abort=abort, describe=describe, error=ServerError)


def run(cmd, timeout=60, input=None, env=None, what=None):
    r = subprocess.run([str(c) for c in cmd], input=input, capture_output=True, text=True, timeout=timeout,
                       env=env)
    if r.returncode != 0:
        raise ServerError(f"{what or cmd[0]} failed ({r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    return r


class Server:
    """A server process the tests own: close() stops it and removes its directory; usable in `with`."""

    proc = None
    root = None

    def _stop(self):
        if self.proc is not None:
            self.proc.stop()

    def close(self):
        try:
            self._stop()
        finally:
            unregister(self)
            shutil.rmtree(self.root, ignore_errors=True)
            self._released()

    def _released(self):
        """Hook for what a server holds beyond its process and directory."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
