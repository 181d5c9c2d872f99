#!/usr/bin/env python3
"""Benchmarks for upstream IdPs (figures only, nothing asserted).

  add-to-login   `authctl idp add ldap` (checks, Secret, pillar, re-apply through salt-api, Dex
                 restart) until the first directory user's successful browser-flow login
  login latency  200 sequential browser-flow logins (authorization code: login form, code,
                 token), p50 and p95, for a local user and for an OpenLDAP user

Runs on a private lab and a private slapd (started and stopped here).  bench/run.sh idps
"""
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "lab"))
sys.path.insert(0, str(REPO / "tests"))
import main_job  # noqa: E402
from labfixture import LabHandle, short_root  # noqa: E402
import dexlab  # noqa: E402
from support import Slapd, TestCA, login_page, login_via_browser_flow, wait_until  # noqa: E402

REDIRECT = "http://127.0.0.1:5555/callback"
LOGINS = int(os.environ.get("BENCH_LOGINS", "200"))


def percentile(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


def main():
    lab = LabHandle(short_root("dxb-")).up()
    root = Path(tempfile.mkdtemp(prefix="/tmp/dxi-"))
    slapd = None
    try:
        ok, _, _ = main_job.run_orchestration(lab.lab)
        assert ok, "orchestration failed"
        issuer, ca = dexlab.pillar(lab)["issuer"], str(dexlab.ca_file(lab))
        wait_until(lambda: login_page(issuer, ca, "authctl", REDIRECT), what="login page")
        admin_pw = dexlab.superadmin_password(lab)
        tca = TestCA(root, "bench")
        slapd = Slapd.start(root, tca)
        alice = slapd.users["alice"]

        t0 = time.time()
        r = lab.authctl("idp", "add", "ldap", "corp", "--host", "127.0.0.1", "--port", str(slapd.ldaps_port),
                        "--ca-file", str(tca.cert_path), "--bind-dn", slapd.bind_dn, "--bind-password-stdin",
                        "--user-base-dn", slapd.users_dn, "--group-base-dn", slapd.groups_dn, "--break-glass",
                        stdin=slapd.bind_password + "\n")
        t1 = time.time()
        assert r.returncode == 0, r.stdout + r.stderr
        wait_until(lambda: login_via_browser_flow(issuer, ca, "authctl", REDIRECT, "alice", alice["password"],
                                                  connector_id="corp"), timeout=120, what="first LDAP login")
        t2 = time.time()
        print("== authctl idp add ldap until the first directory user's login")
        print(f"  idp add (checks + Secret + pillar + salt-api apply + Dex restart) {t1 - t0:.2f} s;"
              f" add -> first login {t2 - t0:.2f} s")

        for label, connector, user, pw in (("local user", "local", "admin@lab.local", admin_pw),
                                           ("OpenLDAP user", "corp", "alice", alice["password"])):
            times = []
            for _ in range(LOGINS):
                s = time.perf_counter()
                login_via_browser_flow(issuer, ca, "authctl", REDIRECT, user, pw, connector_id=connector)
                times.append(time.perf_counter() - s)
            print(f"== {LOGINS} sequential browser-flow logins, {label}: p50 {percentile(times, 50) * 1000:.0f} ms,"
                  f" p95 {percentile(times, 95) * 1000:.0f} ms, mean {statistics.mean(times) * 1000:.0f} ms")
    finally:
        if slapd:
            slapd.close()
        lab.down()
        lab.remove()


if __name__ == "__main__":
    main()
