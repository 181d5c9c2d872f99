#!/usr/bin/env python3
"""Benchmarks for local users (figures only, nothing asserted).

  add-to-login   `authctl user add` + the user's `authctl passwd` + first password grant,
                 median of 5 users, JVM starts included (target: under 2 s for add -> login)
  metalk8s-way   the same outcome done with a static password in Dex's config: edit the
                 config Secret, re-apply the orchestration, Dex rollout, first login
  import         `authctl user import` of N users (default 1000), and its ratio to bcrypt
                 hashing alone at the same cost (lab-only operation bench.bcrypt, dexauth.lab.LabTools)
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
from support import wait_until  # noqa: E402


def metalk8s_way(lab, email, hash_b64):
    """Static password in the config Secret + re-apply + rollout, until the first login."""
    import base64
    import yaml
    t0 = time.time()
    cfg = dexlab.dex_config(lab)
    cfg["staticPasswords"] = [{"email": email, "hash": base64.b64decode(hash_b64).decode(), "username": "static",
                               "userID": "static-1"}]
    # The chart's config Secret is immutable: the edited config is a new Secret that Dex mounts.
    with tempfile.TemporaryDirectory() as tmp:
        edited = Path(tmp) / "config.yaml"
        edited.write_text(yaml.safe_dump(cfg))
        lab.kubectl("-n", "dexauth", "create", "secret", "generic", "dex-config-static",
                    f"--from-file=config.yaml={edited}", check=True)
    main_job.run_orchestration(lab.lab)  # the re-apply
    old = lab.pod_pid("deploy-dexauth-dex")
    lab.kubectl("-n", "dexauth", "patch", "deployment", "dex", "-p", json.dumps(
        {"spec": {"template": {"spec": {"volumes": [{"name": "config", "secret": {"secretName": "dex-config-static"}}]}}}}),
        check=True)
    lab.wait_pod_pid_change("deploy-dexauth-dex", old)
    return t0


def tree_cpu(run_dir):
    """CPU seconds (user + system) used so far by each lab process named in run/*.pid, with its
    descendants: the share of the cluster's own parts (kube-apiserver, etcd, Dex, the account
    service) in an import, beside bcrypt's."""
    children = {}
    stat = {}
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            text = (p / "stat").read_text()
        except OSError:
            continue
        fields = text.rsplit(")", 1)[1].split()
        children.setdefault(int(fields[1]), []).append(int(p.name))
        stat[int(p.name)] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    roots = {}
    for f in Path(run_dir).glob("*.pid"):
        try:
            roots[int(f.read_text())] = f.stem
        except ValueError:
            continue
    out = {}
    for root, name in roots.items():
        todo, total = [root], 0.0
        while todo:
            pid = todo.pop()
            total += stat.get(pid, 0.0)
            todo += [c for c in children.get(pid, []) if c not in roots]  # a pod is counted as itself
        out[name] = total
    return out


def main(n_import=int(os.environ.get("BENCH_IMPORT_USERS", "1000"))):
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
        # The MetalK8s way, reusing the hash Dex stored for bench0 (same password, same cost).
        objs = json.loads(lab.kubectl("-n", "dexauth", "get", "passwords.dex.coreos.com", "-o", "json").stdout)
        hash_b64 = next(o["hash"] for o in objs["items"] if o["email"] == "bench0@example.com")
        t0 = metalk8s_way(lab, "static@example.com", hash_b64)
        wait_until(lambda: dexlab.password_grant(lab, "static@example.com", "Bench-Orbit-0-7731")[0] == 200,
                   timeout=180, what="static password login")
        static = time.time() - t0
        ours = statistics.median(firsts)
        print(f"== the MetalK8s way (static password in the config, re-apply, Dex rollout): {static:.1f} s;"
              f" ratio to authctl user add -> login: {static / ours:.1f}x")
        ok, _, _ = main_job.run_orchestration(lab.lab)  # back to the chart's own config
        csv = lab.root / "import.csv"
        csv.write_text("email,username,roles\n" + "".join(f"imp{i}@example.com,imp{i},read-only\n"
                                                          for i in range(n_import)))
        cpu0, cli0 = tree_cpu(lab.root / "run"), os.times()
        t0 = time.time()
        r = subprocess.run([str(REPO / "bin" / "authctl"), "user", "import", str(csv), "--passwords-out",
                            str(lab.root / "imported.csv")], capture_output=True, text=True,
                           env={**os.environ, "AUTHCTL_CONFIG": str(lab.root / "authctl.yaml"), **env})
        secs = time.time() - t0
        cpu1, cli1 = tree_cpu(lab.root / "run"), os.times()
        used = {k: cpu1[k] - cpu0.get(k, 0.0) for k in cpu1 if cpu1[k] - cpu0.get(k, 0.0) >= 0.05}
        used["authctl (CLI)"] = (cli1.children_user + cli1.children_system) - (cli0.children_user + cli0.children_system)
        cost = dexlab.pillar(lab)["password"]["bcrypt_cost"]
        # bcrypt alone on up to 1000 hashes, scaled to n_import (it is linear in the count).
        sample = min(n_import, 1000)
        reference = labctl.lab_tool("bench.bcrypt", {"count": sample, "cost": cost})
        alone = reference["seconds"] * n_import / sample
        bcrypt_cpu = reference["cpuSeconds"] * n_import / sample
        print(f"== import of {n_import} users: {secs:.1f} s ({secs / n_import * 1000:.0f} ms per user);"
              f" {r.stdout.splitlines()[0] if r.stdout else r.stderr[-200:]}")
        print(f"   bcrypt alone for {n_import} hashes at cost {cost}: {alone:.1f} s; import / bcrypt = "
              f"{secs / alone:.2f}x")
        cores = os.cpu_count()
        print(f"   CPU seconds during the import ({cores} cores, {secs * cores:.0f} available): " + ", ".join(
            f"{k} {v:.1f}" for k, v in sorted(used.items(), key=lambda kv: -kv[1])))
        rest = sum(used.values()) - bcrypt_cpu
        print(f"   of which bcrypt {bcrypt_cpu:.1f} CPU s ({bcrypt_cpu / n_import * 1000:.0f} ms per hash), everything"
              f" else {rest:.1f} CPU s ({rest / n_import * 1000:.1f} ms per user)")
        t0 = time.time()
        r = lab.authctl("user", "list", "-o", "json", env=env)
        secs = time.time() - t0
        print(f"== user list with {len(json.loads(r.stdout))} users: {secs:.2f} s")
    finally:
        lab.down()
        lab.remove()


if __name__ == "__main__":
    main()
