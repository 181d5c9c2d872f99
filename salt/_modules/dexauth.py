"""Execution module: the bridge from Salt to the dexauth Java engine (authctl).

Every call runs ``authctl engine <operation>`` with the request as JSON on stdin,
so no secret ever appears in a process argument list, and returns the engine's
JSON reply as a dict. The engine reports ``changed`` / ``changes`` truthfully;
the state module (salt/_states/dexauth.py) turns that into Salt's changes.

CLI examples::

    salt-call dexauth.version
    salt-call dexauth.engine pki.ensure request='{"dir": "/tmp/pki"}'
"""
import json
import logging
import os
import subprocess
import time

log = logging.getLogger(__name__)

__virtualname__ = "dexauth"

# Counted so orchestration benchmarks can report how often the JVM was started.
_STATS = {"calls": 0, "seconds": 0.0}


def __virtual__():
    return __virtualname__


def _authctl():
    return __opts__.get("dexauth_authctl") or __salt__["config.get"]("dexauth_authctl", "authctl")


class EngineError(Exception):
    """The engine refused or failed; the message is safe to show (the engine never echoes secrets)."""


def engine(operation, request=None, test=False, timeout=600):
    """
    Run one engine operation and return its JSON reply.

    operation
        Engine operation name, e.g. ``pki.ensure``.
    request
        Dict (or JSON string) sent to the engine on stdin.
    test
        Report what would change without changing it.
    """
    if isinstance(request, str):
        request = json.loads(request)
    payload = dict(request or {})
    payload["test"] = bool(test)
    started = time.monotonic()
    try:
        proc = subprocess.run(
            [_authctl(), "engine", operation],
            input=json.dumps(payload),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env={**os.environ, "AUTHCTL_CALLER": "salt"},
        )
    except FileNotFoundError:
        raise EngineError(
            "authctl not found at '{}'; set dexauth_authctl in the minion config".format(_authctl())
        )
    except PermissionError:
        raise EngineError("authctl at '{}' is not executable (chmod +x it)".format(_authctl()))
    except subprocess.TimeoutExpired:
        raise EngineError("engine operation {} did not finish within {} s".format(operation, timeout))
    finally:
        _STATS["calls"] += 1
        _STATS["seconds"] += time.monotonic() - started
    _record_stats(operation, time.monotonic() - started)
    reply = _last_json_object(proc.stdout)
    if reply is None:
        # stderr of the launcher (e.g. a Maven build failure) is not secret-bearing.
        raise EngineError(
            "engine operation {} returned no JSON (exit {}): {}".format(
                operation, proc.returncode, (proc.stderr or "").strip()[-2000:]
            )
        )
    return reply


def _last_json_object(text):
    """The engine's reply is its last JSON line; anything else on stdout (JVM notices) is ignored."""
    for line in reversed((text or "").strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                continue
    return None


def _record_stats(operation, seconds):
    """Appends one line per engine call when DEXAUTH_ENGINE_STATS names a file (benchmarks)."""
    path = os.environ.get("DEXAUTH_ENGINE_STATS") or __opts__.get("dexauth_engine_stats")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write("{}\t{:.3f}\n".format(operation, seconds))


def version():
    """
    Return the engine's version (runs the Java engine).

    CLI Example::

        salt-call dexauth.version
    """
    reply = engine("version")
    if not reply.get("result"):
        raise EngineError(reply.get("error", "engine failed"))
    return reply["engineVersion"]
