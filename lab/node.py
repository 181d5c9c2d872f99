"""The lab's real node: containerd (with Debian's runc), kubelet, kube-controller-manager and
kube-scheduler, all on 127.0.0.1, each with its own directories under <lab>/node/.

Almost everything lives under the lab root: containerd's root and state (the containers'
bundles and rootfs mounts), runc's state, kubelet's root directory (--root-dir: volumes,
pod state) and the pods' logs (<lab>/logs/pods). What cannot, and how it is handled:
  * /run/containerd (containerd's shims put their sockets in /run/containerd/s, named by a hash
    of the containerd socket), /var/log/containers (kubelet's symlinks, named by container id)
    and /var/lib/kubelet (kubelet's device-plugin socket): machine-global but without name
    clashes between labs, so several real-node labs may run at once (the tests do);
  * the kernel settings kubelet requires with protectKernelDefaults (vm.overcommit_memory=1,
    kernel.panic=10, kernel.panic_on_oops=1), the same for every lab.
The registry /run/dexauth-lab-nodes.json (under flock) lists the labs using them: the first
lab records which of the directories existed and the kernel settings' values; the last lab to
stop removes the directories it made and restores the settings. A lab whose root is gone is
dropped from the list (a machine reboot clears /run anyway).
  * cgroups: each kubelet gets its own cgroup root (/dexauth-lab-<hash>, cgroupfs driver), so
    two kubelets never see each other's pods; `down` removes that tree.
  * mounts: kubelet's volume tmpfs and containerd's rootfs overlays are under the lab root;
    whatever is still mounted there is unmounted on `down`.
Pods use host networking (the lab is loopback only, see docs/architecture.md); a CNI bridge
config exists only so that the runtime reports its network ready (no pod uses it).
"""
import fcntl
import hashlib
import json
import os
import shutil
import signal
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

import images
import labkube

REGISTRY = Path("/run/dexauth-lab-nodes.json")
GLOBAL_DIRS = [Path("/run/containerd"), Path("/var/log/containers"), Path("/var/lib/kubelet")]
SYSCTLS = {"vm/overcommit_memory": "1", "kernel/panic": "10", "kernel/panic_on_oops": "1"}

COMPONENTS = ["containerd", "kubelet", "kube-controller-manager", "kube-scheduler"]
PORTS = {"kubelet": 10250, "kubelet_healthz": 10248, "controller_manager": 10257, "scheduler": 10259}
CGROUP_FS = Path("/sys/fs/cgroup")


def restarted(argv):
    """``argv`` under a shell that starts it again 1 s after it exits, as kubelet restarts a
    static pod (without its growing back-off: the controllers exit at once while kube-apiserver
    is away, and a back-off grown then would delay them after it is back). The shell leads the
    process group that ``Lab.stop_process`` stops."""
    loop = 'while :; do "$@"; echo "lab: $1 exited ($?), restarting in 1s"; sleep 1; done'
    return ["bash", "-c", loop, "restart-loop", *argv]


def node_name():
    """The node is named by its address, 127.0.0.1: kubelet takes an IP given as its name as the
    node's InternalIP (it refuses a loopback --node-ip, and a host name resolving to 127.0.0.1
    makes it pick the default route's interface), so the apiserver reaches it there and
    host-network pods get 127.0.0.1 as their IP (their probes included). Nothing needs DNS."""
    return "127.0.0.1"


def versions(repo):
    out = {}
    for line in (repo / "toolchain" / "versions.env").read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            k, v = line.split("=", 1)
            out[k] = v
    return out


@contextmanager
def _registry():
    """The registry of real-node labs, read and written under an exclusive lock."""
    lock = REGISTRY.with_suffix(".lock")
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        reg = json.loads(REGISTRY.read_text()) if REGISTRY.exists() else {"labs": []}
        reg["labs"] = [r for r in reg["labs"] if Path(r, "node", "claimed").exists()]
        yield reg
        if reg["labs"]:
            REGISTRY.write_text(json.dumps(reg, indent=2))
        else:
            REGISTRY.unlink(missing_ok=True)
            lock.unlink(missing_ok=True)
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


class Node:
    """The lab's node; with ``host`` (hosts.Host) one node of a multi-host lab (cluster.py): its own
    directories under <lab>/hosts/<host>/node, processes named "<host>-containerd"..., named by the
    host's address, every process started through ``wrap`` (into the host's namespaces). The lab's
    own Node (host None) then only holds the machine's registration and the controllers."""

    def __init__(self, lab, repo, host=None, wrap=None):
        self.lab, self.repo, self.host = lab, repo, host
        self.wrap = wrap or (lambda argv: argv)
        self.dir = lab.root / "node" if host is None else lab.root / "hosts" / host.name / "node"
        self.socket = self.dir / "containerd.sock"
        self.name = node_name() if host is None else host.address

    def proc(self, component):
        """The pid-file name of one of this node's processes."""
        return component if self.host is None else f"{self.host.name}-{component}"

    def cert(self, name):
        """The lab PKI's name of this node's kubelet certificates ("kubelet", "kubelet-serving")."""
        return name if self.host is None else f"{name}-{self.host.name}"

    # -- what the node shares with the machine ------------------------------------------------
    @property
    def bridge(self):
        """The CNI bridge a pod without host networking would create (none of the lab's does)."""
        return "dxlab" + hashlib.sha256(str(self.lab.root).encode()).hexdigest()[:8]

    @property
    def cgroup(self):
        base = "/dexauth-lab-" + hashlib.sha256(str(self.lab.root).encode()).hexdigest()[:8]
        return base if self.host is None else f"{base}-{self.host.name}"

    def _cgroup_dirs(self):
        return [d / self.cgroup.lstrip("/") for d in sorted(CGROUP_FS.iterdir())
                if (d / "cgroup.procs").exists()]

    def claim_machine(self):
        """Registers this lab as a user of the machine-global directories and kernel settings
        (the first one records their previous state), and makes its own cgroup root."""
        self.dir.mkdir(parents=True, exist_ok=True)
        if self.host is not None:  # the lab's own Node registered the machine
            (self.dir / "claimed").write_text(str(self.lab.root))
            self._make_cgroups()
            return
        with _registry() as reg:
            if not reg["labs"]:
                reg["made_dirs"] = [str(d) for d in GLOBAL_DIRS if not d.exists()]
                reg["sysctls"] = {k: Path("/proc/sys", k).read_text().strip() for k in SYSCTLS}
            (self.dir / "claimed").write_text(str(self.lab.root))
            if str(self.lab.root) not in reg["labs"]:
                reg["labs"].append(str(self.lab.root))
            for d in GLOBAL_DIRS:
                d.mkdir(parents=True, exist_ok=True)
            for k, v in SYSCTLS.items():
                Path("/proc/sys", k).write_text(v)
        self._make_cgroups()

    def _make_cgroups(self):
        for d in self._cgroup_dirs():
            d.mkdir(exist_ok=True)
            if d.parent.name == "cpuset":  # a new cpuset is empty: give it its parent's CPUs and memory
                for f in ("cpuset.cpus", "cpuset.mems"):
                    (d / f).write_text((d.parent / f).read_text())

    def release_machine(self):
        """Unregisters this lab; the last one restores the kernel settings and removes the
        directories that did not exist before the first."""
        if not (self.dir / "claimed").exists():
            return
        if self.host is not None:
            (self.dir / "claimed").unlink()
            return
        with _registry() as reg:
            (self.dir / "claimed").unlink()
            reg["labs"] = [r for r in reg["labs"] if r != str(self.lab.root)]
            if not reg["labs"]:
                for d in reg.get("made_dirs", []):
                    shutil.rmtree(d, ignore_errors=True)
                for k, v in reg.get("sysctls", {}).items():
                    Path("/proc/sys", k).write_text(v)

    # -- configuration ---------------------------------------------------------------------------
    def write_configs(self, ports, tools, vers):
        d = self.dir
        for sub in ("containerd", "kubelet", "cni/net.d", "pki"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        pki = self.lab.pki
        (d / "containerd.toml").write_text(f"""version = 3
root = "{d / 'containerd'}"
state = "{d / 'containerd-state'}"
[grpc]
  address = "{self.socket}"
[ttrpc]
  address = "{self.socket}.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "{d / 'opt'}"
# NRI (on by default in containerd 2) would listen on the machine's /var/run/nri/nri.sock: one
# path for every containerd, so two starting at once (hosts of a lab, labs side by side) race for
# it and one dies, and the socket is left outside the lab root. The lab has no NRI plugin.
[plugins."io.containerd.nri.v1.nri"]
  disable = true
[plugins."io.containerd.grpc.v1.cri"]
  disable_tcp_service = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
[plugins."io.containerd.cri.v1.images"]
  snapshotter = "overlayfs"
  [plugins."io.containerd.cri.v1.images".pinned_images]
    sandbox = "registry.k8s.io/pause:{vers['PAUSE_VERSION']}"
[plugins."io.containerd.cri.v1.runtime"]
  disable_apparmor = true
  restrict_oom_score_adj = true
  [plugins."io.containerd.cri.v1.runtime".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]
        BinaryName = "{tools['RUNC_BIN']}"
        Root = "{d / 'runc'}"
        SystemdCgroup = false
  [plugins."io.containerd.cri.v1.runtime".cni]
    bin_dirs = ["{tools['CNI_BIN_DIR']}"]
    conf_dir = "{d / 'cni' / 'net.d'}"
""")
        # Only for the runtime's NetworkReady: the lab's pods all use the host's network.
        (d / "cni" / "net.d" / "10-lab.conflist").write_text(json.dumps({
            "cniVersion": "1.0.0", "name": "lab",
            "plugins": [{"type": "bridge", "bridge": self.bridge, "isGateway": False, "ipMasq": False,
                         "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.244.0.0/24"}]],
                                  "dataDir": str(d / "cni" / "ipam")}}]}))
        labkube.write_kubeconfig(d / "kubelet.kubeconfig", f"https://127.0.0.1:{ports['apiserver']}",
                                     pki / "ca.crt", pki / f"{self.cert('kubelet')}.crt",
                                     pki / f"{self.cert('kubelet')}.key",
                                     user=f"system:node:{self.name}")
        import yaml
        (d / "kubelet.yaml").write_text(yaml.safe_dump({
            "apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration",
            "address": self.name, "port": ports["kubelet"], "readOnlyPort": 0,
            "healthzBindAddress": "127.0.0.1", "healthzPort": ports["kubelet_healthz"],
            # The one static pod's file, not its directory: Salt's file.managed writes a temporary
            # file beside its target, and kubelet would run that half-written copy as a second pod
            # of the same name (and then wait forever for its volumes). Watching a single file,
            # kubelet sees a replaced file on its next check (fileCheckFrequency).
            "staticPodPath": str(self.lab.manifests / "kube-apiserver.yaml"), "fileCheckFrequency": "2s",
            "volumePluginDir": str(d / "kubelet-plugins"),
            "cgroupDriver": "cgroupfs", "cgroupRoot": self.cgroup, "failCgroupV1": False, "failSwapOn": False,
            "protectKernelDefaults": True,
            "containerRuntimeEndpoint": f"unix://{self.socket}",
            # Under <lab>/logs with the lab's other logs (the tests' secret scans read them all).
            "podLogsDir": str(self.lab.logs / "pods"),
            "authentication": {"anonymous": {"enabled": False}, "webhook": {"enabled": True},
                               "x509": {"clientCAFile": str(pki / "ca.crt")}},
            "authorization": {"mode": "Webhook"},
            "tlsCertFile": str(pki / f"{self.cert('kubelet-serving')}.crt"),
            "tlsPrivateKeyFile": str(pki / f"{self.cert('kubelet-serving')}.key"),
            # The lab's images exist only here: never collect them, whatever the disk's fill.
            "imageGCHighThresholdPercent": 100, "imageGCLowThresholdPercent": 99,
            "evictionHard": {"memory.available": "50Mi", "nodefs.available": "1%", "imagefs.available": "1%"},
            "resolvConf": "/etc/resolv.conf", "clusterDomain": "cluster.local",
            "registerNode": True, "nodeStatusUpdateFrequency": "5s",
        }))

    # -- processes -------------------------------------------------------------------------------
    def start(self, ports):
        tools = self.lab.tools
        missing = [k for k in ("CONTAINERD_BIN", "CONTAINERD_SHIM_BIN", "CTR_BIN", "KUBELET_BIN",
                               "KUBE_CONTROLLER_MANAGER_BIN", "KUBE_SCHEDULER_BIN", "PAUSE_BIN", "RUNC_BIN")
                   if k not in tools]
        if missing:
            raise SystemExit(f"labctl: the toolchain has no {', '.join(missing)}: run `make toolchain`")
        vers = versions(self.repo)
        self.claim_machine()
        self.write_configs(ports, tools, vers)
        path = ":".join([str(Path(tools["CONTAINERD_SHIM_BIN"]).parent), str(Path(tools["RUNC_BIN"]).parent),
                         os.environ.get("PATH", "/usr/bin:/bin")])
        self.lab.spawn(self.proc("containerd"), self.wrap([tools["CONTAINERD_BIN"], "--config",
                                                           str(self.dir / "containerd.toml")]), env={"PATH": path})
        self.lab.wait_for(self.proc("containerd"), lambda: self.ctr("version").returncode == 0, timeout=60)
        self.import_images(tools, vers)
        self.lab.spawn(self.proc("kubelet"), self.wrap([
            tools["KUBELET_BIN"], "--config", str(self.dir / "kubelet.yaml"),
            "--kubeconfig", str(self.dir / "kubelet.kubeconfig"), "--root-dir", str(self.dir / "kubelet"),
            "--hostname-override", self.name, "--v", "1"]),
            # Without iptables on its PATH kubelet adds no chains to the host's firewall (its
            # KUBE-FIREWALL and canary chains serve kube-proxy, which the lab does not run).
            env={"PATH": "/usr/local/bin:/usr/bin:/bin"})

    def start_controllers(self, ports):
        """kube-controller-manager and kube-scheduler, once kube-apiserver (kubelet's static pod)
        answers: they read its authentication ConfigMap at start and exit without it.

        As in production (kubeadm's and MetalK8s' static pods), both hold a leader lease and
        are restarted when they exit: an apiserver outage longer than the lease's renew
        deadline (6 s here, e.g. every restart for a changed flag) makes them exit, and the restart
        gives them fresh watches at once. Kept running through the outage instead, their
        informers wait out the watch back-off: 25 to 70 s more before a new pod is created or
        scheduled (measured in the lab)."""
        tools = self.lab.tools
        kubeconfig = str(self.lab.kubeconfig)
        # A restarted instance waits a whole lease from its first look at the lease before it
        # takes over (15 s by default): shorter leases, still longer than a slow answer.
        lease = ["--leader-elect-lease-duration=8s", "--leader-elect-renew-deadline=6s",
                 "--leader-elect-retry-period=2s"]
        self.lab.spawn("kube-controller-manager", restarted([
            tools["KUBE_CONTROLLER_MANAGER_BIN"], "--kubeconfig", kubeconfig,
            "--authentication-kubeconfig", kubeconfig, "--authorization-kubeconfig", kubeconfig,
            "--bind-address", "127.0.0.1", "--secure-port", str(ports["controller_manager"]),
            "--root-ca-file", str(self.lab.pki / "ca.crt"),
            "--service-account-private-key-file", str(self.lab.pki / "sa.key"),
            "--use-service-account-credentials", *lease,
            # Its default, /usr/libexec/kubernetes/..., would be created outside the lab root.
            "--flex-volume-plugin-dir", str(self.dir / "kubelet-plugins"),
            "--cert-dir", str(self.dir / "pki" / "controller-manager")]))
        self.lab.spawn("kube-scheduler", restarted([
            tools["KUBE_SCHEDULER_BIN"], "--kubeconfig", kubeconfig,
            "--authentication-kubeconfig", kubeconfig, "--authorization-kubeconfig", kubeconfig,
            "--bind-address", "127.0.0.1", "--secure-port", str(ports["scheduler"]), *lease,
            "--cert-dir", str(self.dir / "pki" / "scheduler")]))

    def ctr(self, *args, timeout=60):
        return subprocess.run([self.lab.tools["CTR_BIN"], "-a", str(self.socket), "-n", "k8s.io", *args],
                              capture_output=True, text=True, timeout=timeout)

    def import_images(self, tools, vers):
        cache = Path(os.environ.get("DEXAUTH_CACHE", Path.home() / ".cache" / "dexauth")) / "images"
        chart = self.repo / "charts" / "dex"
        wanted = images.lab_images(tools, vers, chart)
        # The account service's image carries the tag the engine gives the chart: authctl's version.
        jar = self.repo / "java-ext" / "target" / "authctl.jar"
        if not jar.exists():
            raise SystemExit(f"labctl: {jar} is missing (the account service's image is made from it): run `make jar`")
        import zipfile
        with zipfile.ZipFile(jar) as z:
            props = dict(line.split("=", 1) for line in z.read("dexauth-version.properties").decode().splitlines()
                         if "=" in line)
        wanted.append(images.account_service_image(tools, jar, props["version"], cache, chart))
        for image in wanted:  # each lab's containerd starts empty; a re-import of the same content is quick
            images.import_image(tools["CTR_BIN"], self.socket, images.build(image, cache))

    def wait_ready(self, kube):
        def ready():
            node = kube.get(f"/api/v1/nodes/{self.name}")
            return any(c["type"] == "Ready" and c["status"] == "True" for c in node["status"]["conditions"])
        self.lab.wait_for(f"node {self.name} Ready", ready, timeout=120)

    # -- pods as the tests see them -----------------------------------------------------------
    def container_pids(self):
        """{(pod namespace, pod name, container name): pid} of every running container."""
        out = {}
        if not self.socket.exists():
            return out
        for line in self.ctr("tasks", "ls", timeout=20).stdout.splitlines()[1:]:
            fields = line.split()
            if len(fields) < 3 or fields[2] != "RUNNING":
                continue
            info = self.ctr("containers", "info", fields[0], timeout=20)
            if info.returncode != 0:
                continue
            labels = json.loads(info.stdout).get("Labels") or {}
            if labels.get("io.cri-containerd.kind") != "container":
                continue
            out[(labels.get("io.kubernetes.pod.namespace"), labels.get("io.kubernetes.pod.name"),
                 labels.get("io.kubernetes.container.name"))] = int(fields[1])
        return out

    # -- stop ---------------------------------------------------------------------------------
    def stop(self):
        """Stops pods, node components and shims, then undoes every change outside the lab root.
        Safe to call after a failed or partial start, and twice; a lab that never claimed the
        machine (it failed before) touches nothing outside its root. Returns what is still left behind."""
        claimed = (self.dir / "claimed").exists()
        pod_netns = []
        if claimed and self.socket.exists() and self.lab.pid(self.proc("containerd")):
            self.lab.stop_process(self.proc("kubelet"))
            pod_netns = self._pod_netns()
            tasks = lambda: [line.split() for line in self.ctr("tasks", "ls", timeout=20).stdout.splitlines()[1:]]  # noqa: E731
            for t in tasks():
                self.ctr("tasks", "kill", "-s", "SIGKILL", t[0], timeout=20)
            deadline = time.time() + 20
            while time.time() < deadline and any(len(t) > 2 and t[2] == "RUNNING" for t in tasks()):
                time.sleep(0.2)
            for t in tasks():
                self.ctr("tasks", "delete", "-f", t[0], timeout=20)
        for name in ["kubelet", "kube-scheduler", "kube-controller-manager", "containerd"]:
            self.lab.stop_process(self.proc(name))
        if claimed:
            self._kill_shims()
            # Without kubelet no CNI DEL runs: the namespaces containerd pinned for pods off the
            # host's network (and their veths on the lab's bridge) would stay in /run/netns.
            for path in pod_netns:
                self._remove_netns(path)
            # A host's mounts live in its own mount namespace (cluster.py), gone with it; its CNI
            # bridge would be in its network namespace.
            if self.host is None:
                self._unmount()
            self._remove_cgroups()
            if self.host is None:
                subprocess.run(["ip", "link", "del", self.bridge], capture_output=True)
            self.release_machine()
        return self._leftovers() + [f"network namespace {p}" for p in pod_netns if Path(p).exists()]

    def _pod_netns(self):
        """Paths of the network namespaces of this containerd's pod sandboxes (none for pods on
        the host's network)."""
        paths = []
        for cid in self.ctr("containers", "ls", "-q", timeout=20).stdout.split():
            info = self.ctr("containers", "info", cid, timeout=20)
            if info.returncode != 0:
                continue
            c = json.loads(info.stdout)
            if (c.get("Labels") or {}).get("io.cri-containerd.kind") != "sandbox":
                continue
            for ns in ((c.get("Spec") or {}).get("linux") or {}).get("namespaces") or []:
                if ns.get("type") == "network" and ns.get("path"):
                    paths.append(ns["path"])
        return paths

    @staticmethod
    def _remove_netns(path):
        """Unpins a pod's network namespace; the kernel then frees it with its veth."""
        for _ in range(3):
            if subprocess.run(["umount", path], capture_output=True).returncode != 0:
                break
        Path(path).unlink(missing_ok=True)

    def _shims(self):
        """containerd's shims outlive it by design; ours name our socket in their arguments."""
        mine = str(self.socket)
        for p in Path("/proc").iterdir():
            if not p.name.isdigit():
                continue
            try:
                argv = (p / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"containerd-shim" in argv[0] and any(a.decode(errors="replace") == mine for a in argv):
                yield int(p.name)

    def _kill_shims(self):
        pids = list(self._shims())
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.time() + 10
        while time.time() < deadline and any(Path(f"/proc/{pid}").exists() for pid in pids):
            time.sleep(0.1)

    def _mounts(self):
        prefix = str(self.lab.root) + "/"
        return [line.split()[1].replace("\\040", " ") for line in Path("/proc/self/mounts").read_text().splitlines()
                if line.split()[1].startswith(prefix)]

    def _unmount(self):
        for _ in range(5):
            ours = self._mounts()
            if not ours:
                return
            for m in sorted(ours, key=len, reverse=True):
                subprocess.run(["umount", "-l", m], capture_output=True)

    def _remove_cgroups(self):
        """This lab's cgroup root, deepest first (a cgroup is removed with rmdir once empty)."""
        for top in self._cgroup_dirs():
            if not top.exists():
                continue
            for d in sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
                for _ in range(50):
                    try:
                        d.rmdir()
                        break
                    except FileNotFoundError:
                        break
                    except OSError:  # tasks still leaving
                        time.sleep(0.1)
            try:
                top.rmdir()
            except OSError:
                pass

    def _leftovers(self):
        """What the node left outside the lab root, and its processes (empty after a clean stop)."""
        found = [f"process {self.proc(name)}" for name in COMPONENTS if self.lab.pid(self.proc(name))]
        found += [f"shim pid {pid}" for pid in self._shims()]
        found += [f"cgroup {d}" for d in self._cgroup_dirs() if d.exists()]
        if Path("/sys/class/net", self.bridge).exists():
            found.append(f"interface {self.bridge}")
        found += [f"mount {m}" for m in self._mounts()] if self.host is None else []
        if (self.dir / "claimed").exists():
            found.append("registration in " + str(REGISTRY))
        return found
