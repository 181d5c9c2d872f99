"""The one secret scan: no password, token or key may appear where it does not belong.

A scan that looked at nothing proves nothing, so ``find_secrets`` fails when it read no
non-empty file and no text.
"""
import os
from pathlib import Path

__all__ = ["NothingScanned", "find_secrets", "assert_no_secrets", "process_command_lines"]


class NothingScanned(AssertionError):
    """The places to scan held no file and no text: the scan would have passed vacuously."""


def _as_bytes(values):
    out = {v.encode() if isinstance(v, str) else bytes(v) for v in values if v}
    if not out:
        raise NothingScanned("no secret to look for: the secrets of the test were not collected")
    return out


def _files(paths, skip):
    """Files under ``paths`` (files, or directories walked without following links below them);
    each real file once. Missing paths are passed over: the caller says what must exist."""
    skip = {os.path.realpath(s) for s in skip}
    seen = set()
    for path in paths:
        path = Path(path)
        if path.is_file():
            candidates = [str(path)]
        elif path.is_dir():
            candidates = []
            for dirpath, dirs, files in os.walk(path):
                dirs[:] = [d for d in dirs if os.path.realpath(os.path.join(dirpath, d)) not in skip]
                candidates += [os.path.join(dirpath, f) for f in files]
        else:
            continue
        for f in candidates:
            real = os.path.realpath(f)
            if real not in seen:
                seen.add(real)
                yield f


def find_secrets(secrets, paths=(), texts=(), *, skip=()):
    """Where ``secrets`` (str or bytes) appear: a list of "<file>" and "<label>" entries.

    ``paths``: files or directories to read (directories recursively, ``skip`` excluded);
    ``texts``: a dict or pairs of (label, str or bytes), e.g. terminal transcripts or
    command lines. Raises NothingScanned when no non-empty file or text was read."""
    wanted = _as_bytes(secrets)
    hits, scanned = [], 0
    for f in _files(paths, skip):
        try:
            with open(f, "rb") as fh:
                data = fh.read()
        except OSError:  # a socket, or a file removed while we walk
            continue
        scanned += bool(data)
        if any(s in data for s in wanted):
            hits.append(f)
    for label, text in (texts.items() if isinstance(texts, dict) else texts):
        data = text.encode() if isinstance(text, str) else bytes(text)
        scanned += bool(data)
        if any(s in data for s in wanted):
            hits.append(label)
    if not scanned:
        raise NothingScanned(f"nothing was scanned: no non-empty file under {[str(p) for p in paths]} "
                             f"and no text")
    return hits


def assert_no_secrets(secrets, paths=(), texts=(), *, skip=()):
    """find_secrets, failing with the places where a secret was found."""
    hits = find_secrets(secrets, paths, texts, skip=skip)
    assert hits == [], f"secrets found in {hits}"


def process_command_lines():
    """(label, command line) of every process now running, for a scan of argument lists."""
    out = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                out.append((f"/proc/{pid}/cmdline", Path(f"/proc/{pid}/cmdline").read_bytes()))
            except OSError:
                pass
    return out
