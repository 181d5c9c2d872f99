#!/usr/bin/env python3
"""Benchmarks for local users (figures only, nothing asserted).

  add-to-login   `authctl user add` + the user's `authctl passwd` + first password grant,
                 median of 5 users, JVM starts included (target: under 2 s for add -> login)
  import         `authctl user import` of N users (default 200), time per user
  list           `authctl user list` with every user created above

Runs on a private lab (started and stopped here).  bench/run.sh users
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "lab"))
sys.path.insert(0, str(REPO / "tests"))
import labctl  # noqa: E402
import main_job  # noqa: E402
from labfixture import LabHandle, short_root  # noqa: E402
import dexlab  # noqa: E402


def main(n_import=int(os.environ.get("BENCH_IMPORT_USERS", "200"))):
    lab = LabHandle(short_root("dxb-")).up()
    try:
        ok, _, _ = main_job.run_orchestration(lab.lab)
        assert ok, "orchestration failed"
        env = {"AUTHCTL_HOME": str(lab.root / "home")}
        assert lab.authctl("login", "--email", "admin@lab.local", "--password-stdin",
                           stdin=dexlab.superadmin_password(lab) + "\n", env=env).returncode == 0
        adds, firsts = [], []
        for i in range(5):
            email, pw = f"bench{i}@example.com", f"Bench-Orbit-{i}-7731"
            t0 = time.time()
            r = lab.authctl("user", "add", email, "--role", "read-only", "--password-stdin", stdin=pw + "\n", env=env)
            t1 = time.time()
            assert r.returncode == 0, r.stderr
            status, _ = dexlab.password_grant(lab, email, pw)
            t2 = time.time()
            assert status == 200
            adds.append(t1 - t0)
            firsts.append(t2 - t0)
        print("== user add until first successful login (password grant), 5 users")
        print(f"  user add median {statistics.median(adds):.2f} s; add -> first login median "
              f"{statistics.median(firsts):.2f} s (target < 2 s)")
        csv = lab.root / "import.csv"
        csv.write_text("email,username,roles\n" + "".join(f"imp{i}@example.com,imp{i},read-only\n"
                                                          for i in range(n_import)))
        t0 = time.time()
        r = lab.authctl("user", "import", str(csv), "--passwords-out", str(lab.root / "imported.csv"), env=env)
        secs = time.time() - t0
        print(f"== import of {n_import} users: {secs:.1f} s ({secs / n_import * 1000:.0f} ms per user);"
              f" {r.stdout.splitlines()[0] if r.stdout else r.stderr[-200:]}")
        t0 = time.time()
        r = lab.authctl("user", "list", "-o", "json", env=env)
        secs = time.time() - t0
        print(f"== user list with {len(json.loads(r.stdout))} users: {secs:.2f} s")
    finally:
        lab.down()
        lab.remove()


if __name__ == "__main__":
    main()
