#!/usr/bin/env python3
"""Benchmarks of the account service (figures only, nothing asserted).

  pages         console latency, p50/p95 over 200 requests: the login redirect, and the user
                list page (first page, and a search) at 1,000 and at 10,000 users (target: p95
                under 300 ms at 10,000); the service's memory (RSS) at rest and at 10,000 users
  cli-list      `authctl user list` at 10,000 users through the service (target: under 1 s)
  create-login  "create user" posted in the console until that user's first successful login,
                beside the MetalK8s way (static password in Dex's config, re-apply, Dex rollout)

Users beyond the first are written as records directly (ConfigMaps, as `authctl user import`
would leave them): the pages read the records, and bcrypt is benched by bench/users.py.
Runs on a private lab (started and stopped here).  bench/run.sh console
"""
import contextlib
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "lab"))
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "bench"))
import main_job  # noqa: E402
import yaml  # noqa: E402
from labfixture import LabHandle, short_root  # noqa: E402
import dexlab  # noqa: E402
from support import wait_until  # noqa: E402
from support.browser_flow import https_session  # noqa: E402
import users as users_bench  # noqa: E402

ACCOUNT_POD = "deploy-dexauth-dex-account"


def console_url(lab):
    return yaml.safe_load((lab.root / "authctl.yaml").read_text())["account"]["url"]


def console_session(stack, lab, email, password):
    """A requests session logged in to the console (the browser's redirects, done by hand)."""
    s = https_session(stack, dexlab.ca_file(lab))
    r = s.get(console_url(lab) + "/login", allow_redirects=True, timeout=30)
    action = re.search(r'<form[^>]*action="([^"]*)"', r.text)
    url = urllib.parse.urljoin(r.url, action.group(1).replace("&amp;", "&")) if action else r.url
    r = s.post(url, data={"login": email, "password": password}, allow_redirects=True, timeout=30)
    assert r.url.startswith(console_url(lab)) and r.status_code == 200, (r.status_code, r.url)
    return s


def percentiles(samples):
    ms = sorted(x * 1000 for x in samples)
    return f"p50 {statistics.median(ms):.0f} ms, p95 {ms[int(len(ms) * 0.95) - 1]:.0f} ms"


def timed_gets(s, url, n=200, expect=None, **kw):
    """Latencies of n GETs; each answer must be the page asked for (``expect`` in a 200), or a redirect."""
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        r = s.get(url, timeout=30, **kw)
        out.append(time.perf_counter() - t0)
        if expect is None:
            assert r.status_code in (200, 302, 303), (url, r.status_code)
        else:
            assert r.status_code == 200 and expect in r.text, (url, r.status_code, r.url)
    return out


def rss_mb(lab):
    pid = lab.pod_pid(ACCOUNT_POD)
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def write_records(lab, start, count):
    """User records as `authctl user import` leaves them (one ConfigMap each), applied in chunks."""
    sys.path.insert(0, str(REPO / "tests"))
    import hashlib
    for chunk in range(start, start + count, 500):
        items = []
        for i in range(chunk, min(start + count, chunk + 500)):
            email = f"bench{i:05d}@example.com"
            name = "dexauth-user-" + hashlib.sha256(email.encode()).hexdigest()[:20]
            items.append({"apiVersion": "v1", "kind": "ConfigMap",
                          "metadata": {"name": name, "namespace": "dexauth",
                                       "labels": {"dexauth.io/user": "true", "app.kubernetes.io/managed-by": "dexauth"}},
                          "data": {"email": email, "username": f"bench{i}", "roles": "read-only",
                                   "mustChangePassword": "true", "createdBy": "bench", "createdAt": "2026-01-01T00:00:00Z"}})
        with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
            json.dump({"apiVersion": "v1", "kind": "List", "items": items}, f)
            f.flush()
            r = lab.kubectl("apply", "--server-side", "-f", f.name)
            assert r.returncode == 0, r.stderr[-500:]


def main():
    lab = LabHandle(short_root("dxc-")).up()
    try:
        ok, states, _ = main_job.run_orchestration(lab.lab)
        assert ok, dexlab.failures(states)
        admin, password = "admin@lab.local", dexlab.superadmin_password(lab)
        env = {"AUTHCTL_HOME": str(lab.root / "home")}
        assert lab.authctl("login", "--email", admin, "--password-stdin", stdin=password + "\n", env=env).returncode == 0
        base = console_url(lab)
        with contextlib.ExitStack() as stack:
            anon = https_session(stack, dexlab.ca_file(lab))
            print("== console page latency (200 requests each)")
            print(f"  login redirect (GET /login -> Dex)          {percentiles(timed_gets(anon, base + '/login', allow_redirects=False))}")
            s = console_session(stack, lab, admin, password)
            print(f"  service memory at rest                      {rss_mb(lab):.0f} MB RSS")
            for total in (1000, 10000):
                have = int(json.loads(s.get(base + "/api/v1/users?limit=1", timeout=30,
                                            headers={"Authorization": "Bearer " + dexlab.superadmin_token(lab)}).text)["total"])
                write_records(lab, have, total - have)
                wait_until(lambda: f"{total}" in s.get(base + "/users", timeout=30).text.split("</h1>")[0], 300,
                           f"the console to show {total} users")
                first_page = percentiles(timed_gets(s, base + "/users", expect='id="users"'))
                print(f"  user list, first page, {total:>6} users       {first_page}")
                print(f"  user list, search,     {total:>6} users       "
                      f"{percentiles(timed_gets(s, base + '/users?q=bench00999', expect='bench00999@example.com'))}")
            print(f"  service memory at 10,000 users              {rss_mb(lab):.0f} MB RSS")
            samples = []
            for _ in range(3):
                t0 = time.perf_counter()
                r = lab.authctl("user", "list", "-o", "json", env=env)
                samples.append(time.perf_counter() - t0)
                assert r.returncode == 0, r.stderr
            print(f"== authctl user list with {len(json.loads(r.stdout))} users: median {statistics.median(samples):.2f} s"
                  " (target < 1 s; JVM start included)")
            firsts, passwords = [], []
            for i in range(5):
                csrf = re.search(r'name="csrf" value="([^"]+)"', s.get(base + "/users", timeout=30).text).group(1)
                email, pw = f"web{i}@example.com", f"Web-Orbit-{i}-{os.urandom(3).hex()}"
                passwords.append(pw)
                t0 = time.perf_counter()
                r = s.post(base + "/users", data={"csrf": csrf, "email": email, "role": "read-only", "password": pw},
                           timeout=30, allow_redirects=False)
                assert r.status_code == 303, (r.status_code, r.text[:300])
                wait_until(lambda: dexlab.password_grant(lab, email, pw)[0] == 200, 30, "first login", interval=0.01)
                firsts.append(time.perf_counter() - t0)
            ours = statistics.median(firsts)
            print(f"== create user in the console -> first successful login: median {ours * 1000:.0f} ms over 5"
                  " (target < 1 s)")
        # The MetalK8s way, with web0's stored hash (same password, same cost) for another email.
        objs = json.loads(lab.kubectl("-n", "dexauth", "get", "passwords.dex.coreos.com", "-o", "json").stdout)
        hash_b64 = next(o["hash"] for o in objs["items"] if o["email"] == "web0@example.com")
        t0 = users_bench.metalk8s_way(lab, "static@example.com", hash_b64)
        wait_until(lambda: dexlab.password_grant(lab, "static@example.com", passwords[0])[0] == 200, 180,
                   "the static password's login")
        static = time.time() - t0
        print(f"== the MetalK8s way (static password in the config, re-apply, Dex rollout): {static:.1f} s;"
              f" {static / ours:.0f}x the console's create -> login (target: at least 15x)")
    finally:
        lab.down()
        lab.remove()


if __name__ == "__main__":
    main()
