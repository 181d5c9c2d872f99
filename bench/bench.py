#!/usr/bin/env python3
"""Benchmarks: prints figures, asserts nothing.

  toolchain   cold build/install time per component (recorded by the first build on this
              machine, kept beside the cached binaries) and the warm `make toolchain` time
  lab         warm `make lab` (toolchain cached, lab down): time until the lab is up and
              the main job (Dex orchestration) is done, in a private lab root
  jvm         start time of `authctl version` (median of 7)
  engine      state runs' sessions through the engine server against one JVM per session (bench/engine.py)
  orchestrate fresh Dex orchestration on a running lab, then idempotent re-runs (median of 3)
              with their breakdown (per orchestration step and minion state, Salt's share,
              engine calls, JVM starts, engine time), then a re-run that repairs drift
  users       user add -> first login, import, list (bench/users.py)
  kubectl     time the exec plugin adds to kubectl, refresh, fail-fast (bench/kubectl.py)
  console     console latency at 1,000/10,000 users, service memory, CLI list through the
              service, create in the console -> first login (bench/console.py)
  sso         latency the forward-auth subrequest adds behind nginx, p50/p95 over 500 requests
              with a warm session, against the same UI without it (bench/sso.py)
  removal     removal (no purge) and redeployment until the next login, against the removal that
              restarted kube-apiserver (bench/removal.py)
  node        the real node: `make lab` until the first super-admin login, Dex pod start,
              memory of containerd, kubelet, controller-manager, scheduler (bench/realnode.py)

  bench/run.sh [toolchain] [jvm] [engine] [lab] [orchestrate] [users] ... [removal] [node]   (default: all)
"""
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "lab"))
import labctl  # noqa: E402
import main_job  # noqa: E402

CACHE = Path(os.environ.get("DEXAUTH_CACHE", Path.home() / ".cache" / "dexauth"))


def timed(cmd, **kw):
    t0 = time.time()
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    return time.time() - t0, r


def bench_toolchain():
    print("== toolchain: cold build per component (first build on this machine)")
    tools = labctl.toolchain()
    for label, path in [("salt (pip)", Path(tools["SALT_VENV"])), ("etcd", Path(tools["ETCD_BIN"]).parent),
                        ("containerd (containerd, shim, ctr)", Path(tools["CONTAINERD_BIN"]).parent),
                        ("kubernetes (apiserver, kubelet, controller-", Path(tools["KUBE_APISERVER_BIN"]).parent),
                        ("  manager, scheduler, kubectl)", None),
                        ("dex", Path(tools["DEX_BIN"]).parent), ("pause", Path(tools["PAUSE_BIN"]).parent),
                        ("jarlauncher", Path(tools["JARLAUNCHER_BIN"]).parent)]:
        if path is None:
            print(f"  {label}")
            continue
        f = path / "build-seconds"
        print(f"  {label:40} {f.read_text().strip() + ' s' if f.exists() else 'not recorded'}")
    secs, r = timed([str(REPO / "toolchain" / "install.sh")])
    print(f"  warm `make toolchain` (everything cached)  {secs:.1f} s")


def bench_jvm():
    print("== JVM start: authctl version")
    samples = []
    for _ in range(7):
        secs, r = timed([str(REPO / "bin" / "authctl"), "version"])
        samples.append(secs)
    print(f"  median {statistics.median(samples) * 1000:.0f} ms, min {min(samples) * 1000:.0f} ms"
          f" (launcher + JVM + picocli, 7 runs)")


def engine_calls(root):
    """(calls, seconds in the engine, JVM starts) since the last look; one line per call is
    written by salt/_modules/dexauth.py: operation, seconds, 1 if the call started the JVM."""
    f = Path(root) / "engine-calls.tsv"
    if not f.exists():
        return 0, 0.0, 0
    rows = [line.split("\t") for line in f.read_text().splitlines() if line]
    f.unlink()
    ENGINE_ROWS[:] = rows
    return len(rows), sum(float(r[1]) for r in rows), sum(int(r[2]) for r in rows if len(r) > 2)


ENGINE_ROWS = []  # the calls of the last engine_calls(), for the detail lines


def engine_detail():
    return ", ".join(f"{r[0]} {float(r[1]):.1f}{'*' if len(r) > 2 and r[2] == '1' else ''}" for r in ENGINE_ROWS)


def step_breakdown(lab, states):
    """Per orchestration step: (id, seconds, [(minion state id, seconds)]) in run order; the
    states a salt.state step ran on minions come from the job cache (jobs.lookup_jid)."""
    steps = []
    for s in sorted((s for s in states.values() if isinstance(s, dict)), key=lambda s: s.get("__run_num__", 0)):
        inner = []
        if s.get("__jid__"):
            r = subprocess.run([lab.salt_bin("salt-run"), "-c", str(lab.salt_conf), "jobs.lookup_jid", s["__jid__"],
                                "--out=json"], capture_output=True, text=True, timeout=120)
            try:
                for minion, ret in json.loads(r.stdout).items():
                    for sub in sorted(ret.values(), key=lambda v: v.get("__run_num__", 0)):
                        inner.append((f"{minion}: {sub.get('__id__')}", sub.get("duration", 0) / 1000))
            except (ValueError, AttributeError):
                pass
        steps.append((s.get("__id__"), s.get("duration", 0) / 1000, inner))
    return steps


def print_breakdown(seconds, steps, calls, engine_seconds, jvm_starts):
    in_steps = sum(d for _, d, _ in steps)
    print(f"    salt-run start, orchestration render and compile    {seconds - in_steps:5.2f} s")
    for sid, d, inner in steps:
        print(f"    step  {sid[:52]:52} {d:5.2f} s")
        if inner:
            for name, di in inner:
                print(f"            {name[:52]:52} {di:5.2f} s")
            print(f"            {'(Salt: publish, job start, pillar, render)':52} {d - sum(x for _, x in inner):5.2f} s")
    print(f"    engine: {calls} calls, {jvm_starts} JVM start(s), {engine_seconds:.2f} s in the engine")


def bench_lab_and_orchestrate(do_lab, do_orch):
    root = Path(tempfile.mkdtemp(prefix="dexauth-bench-"))
    env = {**os.environ, "LAB_ROOT": str(root)}
    try:
        t0 = time.time()
        r = subprocess.run([sys.executable, str(REPO / "lab" / "labctl.py"), "up", "--root", str(root),
                            "--random-ports"], capture_output=True, text=True, env=env)
        up = time.time() - t0
        if r.returncode != 0:
            print(r.stdout, r.stderr)
            raise SystemExit("lab up failed")
        lab = labctl.Lab(root)
        engine_calls(root)
        ok, _, fresh = main_job.run_orchestration(lab)
        n1, t1, j1 = engine_calls(root)
        fresh_detail = engine_detail()
        if do_lab:
            print("== warm `make lab` (toolchain cached, lab down, private root)")
            print(f"  lab up {up:.1f} s + main job {fresh:.1f} s = {up + fresh:.1f} s")
        if not do_orch:
            return
        reruns = []
        for _ in range(3):
            ok2, states, rerun = main_job.run_orchestration(lab)
            reruns.append((rerun, ok2, states, engine_calls(root)))
        print("== orchestration (lab already up)")
        print(f"  fresh    {fresh:6.1f} s  (target < 60 s)  engine calls: {n1}, {j1} JVM start(s), {t1:.1f} s in the"
              f" engine{'' if ok else '  FAILED'}")
        print(f"    calls in seconds (* started a JVM; the roles schedule runs alongside): {fresh_detail}")
        times = sorted(r[0] for r in reruns)
        rerun, ok2, states, (n2, t2, j2) = sorted(reruns, key=lambda r: r[0])[1]  # the median run
        changed = [] if not ok2 else [s.get("__id__") for s in states.values() if isinstance(s, dict) and s.get("changes")]
        print(f"  idempotent re-run  median {rerun:.1f} s of {', '.join(f'{t:.1f}' for t in times)}  (target < 5 s)"
              f"  engine calls: {n2}, {j2} JVM start(s), {t2:.1f} s in the engine"
              f"{'' if ok2 else '  FAILED'}{'  CHANGED ' + str(changed) if changed else ''}")
        print_breakdown(rerun, step_breakdown(lab, states), n2, t2, j2)
        # Drift: a deleted Deployment and Secret come back with a re-run.
        kubectl = [lab.tools["KUBECTL_BIN"], "--kubeconfig", str(lab.kubeconfig), "-n", "dexauth"]
        subprocess.run(kubectl + ["delete", "deployment", "dex", "--wait=true"], capture_output=True, timeout=120)
        subprocess.run(kubectl + ["delete", "secret", "dex-grpc-tls"], capture_output=True, timeout=120)
        ok3, states3, repair = main_job.run_orchestration(lab)
        n3, t3, j3 = engine_calls(root)
        back = all(subprocess.run(kubectl + ["get", kind, name], capture_output=True, timeout=60).returncode == 0
                   for kind, name in (("deployment", "dex"), ("secret", "dex-grpc-tls")))
        print(f"  drift repair (Deployment and Secret deleted)  {repair:.1f} s  engine calls: {n3}, {j3} JVM start(s),"
              f" {t3:.1f} s in the engine; {'both restored' if ok3 and back else 'NOT RESTORED'}")
    finally:
        subprocess.run([sys.executable, str(REPO / "lab" / "labctl.py"), "down", "--root", str(root)],
                       capture_output=True, text=True)
        shutil.rmtree(root, ignore_errors=True)


def main():
    wanted = set(sys.argv[1:]) or {"toolchain", "jvm", "engine", "lab", "orchestrate", "users", "idps", "kubectl", "console", "sso",
                                   "removal", "node"}
    if "toolchain" in wanted:
        bench_toolchain()
    if "jvm" in wanted:
        bench_jvm()
    if "engine" in wanted:
        import engine
        engine.main()
    if wanted & {"lab", "orchestrate"}:
        bench_lab_and_orchestrate("lab" in wanted, "orchestrate" in wanted)
    if "users" in wanted:
        import users
        users.main()
    if "idps" in wanted:
        import idps
        idps.main()
    if "kubectl" in wanted:
        import kubectl
        kubectl.main()
    if "console" in wanted:
        import console
        console.main()
    if "sso" in wanted:
        import sso
        sso.main()
    if "removal" in wanted:
        import removal
        removal.main()
    if "node" in wanted:
        import realnode
        realnode.main()


if __name__ == "__main__":
    main()
