#!/usr/bin/env python3
"""Benchmark of a removal and a redeployment (prints figures, asserts nothing).

  removal  on one private lab, twice each, interleaved: `dexauth.orchestrate.remove` (no purge)
           then `dexauth.orchestrate.deploy`, until the super-admin's token is accepted again;
           * as the removal works: kube-apiserver's authentication file rewritten to trust no
             issuer, re-read (no restart);
           * reference, the removal as it was until it kept the flag: after the same removal,
             the --authentication-config flag, its mount and file removed from the node (so
             the redeployment adds them back): two kube-apiserver restarts per cycle.
           Each line: removal, deployment, deployment start to the first accepted token, and
           how many times kube-apiserver restarted.

Runs on a private lab (started and stopped here).  bench/run.sh removal
"""
import statistics
import sys
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "lab"))
sys.path.insert(0, str(REPO / "tests"))
import main_job  # noqa: E402
from labfixture import LabHandle, short_root  # noqa: E402
import dexlab  # noqa: E402
from support import wait_until  # noqa: E402

VOLUME = "dexauth-authn"


def drop_flag(lab):
    """What the removal did before it kept the flag: the flag, its volume and the file gone."""
    manifest = lab.lab.manifests / "kube-apiserver.yaml"
    pod = yaml.safe_load(manifest.read_text())
    container = pod["spec"]["containers"][0]
    container["command"] = [a for a in container["command"] if not a.startswith("--authentication-config")]
    container["volumeMounts"] = [m for m in container.get("volumeMounts", []) if m["name"] != VOLUME]
    pod["spec"]["volumes"] = [v for v in pod["spec"].get("volumes", []) if v["name"] != VOLUME]
    tmp = manifest.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump(pod, sort_keys=False))
    tmp.chmod(0o600)
    tmp.replace(manifest)
    (lab.root / "etc" / "kubernetes" / "dexauth" / "authentication-config.yaml").unlink(missing_ok=True)


def accepted(lab):
    try:
        token = dexlab.superadmin_token(lab)
    except AssertionError:
        return False
    return lab.kubectl("get", "ns", token=token).returncode == 0


def cycle(lab, restarting):
    pids = {lab.pod_pid("kube-apiserver")}
    t0 = time.time()
    ok, states, _ = main_job.run_orchestration(lab.lab, "dexauth.orchestrate.remove")
    assert ok, dexlab.failures(states)
    if restarting:
        before = lab.pod_pid("kube-apiserver")
        drop_flag(lab)
        pids.add(lab.wait_pod_pid_change("kube-apiserver", before, timeout=180))
        wait_until(lambda: lab.kube().get("/readyz", raw=True), timeout=180, what="kube-apiserver ready")
    removed = time.time() - t0
    t1 = time.time()
    ok, states, _ = main_job.run_orchestration(lab.lab)
    assert ok, dexlab.failures(states)
    deployed = time.time() - t1
    wait_until(lambda: accepted(lab), timeout=300, what="the super-admin's token accepted")
    login = time.time() - t1
    pids.add(lab.pod_pid("kube-apiserver"))
    return removed, deployed, login, len(pids) - 1


def main():
    lab = LabHandle(short_root("dxr-")).up()
    try:
        ok, states, _ = main_job.run_orchestration(lab.lab)
        assert ok, dexlab.failures(states)
        wait_until(lambda: accepted(lab), timeout=300, what="the super-admin's first token accepted")
        runs = {False: [], True: []}
        for _ in range(2):
            for restarting in (False, True):
                runs[restarting].append(cycle(lab, restarting))
        print("== removal (no purge) then redeployment, until the super-admin's token is accepted (2 runs each)")
        for restarting, label in ((False, "file re-read (the removal now)"), (True, "flag removed (reference, before)")):
            for removed, deployed, login, restarts in runs[restarting]:
                print(f"  {label:34} removal {removed:5.1f} s, deploy {deployed:5.1f} s, login after"
                      f" {login:5.1f} s, kube-apiserver restarts {restarts}")
        now, before = (statistics.median(r[0] + r[2] for r in runs[k]) for k in (False, True))
        print(f"  removal + redeployment until login, median: {now:.1f} s now, {before:.1f} s before")
    finally:
        lab.down()
        lab.remove()


if __name__ == "__main__":
    main()
