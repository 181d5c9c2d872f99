#!/usr/bin/env python3
"""Benchmarks: prints figures, asserts nothing.

  toolchain   cold build/install time per component (recorded by the first build on this
              machine, kept beside the cached binaries) and the warm `make toolchain` time
  lab         warm `make lab` (toolchain cached, lab down): time until the lab is up and
              the main job (Dex orchestration) is done, in a private lab root
  jvm         start time of `authctl version` (median of 7)
  orchestrate fresh Dex orchestration on a running lab, then an idempotent re-run; with
              the number of Java engine invocations of each and their total time
  users       user add -> first login, import, list (bench/users.py)
  kubectl     time the exec plugin adds to kubectl, refresh, fail-fast (bench/kubectl.py)

  bench/run.sh [toolchain] [jvm] [lab] [orchestrate]   (default: all)
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
                        ("kubernetes (kube-apiserver + kubectl)", Path(tools["KUBE_APISERVER_BIN"]).parent),
                        ("dex", Path(tools["DEX_BIN"]).parent)]:
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
    f = Path(root) / "engine-calls.tsv"
    if not f.exists():
        return 0, 0.0
    rows = [line.split("\t") for line in f.read_text().splitlines() if line]
    f.unlink()
    return len(rows), sum(float(s) for _, s in rows)


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
        n1, t1 = engine_calls(root)
        ok2, _, rerun = main_job.run_orchestration(lab)
        n2, t2 = engine_calls(root)
        if do_lab:
            print("== warm `make lab` (toolchain cached, lab down, private root)")
            print(f"  lab up {up:.1f} s + main job {fresh:.1f} s = {up + fresh:.1f} s")
        if do_orch:
            print("== orchestration (lab already up)")
            print(f"  fresh    {fresh:6.1f} s  (target < 60 s)  engine calls: {n1}, {t1:.1f} s in the engine"
                  f"{'' if ok else '  FAILED'}")
            print(f"  re-run   {rerun:6.1f} s  (target < 15 s)  engine calls: {n2}, {t2:.1f} s in the engine"
                  f"{'' if ok2 else '  FAILED'}")
    finally:
        subprocess.run([sys.executable, str(REPO / "lab" / "labctl.py"), "down", "--root", str(root)],
                       capture_output=True, text=True)
        shutil.rmtree(root, ignore_errors=True)


def main():
    wanted = set(sys.argv[1:]) or {"toolchain", "jvm", "lab", "orchestrate", "users", "idps", "kubectl"}
    if "toolchain" in wanted:
        bench_toolchain()
    if "jvm" in wanted:
        bench_jvm()
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


if __name__ == "__main__":
    main()
