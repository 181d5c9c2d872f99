"""Commands under a real pseudo-terminal, for tests of what a user sees in a terminal.

(Named terminal.py, not tty.py: tests/ is on sys.path, and a tests/tty.py would shadow the standard
library's ``tty``, which ``pty`` and ``salt.utils.vt`` import.)

Standard library only (``os.openpty`` + ``subprocess``). The child gets the pty's slave side as
stdin, stdout and stderr and as its controlling terminal (a new session, then TIOCSCTTY), so
``/dev/tty`` opens in the child and in everything it starts, just as in a terminal emulator.
The line discipline is left as a terminal has it (echo on, ICRNL, ONLCR), so what a program
does to the terminal (e.g. turning echo off for a password prompt) shows in the transcript.

    with Pty([kubectl, "get", "pods"], env=env) as t:
        t.expect(r"Password for \\S+: ")
        t.send_secret(password)          # waits until the terminal no longer echoes
        assert t.wait() == 0
    print(t.transcript)

``transcript`` is everything the child wrote, decoded as UTF-8, with the terminal's "\\r\\n"
turned back into "\\n". ``expect`` searches from the end of its previous match on.
"""
import codecs
import contextlib
import fcntl
import os
import re
import signal
import struct
import subprocess
import termios
import threading
import time

from support.waiting import wait_until

__all__ = ["Pty", "PtyError", "PtyTimeout", "PtyEOF"]


class PtyError(AssertionError):
    """What the terminal showed did not come as expected; the message carries the transcript."""

    def __init__(self, message, transcript):
        super().__init__(f"{message}\n----- transcript -----\n{transcript}\n----- end of transcript -----")
        self.transcript = transcript


class PtyTimeout(PtyError):
    pass


class PtyEOF(PtyError):
    pass


def _make_controlling_tty():
    # Runs in the child after setsid() (start_new_session=True) and after fd 0 became the slave.
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class Pty:
    """A command running under a new pseudo-terminal; see the module's docstring."""

    def __init__(self, argv, env=None, cwd=None, rows=40, cols=250):
        self.argv = [str(a) for a in argv]
        master, slave = os.openpty()
        try:
            fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
            self.proc = subprocess.Popen(self.argv, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=cwd,
                                         start_new_session=True, preexec_fn=_make_controlling_tty,
                                         close_fds=True)
        except BaseException:
            os.close(master)
            os.close(slave)
            raise
        os.close(slave)  # the child holds it now: EOF (EIO) on the master once every holder closed it
        self.master = master
        self.pid = self.proc.pid
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._raw = ""
        self._pos = 0  # expect() searches from here on
        self._eof = False
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read_loop, name=f"pty-{self.pid}", daemon=True)
        self._reader.start()

    # ------------------------------------------------------------------ output
    def _read_loop(self):
        while True:
            try:
                data = os.read(self.master, 65536)
            except OSError:  # EIO: no process holds the slave side any more
                data = b""
            with self._cond:
                if not data:
                    self._raw += self._decoder.decode(b"", final=True)
                    self._eof = True
                    self._cond.notify_all()
                    return
                self._raw += self._decoder.decode(data)
                self._cond.notify_all()

    @property
    def transcript(self):
        with self._cond:
            return self._raw.replace("\r\n", "\n")

    @property
    def eof(self):
        with self._cond:
            return self._eof

    def expect(self, pattern, timeout=60):
        """Waits until ``pattern`` (a regex, searched with re.MULTILINE) appears in the output after
        the previous match; returns the match. Raises PtyTimeout / PtyEOF with the transcript."""
        rx = re.compile(pattern, re.MULTILINE) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                text = self._raw.replace("\r\n", "\n")
                m = rx.search(text, self._pos)
                if m:
                    self._pos = m.end()
                    return m
                if self._eof:
                    code = self.proc.poll()
                    raise PtyEOF(f"{rx.pattern!r} never appeared: the terminal was closed "
                                 f"(exit status {code}) by {self.argv}", text)
                left = deadline - time.monotonic()
                if left <= 0:
                    raise PtyTimeout(f"{rx.pattern!r} did not appear within {timeout}s from {self.argv}", text)
                self._cond.wait(min(left, 1.0))

    def expect_any(self, patterns, timeout=60):
        """Waits for the first of several regexes; returns (index, match)."""
        rx = re.compile("|".join(f"(?P<p{i}>{p})" for i, p in enumerate(patterns)), re.MULTILINE)
        m = self.expect(rx, timeout)
        for i in range(len(patterns)):
            if m.group(f"p{i}") is not None:
                return i, m
        raise AssertionError("unreachable")

    # ------------------------------------------------------------------ input
    def send(self, text):
        os.write(self.master, text.encode())

    def send_line(self, text):
        """Types ``text`` and Return (a terminal sends CR; the line discipline makes it NL)."""
        self.send(text + "\r")

    def echoes(self):
        """Whether the terminal currently echoes what is typed (the slave side's ECHO flag)."""
        return bool(termios.tcgetattr(self.master)[3] & termios.ECHO)

    def send_secret(self, text, timeout=30):
        """Types a secret once the program has turned echo off, as a hidden prompt must; raises
        PtyTimeout when the terminal keeps echoing (the secret would be shown on screen)."""
        def eof():
            if self.eof:
                raise PtyEOF("the terminal was closed before the secret could be typed", self.transcript)
        wait_until(lambda: not self.echoes(), timeout, "the terminal to stop echoing input after the prompt "
                   "(else the prompt would show what is typed)", interval=0.05, retry_on=(), abort=eof,
                   error=lambda message: PtyTimeout(message, self.transcript))
        self.send_line(text)

    # ------------------------------------------------------------------ end
    def wait(self, timeout=120):
        """Waits for the child to exit and for its output to be read to the end; returns its exit
        code (negative: killed by that signal). Raises PtyTimeout (and kills it) after ``timeout``."""
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise PtyTimeout(f"{self.argv} did not exit within {timeout}s", self.transcript) from None
        # Output written just before exit is still in the pty; descendants may still hold it open.
        with self._cond:
            self._cond.wait_for(lambda: self._eof, timeout=10)
        return code

    def kill(self):
        """Kills the child's whole session (its process group), then reaps it."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(10)

    def close(self):
        if self.proc.poll() is None:
            self.kill()
        self._reader.join(5)
        if self.master is not None:
            with contextlib.suppress(OSError):
                os.close(self.master)
            self.master = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
