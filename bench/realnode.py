"""Benchmark of the lab's real node (prints figures, asserts nothing).

  * `make lab` on a real node until the first super-admin login: lab up (containerd, kubelet,
    kube-apiserver as a static pod, controllers), the main job (Dex as a pod), then Dex's token
    endpoint accepting the super-admin's one-time password;
  * Dex pod start: a deleted Dex pod until its replacement is Ready (median of 3), and the
    first pod's creation-to-Ready from its own conditions;
  * memory (RSS) of the node's components and of the containers;
  * the same first login on three control-plane hosts (`make lab NODES=3`), and each host's memory.
"""
import json
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "lab"))
import labctl  # noqa: E402
import main_job  # noqa: E402
import node as labnode  # noqa: E402


def _pillar(lab):
    import yaml
    return yaml.safe_load((lab.root / "pillar" / "lab.sls").read_text())["dexauth"]


def _login(lab, email, password):
    cfg = main_job.authctl_config(lab)
    issuer = _pillar(lab)["issuer"]
    data = urllib.parse.urlencode({"grant_type": "password", "client_id": "authctl", "username": email,
                                   "password": password, "scope": "openid email"}).encode()
    ctx = ssl.create_default_context(cafile=cfg["dex"]["caFile"])
    with urllib.request.urlopen(urllib.request.Request(issuer + "/token", data=data), context=ctx, timeout=30) as r:
        return r.status == 200


def _ts(s):
    return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def _dex_pods(kubectl):
    out = subprocess.run(kubectl + ["get", "pods", "-l", "app.kubernetes.io/name=dex", "-o", "json"],
                         capture_output=True, text=True, timeout=60).stdout
    return [p for p in json.loads(out or '{"items": []}')["items"] if not p["metadata"].get("deletionTimestamp")]


def _ready(pod):
    return any(c["type"] == "Ready" and c["status"] == "True" for c in pod.get("status", {}).get("conditions", []))


def _rss_mb(pid):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def to_first_login(root, nodes, title):
    """`make lab` with ``nodes`` hosts until the super-admin's first login, printed under ``title``;
    returns the lab."""
    t0 = time.time()
    r = subprocess.run([sys.executable, str(REPO / "lab" / "labctl.py"), "up", "--root", str(root), "--random-ports",
                        *(["--nodes", str(nodes)] if nodes > 1 else [])], capture_output=True, text=True)
    up = time.time() - t0
    if r.returncode != 0:
        print(r.stdout[-2000:], r.stderr[-2000:])
        raise SystemExit(f"lab up ({nodes} node(s)) failed")
    lab = labctl.Lab(root)
    ok, _, orch = main_job.run_orchestration(lab)
    email = _pillar(lab)["superadmin"]["email"]
    password = main_job.superadmin_password_file(lab).read_text().strip()
    while time.time() - t0 < 900:
        try:
            if _login(lab, email, password):
                break
        except OSError:
            pass
        time.sleep(0.2)
    first_login = time.time() - t0
    print(f"== {title}")
    print(f"  lab up {up:.1f} s, main job {orch:.1f} s{'' if ok else ' FAILED'}, first login at {first_login:.1f} s")
    return lab


def down(root):
    subprocess.run([sys.executable, str(REPO / "lab" / "labctl.py"), "down", "--root", str(root)],
                   capture_output=True, text=True)
    salt_root = labctl.Lab(root).salt_root
    shutil.rmtree(root, ignore_errors=True)
    shutil.rmtree(salt_root, ignore_errors=True)


def three_nodes():
    """The same on three control-plane hosts, and each host's node components' memory."""
    root = Path(tempfile.mkdtemp(prefix="dxb3-", dir="/tmp"))
    try:
        lab = to_first_login(root, 3, "three control-plane hosts: `make lab NODES=3` until the first super-admin "
                                      "login")
        print("== memory (RSS) of each host's components")
        for host in lab.cluster.hosts():
            node = lab.cluster.node(host)
            parts = [(c, _rss_mb(lab.pid(node.proc(c)))) for c in ["etcd", "containerd", "kubelet", "salt-minion"]]
            print(f"  {host.name}: " + ", ".join(f"{c} {mb:.0f} MB" for c, mb in parts if mb))
    finally:
        down(root)


def main():
    root = Path(tempfile.mkdtemp(prefix="dxbn-", dir="/tmp"))
    try:
        lab = to_first_login(root, 1, "real node: `make lab` (toolchain cached) until the first super-admin login")

        kubectl = [lab.tools["KUBECTL_BIN"], "--kubeconfig", str(lab.kubeconfig), "-n", "dexauth"]
        pod = _dex_pods(kubectl)[0]
        ready_at = next(c["lastTransitionTime"] for c in pod["status"]["conditions"] if c["type"] == "Ready")
        first = _ts(ready_at) - _ts(pod["metadata"]["creationTimestamp"])
        samples = []
        for _ in range(3):
            old = _dex_pods(kubectl)[0]["metadata"]["name"]
            t1 = time.time()
            subprocess.run(kubectl + ["delete", "pod", old, "--wait=false"], capture_output=True, timeout=60)
            while time.time() - t1 < 180:
                pods = [p for p in _dex_pods(kubectl) if p["metadata"]["name"] != old]
                if pods and _ready(pods[0]):
                    break
                time.sleep(0.2)
            samples.append(time.time() - t1)
        print("== Dex pod start (image present, real kubelet and containerd)")
        print(f"  first pod created -> Ready {first:.1f} s (includes waiting for Dex's CRDs and the apiserver restart)")
        print(f"  pod deleted -> replacement Ready: median {statistics.median(samples):.1f} s of "
              f"{', '.join(f'{s:.1f}' for s in samples)}")

        print("== memory (RSS) of the node's components")
        for name in ["etcd", *labnode.COMPONENTS]:
            mb = _rss_mb(lab.pid(name))
            print(f"  {name:26} {mb:.0f} MB" if mb else f"  {name:26} not running")
        for (ns, pod_name, container), pid in sorted(lab.node.container_pids().items()):
            mb = _rss_mb(pid)
            print(f"  container {ns}/{container:14} {mb:.0f} MB" if mb else f"  container {container}: gone")
    finally:
        down(root)
    three_nodes()


if __name__ == "__main__":
    main()
