"""End to end: the lab's real node. Dex runs as a container of its Deployment's pod under
kubelet and containerd (the runtime lists it, the pod is Ready on the node), a container killed
by hand is restarted by kubelet, and `labctl down` leaves nothing outside the lab root, also
after a failed start."""
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import dexlab
from labfixture import REPO, LabHandle, short_root
from support import wait_until

sys.path.insert(0, str(REPO / "lab"))
import node as labnode  # noqa: E402

NS = "dexauth"


@pytest.fixture(scope="module")
def deployed(lab):
    if lab.lab.node_kind != "real":
        pytest.skip("the lab runs the node agent (LAB_NODE=agent)")
    ok, states, _ = dexlab.orchestrate(lab)
    assert ok, dexlab.failures(states)
    return lab


def _dex_pod(lab):
    r = lab.kubectl("-n", NS, "get", "pods", "-l", "app.kubernetes.io/name=dex", "-o", "json")
    assert r.returncode == 0, r.stderr
    pods = [p for p in json.loads(r.stdout)["items"] if not p["metadata"].get("deletionTimestamp")]
    return pods[0] if len(pods) == 1 else None


def test_dex_runs_as_a_container_ready_on_the_node(deployed):
    pod = wait_until(lambda: _dex_pod(deployed), what="one Dex pod")
    wait_until(lambda: all(c["ready"] for c in (_dex_pod(deployed) or {}).get("status", {})
                           .get("containerStatuses", [{"ready": False}])), what="Dex pod Ready")
    pod = _dex_pod(deployed)
    assert pod["spec"]["nodeName"] == deployed.lab.node.name
    assert pod["spec"]["containers"][0]["image"].startswith("ghcr.io/dexidp/dex:")
    # The runtime lists the container, and its process runs as the chart's user.
    containers = deployed.lab.node.container_pids()
    pid = containers[(NS, pod["metadata"]["name"], "dex")]
    status = Path(f"/proc/{pid}/status").read_text()
    assert "\nUid:\t1001\t" in status, status
    assert deployed.lab.node.ctr("images", "ls", "-q").stdout.count("ghcr.io/dexidp/dex:") == 1


def test_a_dex_container_killed_by_hand_is_restarted_by_kubelet(deployed):
    pod = wait_until(lambda: _dex_pod(deployed), what="one Dex pod")
    restarts = pod["status"]["containerStatuses"][0]["restartCount"]
    old = deployed.pod_pid("deploy-dexauth-dex")
    assert old
    os.kill(old, signal.SIGKILL)
    deployed.wait_pod_pid_change("deploy-dexauth-dex", old)
    wait_until(lambda: (_dex_pod(deployed) or {}).get("status", {}).get("containerStatuses", [{}])[0]
               .get("restartCount", 0) > restarts, what="Dex's restartCount going up")
    wait_until(lambda: deployed.kube().get(f"/apis/apps/v1/namespaces/{NS}/deployments/dex")["status"]
               .get("readyReplicas") == 1, what="Dex ready again")


# Where kubelet, containerd, runc and the CNI plugins put things by default.
DEFAULT_PATHS = ["/usr/libexec/kubernetes", "/etc/kubernetes", "/var/lib/kubelet", "/var/log/pods",
                 "/var/log/containers", "/run/containerd", "/var/lib/containerd", "/etc/containerd",
                 "/opt/containerd", "/etc/cni", "/opt/cni", "/var/lib/cni", "/run/runc"]


def _machine_state():
    return {
        "sysctls": {k: Path("/proc/sys", k).read_text() for k in labnode.SYSCTLS},
        "paths": {p: os.path.exists(p) for p in DEFAULT_PATHS},
        "registry": labnode.REGISTRY.exists(),
        "iptables chains": sorted(line.split()[0] for cmd in ("iptables-save", "ip6tables-save")
                                  for line in subprocess.run([cmd], capture_output=True, text=True).stdout.splitlines()
                                  if line.startswith(":")),
        "interfaces": sorted(os.listdir("/sys/class/net")),
    }


def _assert_nothing_left(handle, before, root_alive):
    root = str(handle.root)
    procs = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if root.encode() in (p / "cmdline").read_bytes():
                    procs.append(p.name)
            except OSError:
                pass
    assert procs == [], f"processes of the lab still run: {procs}"
    mounts = [line.split()[1] for line in Path("/proc/self/mounts").read_text().splitlines()
              if line.split()[1].startswith(root)]
    assert mounts == []
    assert not any(d.exists() for d in handle.lab.node._cgroup_dirs())
    assert not Path("/sys/class/net", handle.lab.node.bridge).exists()
    if not root_alive:  # no other real-node lab: the machine is as it was
        assert _machine_state() == before


def test_lab_down_after_a_failed_start_leaves_nothing_behind():
    others = labnode.REGISTRY.exists()
    before = _machine_state()
    handle = LabHandle(short_root("dxf-"))
    # A pillar that cannot render: the lab fails after the node is up (salt's bootstrap state).
    (handle.root / "pillar").mkdir(parents=True)
    (handle.root / "pillar" / "lab_overrides.sls").write_text("dexauth: [unclosed\n")
    r = subprocess.run([sys.executable, str(REPO / "lab" / "labctl.py"), "up", "--root", str(handle.root),
                        "--random-ports", "--node", "real"], capture_output=True, text=True, timeout=300)
    assert r.returncode != 0
    assert "lab.bootstrap failed" in r.stdout + r.stderr, r.stdout + r.stderr
    assert (handle.root / "node" / "claimed").exists(), "the node was not started before the failure"
    down = handle.down()
    assert down.returncode == 0, down.stdout + down.stderr
    _assert_nothing_left(handle, before, others)
    handle.remove()
