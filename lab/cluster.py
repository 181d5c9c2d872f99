"""A lab of several control-plane hosts (labctl up --nodes N, N > 1) on this one machine.

Each host (hosts.py: a network namespace with its own address on the lab's bridge) runs what a
control-plane node of the product runs: a salt-minion (id hostN, grain dexauth_roles
control-plane; host1 also bootstrap), an etcd member (etcd_cluster.py: one three-member
cluster), containerd and kubelet (node.Node), kube-apiserver as kubelet's static pod bound to
the host's address and its own loopback, and a service proxy for the Services' cluster IPs.

Each host also has a mount namespace of its own, in which <lab>/etc/kubernetes/manifests and
<lab>/etc/kubernetes/dexauth are the host's own directories (<lab>/hosts/hostN/...): the same
paths on every node, as on real machines, so the product's pillar (one manifest path, one
authentication configuration path, https://127.0.0.1:<port> as the local apiserver) means
each node's own files and apiserver, and a change reaches one node at a time. Everything else
of the lab root is shared (the hosts' disks are one). Mounts made inside a host stay there
(slave propagation) and vanish with its namespace.

The machine itself keeps salt-master and salt-api (on the bridge address, which every host
reaches), kube-controller-manager and kube-scheduler (once, restarted when they exit), and a
forwarder standing in for the load balancer in front of the control plane: 127.0.0.1:<apiserver>
to the first apiserver that accepts, and Dex's and the account service's ports on the bridge
address (the issuer's address) to whichever host runs their pods.
"""
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import etcd_cluster
import hosts as labhosts
import node as labnode
import statelock

# What each host has of its own under the shared lab root (relative to it).
PRIVATE_DIRS = ["etc/kubernetes/manifests", "etc/kubernetes/dexauth"]


class Cluster:
    def __init__(self, lab):
        self.lab = lab
        self.net = labhosts.Network(lab.root)
        self.mnt_dir = lab.root / "run" / "mnt"

    # -- names -----------------------------------------------------------------
    def hosts(self):
        return self.net.hosts()

    def host_dir(self, host):
        return self.lab.root / "hosts" / host.name

    def mntns(self, host):
        return self.mnt_dir / host.name

    def wrap(self, host):
        """argv -> argv run inside ``host``'s network and mount namespaces."""
        def wrapped(argv):
            return ["nsenter", f"--net={labhosts.NETNS_DIR / host.netns}", f"--mount={self.mntns(host)}",
                    f"--wd={self.lab.root}", "--", *[str(a) for a in argv]]
        return wrapped

    def node(self, host):
        return labnode.Node(self.lab, self.lab.repo, host, self.wrap(host))

    def machine_address(self):
        return self.net.machine_address()

    def salt_dir(self, host):
        return self.host_dir(host) / "salt"

    # -- start -----------------------------------------------------------------
    def create_network(self, count):
        hosts = self.net.create(count)
        self.lab.log(f"hosts: {', '.join(f'{h.name} {h.address}' for h in hosts)}, "
                     f"machine {self.machine_address()} on {self.net.bridge}")
        return hosts

    def make_mount_namespaces(self):
        """One mount namespace per host, kept by a bind mount of it on <lab>/run/mnt/<host>. That
        file must be on a mount that is not shared, hence <lab>/run/mnt bound on itself, private."""
        self.mnt_dir.mkdir(parents=True, exist_ok=True)
        if not _mounted(self.mnt_dir):
            _run(["mount", "--bind", self.mnt_dir, self.mnt_dir])
            _run(["mount", "--make-private", self.mnt_dir])
        for rel in PRIVATE_DIRS:
            (self.lab.root / rel).mkdir(parents=True, exist_ok=True)
        for host in self.hosts():
            f = self.mntns(host)
            if _mounted(f):
                continue
            f.touch()
            binds = []
            for rel in PRIVATE_DIRS:
                own = self.host_dir(host) / rel
                own.mkdir(parents=True, exist_ok=True)
                binds.append(f"mount --bind '{own}' '{self.lab.root / rel}'")
            # Its copy of the other hosts' namespace files would keep those alive: drop it.
            script = f"set -e; umount -l '{self.mnt_dir}'; " + "; ".join(binds)
            _run(["unshare", f"--mount={f}", "--propagation", "slave", "sh", "-c", script])

    def start_etcd(self, only=None, state="new"):
        """The etcd members of every host (or of ``only``, joining with ``state`` "existing")."""
        hosts = self.hosts()
        for host in only or hosts:
            data = self.host_dir(host) / "etcd"
            data.mkdir(parents=True, exist_ok=True)
            os.chmod(data, 0o700)
            self.lab.spawn(f"{host.name}-etcd", self.wrap(host)(etcd_cluster.member_argv(
                self.lab.tools["ETCD_BIN"], host, hosts, data, self.lab.pki, f"dexauth-lab-{self.net.tag}", state)))

    def start_forwarder(self, ports, restart=False):
        """The machine's stand-in for the control plane's load balancer (see the module's doc);
        ``restart``: again, with the hosts of now."""
        if restart:
            self.lab.stop_process("forwarder")
        m = self.machine_address()
        also = [f"127.0.0.1:{ports['apiserver']}"] + [f"{m}:{ports[p]}" for p in ("dex_https", "dex_grpc",
                                                                                    "account_https")]
        self.lab.spawn("forwarder", [sys.executable, str(self.lab.repo / "lab" / "service_proxy.py"),
                                     "--root", str(self.lab.root),
                                     "--targets", ",".join(h.address for h in self.hosts()),
                                     *[a for x in also for a in ("--also", x)]])

    def start_nodes(self, ports):
        """containerd and kubelet on every host, at once (the image imports take a while each)."""
        hosts = self.hosts()
        errors = [f"{h.name}: {e}" for h, e in zip(hosts, _parallel([lambda h=h: self.node(h).start(ports)
                                                                     for h in hosts], errors=True)) if e]
        if errors:
            raise SystemExit("labctl: " + "; ".join(errors))

    def minion_config(self, host, ports):
        return {
            **self.lab.minion_common(), "id": host.name, "root_dir": str(self.lab.salt_root / host.name),
            "master": self.machine_address(), "master_port": ports["salt_ret"], "publish_port": ports["salt_publish"],
            "log_file": str(self.lab.logs / f"{host.name}-salt-minion-internal.log"),
            "grains": {"dexauth_roles": (["bootstrap"] if host.index == 0 else []) + ["control-plane"],
                       "lab_address": host.address, "lab_etcd_port": etcd_cluster.CLIENT_PORT},
        }

    def write_minion_configs(self, ports):
        import yaml
        for host in self.hosts():
            d = self.salt_dir(host)
            d.mkdir(parents=True, exist_ok=True)
            (d / "minion").write_text(yaml.safe_dump(self.minion_config(host, ports)))

    def start_minions(self, only=None):
        for host in only or self.hosts():
            self.start_minion(host)

    def start_minion(self, host):
        self.lab.preseed_minion_key(host.name, self.lab.salt_root / host.name)
        self.lab.spawn(f"{host.name}-salt-minion", self.wrap(host)(
            [self.lab.salt_bin("salt-minion"), "-c", str(self.salt_dir(host)), "-l", "warning"]))

    def stop_minion(self, host):
        """A node whose minion is down (the tests' way to lose a node from Salt's view)."""
        self.lab.stop_process(f"{host.name}-salt-minion")

    def salt(self, *args, timeout=600):
        """`salt` on the master (the machine): JSON out."""
        return subprocess.run([self.lab.salt_bin("salt"), "-c", str(self.lab.salt_conf), "--out=json",
                               "--static", *args], capture_output=True, text=True, timeout=timeout, check=False)

    def wait_minions(self, only=None):
        names = [h.name for h in only or self.hosts()]

        def all_answer():
            r = self.salt("-L", ",".join(names), "test.ping", "-t", "20", timeout=60)
            return all(json.loads(r.stdout or "{}").get(n) is True for n in names)
        self.lab.wait_for(f"salt-minions {', '.join(names)} (test.ping)", all_answer, timeout=180)

    def sync_and_bootstrap(self, only=None):
        r = subprocess.run([self.lab.salt_bin("salt-run"), "-c", str(self.lab.salt_conf), "saltutil.sync_all"],
                           capture_output=True, text=True, timeout=120, check=False)
        if r.returncode != 0:
            raise SystemExit(f"labctl: salt-run saltutil.sync_all failed: {r.stderr}")
        names = ",".join(h.name for h in only or self.hosts())
        self.salt("-L", names, "saltutil.sync_all", timeout=300)
        result, waiting = {}, [h.name for h in only or self.hosts()]

        def applied():
            nonlocal waiting
            r = self.salt("-L", ",".join(waiting), "state.apply", "lab.bootstrap", timeout=600)
            try:
                result.update(json.loads(r.stdout))
            except ValueError:
                raise SystemExit(f"labctl: lab.bootstrap failed:\n{r.stdout}\n{r.stderr}")
            waiting = [n for n in waiting if statelock.held(result.get(n))]
            return not waiting
        statelock.until_free(applied, "lab.bootstrap")
        failed = []
        for host in only or self.hosts():
            states = result.get(host.name)
            if not isinstance(states, dict) or not states:
                failed.append(f"{host.name}: {states!r}")
                continue
            failed += [f"{host.name} {v.get('__id__', k)}: {v.get('comment')!r}" for k, v in states.items()
                       if not (isinstance(v, dict) and v.get("result") is True)]
        if failed:
            raise SystemExit("labctl: lab.bootstrap failed:\n  " + "\n  ".join(failed))

    def apiserver_url(self, host, ports):
        return f"https://{host.address}:{ports['apiserver']}"

    def wait_apiservers(self, ports, only=None):
        import labkube
        for host in only or self.hosts():
            kube = labkube.Client(self.apiserver_url(host, ports), self.lab.pki / "ca.crt",
                                  self.lab.pki / "admin.crt", self.lab.pki / "admin.key")
            self.lab.wait_for(f"kube-apiserver of {host.name} /readyz", lambda: kube.get("/readyz", raw=True) == "ok",
                              timeout=180)

    def start_service_proxies(self, restart=False):
        hosts = self.hosts()
        if restart:  # their targets are every host's address: a host added needs them anew
            _parallel([lambda h=h: self.lab.stop_process(f"{h.name}-service-proxy") for h in hosts])
        for host in hosts:
            order = [host] + [h for h in hosts if h != host]  # the local pod first, as kube-proxy may
            self.lab.spawn(f"{host.name}-service-proxy", self.wrap(host)(
                [sys.executable, str(self.lab.repo / "lab" / "service_proxy.py"), "--root", str(self.lab.root),
                 "--targets", ",".join(h.address for h in order), "--node", host.address]))

    def wait_nodes_ready(self, only=None):
        import labkube
        kube = labkube.Client.from_lab(self.lab)
        for host in only or self.hosts():
            self.node(host).wait_ready(kube)

    def add_host(self, ports):
        """One more control-plane host in a running lab, as an installer adds a node: network,
        certificates, its etcd member joining the cluster, containerd and kubelet, a fresh
        salt-minion (key accepted), the lab's bootstrap state (its kube-apiserver manifest).
        Nothing of dexauth: that is the operator's step (docs/operations.md). Returns the host."""
        hosts = self.net.create(len(self.hosts()) + 1)
        new = hosts[-1]
        self.lab.log(f"adding {new.name} {new.address}")
        self.lab.lab_pki()
        self.write_minion_configs(ports)
        self.make_mount_namespaces()
        etcd_cluster.add_member(hosts[0], new, self.lab.pki)
        self.start_etcd(only=[new], state="existing")
        self.node(new).start(ports)
        self.start_minion(new)
        self.wait_minions(only=[new])
        self.sync_and_bootstrap(only=[new])
        self.wait_apiservers(ports, only=[new])
        self.start_forwarder(ports, restart=True)
        self.start_service_proxies(restart=True)
        self.wait_nodes_ready(only=[new])
        return new

    # -- stop ------------------------------------------------------------------
    def stop(self):
        """Stops every host's processes, removes the mount namespaces and the network; returns what
        is left. Works from the state on disk alone, after a failed or killed start too."""
        hosts = self.hosts()
        # In parallel: each takes seconds (a salt-minion up to ten), one after the other a minute.
        left = [x for found in _parallel([self.node(h).stop for h in hosts]) for x in found]
        _parallel([lambda n=f"{h.name}-{p}": self.lab.stop_process(n) for h in hosts
                   for p in ("service-proxy", "salt-minion", "etcd")] + [lambda: self.lab.stop_process("forwarder")])
        _unmount_all(self.mnt_dir)
        for f in sorted(self.mnt_dir.iterdir()) if self.mnt_dir.is_dir() and not _mounted(self.mnt_dir) else []:
            f.unlink(missing_ok=True)
        result = self.net.teardown()
        for k in result.killed:
            self.lab.log(f"hosts: stopped a stray {k}")
        left += result.left
        left += [f"mount {m}" for m in _mounts_under(self.mnt_dir)]
        return left

    def summary(self, ports):
        return {"nodes": len(self.hosts()), "machine_address": self.machine_address(),
                "hosts": [{"name": h.name, "address": h.address, "netns": h.netns,
                           "apiserver_url": self.apiserver_url(h, ports),
                           "salt_minion_config_dir": str(self.salt_dir(h))} for h in self.hosts()]}


def _parallel(calls, errors=False):
    """Runs ``calls`` in threads; their results in order. With ``errors``, each call's exception
    instead (None when it returned), SystemExit included; without, the first one is raised."""
    out = [None] * len(calls)
    failed = [None] * len(calls)

    def one(i):
        try:
            out[i] = calls[i]()
        except BaseException as e:  # noqa: BLE001 - wait_for's SystemExit included
            failed[i] = e
    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        return failed
    for e in failed:
        if e is not None:
            raise e
    return out


def _mounts_under(path):
    """Mount points at or under ``path`` (os.path.ismount misses a directory bound on itself)."""
    path = str(path)
    points = [line.split()[4].replace("\\040", " ") for line in Path("/proc/self/mountinfo").read_text().splitlines()]
    return [p for p in points if p == path or p.startswith(path + "/")]


def _mounted(path):
    return str(path) in _mounts_under(path)


def _unmount_all(path):
    """Unmounts everything at and under ``path``, deepest first, in rounds (mounts may be stacked:
    the files of a lower mount show once the one above is gone)."""
    for _ in range(5):
        points = _mounts_under(path)
        if not points:
            return
        for p in sorted(points, key=len, reverse=True):
            subprocess.run(["umount", p], capture_output=True)


def _run(argv):
    r = subprocess.run([str(a) for a in argv], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"labctl: {' '.join(map(str, argv))} failed: {r.stderr.strip()}")
