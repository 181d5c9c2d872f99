"""Salt's engine: state runs' sessions served by the engine server (one JVM on a Unix socket,
what salt/_modules/dexauth.py uses) against the reference, one JVM per session (`authctl engine
session` on a pipe, what the module did before). Each session is what a small state run sends:
`version` and `config.validate`. Prints the median wall time per session and the CPU per
session (the server's start included, spread over the sessions). No lab needed.
"""
import json
import os
import resource
import socket
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
AUTHCTL = str(REPO / "bin" / "authctl")
SESSIONS = 10
REQUESTS = [{"operation": "version", "request": {}},
            {"operation": "config.validate", "request": {"pillar": {}}}]
PAYLOAD = "".join(json.dumps(r) + "\n" for r in REQUESTS).encode()


def children_cpu():
    u = resource.getrusage(resource.RUSAGE_CHILDREN)
    return u.ru_utime + u.ru_stime


def one_jvm_per_session():
    walls = []
    for _ in range(SESSIONS):
        t0 = time.monotonic()
        r = subprocess.run([AUTHCTL, "engine", "session"], input=PAYLOAD, capture_output=True, timeout=300)
        walls.append(time.monotonic() - t0)
        assert r.stdout.count(b"\n") == len(REQUESTS), r.stderr[-500:]
    return walls


def server_sessions(directory):
    path = os.path.join(directory, "engine.sock")
    server = subprocess.Popen([AUTHCTL, "engine", "server", "--socket", path],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    walls = []
    try:
        for i in range(SESSIONS):
            t0 = time.monotonic()
            while True:  # the first session also waits for the server to listen
                try:
                    sock = socket.socket(socket.AF_UNIX)
                    sock.connect(path)
                    break
                except OSError:
                    sock.close()
                    time.sleep(0.02)
            with sock, sock.makefile("rwb") as f:
                assert f.readline() == b"ready\n"
                f.write(PAYLOAD)
                f.flush()
                for _ in REQUESTS:
                    json.loads(f.readline())
            walls.append(time.monotonic() - t0)
    finally:
        os.unlink(path)  # the server ends by itself within a second (and dumps its archive if it is the first)
        server.wait(timeout=120)
    return walls


def main():
    print(f"== engine: {SESSIONS} state runs' sessions ({', '.join(r['operation'] for r in REQUESTS)}),"
          " one after the other")
    subprocess.run([AUTHCTL, "version"], capture_output=True, check=True, timeout=900)  # built, archives made
    one_jvm_per_session()  # the session command's archive, as on a machine that ran it before
    rows = []
    cpu = children_cpu()
    walls = one_jvm_per_session()
    rows.append(("one JVM per session (reference)", walls, children_cpu() - cpu))
    with tempfile.TemporaryDirectory() as d:
        os.chmod(d, 0o700)
        cpu = children_cpu()
        walls = server_sessions(d)
        rows.append(("engine server (one JVM, Unix socket)", walls, children_cpu() - cpu))
    for label, walls, cpu in rows:
        print(f"  {label:38} median {statistics.median(walls) * 1000:6.0f} ms per session,"
              f" first {walls[0] * 1000:6.0f} ms, CPU {cpu / SESSIONS * 1000:6.0f} ms per session")


if __name__ == "__main__":
    main()
