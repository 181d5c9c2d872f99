"""End to end: the lab's real node. Dex and the account service run as containers of their
Deployments' pods under kubelet and containerd (the runtime lists them, the pods are Ready on the
node, the account service reaches Dex and kube-apiserver from its pod), a container killed by
hand is restarted by kubelet, and `labctl down` leaves nothing outside the lab root, also
after a failed start."""
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import dexlab
from labfixture import REPO, LabHandle, mounts_under, processes_naming, short_root
from support import wait_until

sys.path.insert(0, str(REPO / "lab"))
import images as images_module  # noqa: E402
import labctl  # noqa: E402
import node as labnode  # noqa: E402

NS = "dexauth"


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
        "network namespaces": sorted(os.listdir("/run/netns")) if os.path.isdir("/run/netns") else [],
        # Labs mount under their roots in /tmp; nothing may stay mounted anywhere else.
        "mounts": sorted({line.split()[1] for line in Path("/proc/self/mounts").read_text().splitlines()
                          if not line.split()[1].startswith("/tmp/")}),
    }


def _processes_in_cgroup(cgroup):
    """Pids of the processes in the lab's cgroup root (its pods' containers and sandboxes)."""
    found = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if cgroup in (p / "cgroup").read_text():
                    found.append(int(p.name))
            except OSError:
                pass
    return found


def _assert_nothing_left(handle, before, root_alive):
    procs = processes_naming(handle.root, handle.lab.salt_root)
    assert procs == [], f"processes of the lab still run: {procs}"
    assert _processes_in_cgroup(handle.lab.node.cgroup) == [], "pod processes still run"
    busy = {name: port for name, port in (handle.ports or {}).items() if not labctl.port_free(port)}
    assert busy == {}, f"ports still taken: {busy}"
    assert mounts_under(handle.root) == []
    assert not any(d.exists() for d in handle.lab.node._cgroup_dirs())
    assert not Path("/sys/class/net", handle.lab.node.bridge).exists()
    assert not handle.lab.salt_root.exists(), f"Salt's state outside the root stays: {handle.lab.salt_root}"
    if not root_alive:  # no other real-node lab: the machine is as it was
        assert _machine_state() == before


# The labs of their own first: marked `alone` (make test runs them with no other lab), they then
# compare the machine before and after (the session's lab, a real-node lab too, starts with the
# first test below that needs it; run by hand beside another lab, they check only their own).
@pytest.mark.alone
def test_lab_down_after_a_failed_start_leaves_nothing_behind():
    others = labnode.REGISTRY.exists()
    before = _machine_state()
    handle = LabHandle(short_root("dxf-"))
    # A pillar that cannot render: the lab fails after the node is up (salt's bootstrap state).
    (handle.root / "pillar").mkdir(parents=True)
    (handle.root / "pillar" / "lab_overrides.sls").write_text("dexauth: [unclosed\n")
    try:  # down even when the start fails otherwise than expected: no lab left running
        r = subprocess.run([sys.executable, str(REPO / "lab" / "labctl.py"), "up", "--root", str(handle.root),
                            "--random-ports"], capture_output=True, text=True, timeout=300)
        assert r.returncode != 0
        assert "lab.bootstrap failed" in r.stdout + r.stderr, r.stdout + r.stderr
        assert (handle.root / "node" / "claimed").exists(), "the node was not started before the failure"
    finally:
        down = handle.down()
    assert down.returncode == 0, down.stdout + down.stderr
    _assert_nothing_left(handle, before, others)
    handle.remove()


@pytest.mark.alone
def test_lab_down_after_a_full_run_leaves_nothing_behind():
    """Up, the orchestration (Dex and the account service running as pods), then down: no pod's
    process, port, mount, cgroup, network namespace, interface or file outside the root stays."""
    others = labnode.REGISTRY.exists()
    before = _machine_state()
    handle = LabHandle(short_root("dxd-")).up()
    try:
        ok, states, _ = dexlab.orchestrate(handle)
        assert ok, dexlab.failures(states)
        for which in PODS:
            wait_until(lambda: _ready(handle, which), what=f"{which} pod Ready")
        pids = {which: handle.pod_pid(f"deploy-{NS}-{PODS[which][0]}") for which in PODS}
        assert all(pids.values()), pids
        # A pod on the pod network (not the host's): its network namespace and veth are the
        # runtime's, made by CNI, and must go too.
        pause = f"registry.k8s.io/pause:{labnode.versions(REPO)['PAUSE_VERSION']}"
        r = handle.kubectl("run", "on-pod-network", "--image", pause, "--image-pull-policy", "Never",
                           "--restart", "Never")
        assert r.returncode == 0, r.stderr
        wait_until(lambda: handle.kubectl("get", "pod", "on-pod-network", "-o", "jsonpath={.status.podIP}")
                   .stdout.startswith("10.244."), what="a pod address on the lab's pod network")
        pod_netns = handle.lab.node._pod_netns()
        assert pod_netns and all(Path(p).exists() for p in pod_netns), pod_netns
    finally:
        down = handle.down()
    assert down.returncode == 0, down.stdout + down.stderr
    assert [which for which, pid in pids.items() if Path(f"/proc/{pid}").exists()] == []
    assert [p for p in pod_netns if Path(p).exists()] == [], "a pod's network namespace stays"
    _assert_nothing_left(handle, before, others)
    handle.remove()


@pytest.fixture(scope="module")
def deployed(lab):
    ok, states, _ = dexlab.orchestrate(lab)
    assert ok, dexlab.failures(states)
    return lab


# The chart's two Deployments: (Deployment, label app.kubernetes.io/name, container, image's user).
PODS = {"dex": ("dex", "dex", "dex", 1001), "account": ("dex-account", "dex-account", "account", 10001)}


def _pod(lab, which):
    _, app, _, _ = PODS[which]
    r = lab.kubectl("-n", NS, "get", "pods", "-l", f"app.kubernetes.io/name={app}", "-o", "json")
    assert r.returncode == 0, r.stderr
    pods = [p for p in json.loads(r.stdout)["items"] if not p["metadata"].get("deletionTimestamp")]
    return pods[0] if len(pods) == 1 else None


def _ready(lab, which):
    statuses = ((_pod(lab, which) or {}).get("status") or {}).get("containerStatuses") or [{"ready": False}]
    return all(c["ready"] for c in statuses)


def _deployment_ready(lab, which):
    deployment = PODS[which][0]
    return lab.kube().get(f"/apis/apps/v1/namespaces/{NS}/deployments/{deployment}")["status"].get("readyReplicas") == 1


# Every container of the two pods: (pod, container, image's user). The login guard is Dex's pod's
# second container, from the account service's image.
CONTAINERS = [("dex", "dex", 1001), ("dex", "login-guard", 10001), ("account", "account", 10001)]


@pytest.mark.parametrize("which, container, uid", CONTAINERS, ids=[c[1] for c in CONTAINERS])
def test_runs_as_a_container_ready_on_the_node(deployed, which, container, uid):
    wait_until(lambda: _ready(deployed, which), what=f"{which} pod Ready")
    pod = _pod(deployed, which)
    assert pod["spec"]["nodeName"] == deployed.lab.node.name
    # The runtime has the image under the name the chart asks for, and runs the container from it
    # as the chart's user.
    image = next(c["image"] for c in pod["spec"]["containers"] if c["name"] == container)
    assert images_module.runtime_name(*image.rsplit(":", 1)) in deployed.lab.node.ctr("images", "ls", "-q").stdout
    pid = deployed.lab.node.container_pids()[(NS, pod["metadata"]["name"], container)]
    status = Path(f"/proc/{pid}/status").read_text()
    assert f"\nUid:\t{uid}\t" in status, status


def test_the_account_service_in_its_pod_reaches_dex_and_kubernetes(deployed):
    """From its real pod (service-account token, apiserver address, Dex's issuer and CA as the pod
    sees them), the service checks a super-admin's token and answers who they are."""
    wait_until(lambda: _ready(deployed, "account"), what="account pod Ready")
    url = yaml.safe_load((deployed.root / "authctl.yaml").read_text())["account"]["url"]
    status, _, body = dexlab.raw_request(url + "/api/v1/me", dexlab.ca_file(deployed),
                                         headers={"Authorization": "Bearer " + dexlab.superadmin_token(deployed)})
    assert status == 200, body
    assert json.loads(body)["email"] == dexlab.pillar(deployed)["superadmin"]["email"]


@pytest.mark.parametrize("which", PODS)
def test_a_container_killed_by_hand_is_restarted_by_kubelet(deployed, which):
    deployment = PODS[which][0]
    wait_until(lambda: _ready(deployed, which), what=f"{which} pod Ready")
    restarts = _pod(deployed, which)["status"]["containerStatuses"][0]["restartCount"]
    old = deployed.pod_pid(f"deploy-{NS}-{deployment}")
    assert old
    os.kill(old, signal.SIGKILL)
    deployed.wait_pod_pid_change(f"deploy-{NS}-{deployment}", old)
    wait_until(lambda: ((_pod(deployed, which) or {}).get("status") or {}).get("containerStatuses", [{}])[0]
               .get("restartCount", 0) > restarts, what=f"{which}'s restartCount going up")
    wait_until(lambda: _deployment_ready(deployed, which), what=f"{which} ready again")
