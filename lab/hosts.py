#!/usr/bin/env python3
"""hosts: a lab's private network of several hosts on this one machine.

Each host is a network namespace whose only interface besides loopback is ``eth0``, one end
of a veth pair; the other end is plugged into a Linux bridge that the lab makes in the
machine's namespace. The bridge has an address too (``.1``), so processes of the machine (the
bootstrap node's salt-master, the tests) reach every host, and hosts reach each other over
the bridge. Nothing is routed outside: the namespaces get no default route, there is no NAT
and no sysctl is changed (ip_forward stays as it is).

  net = Network(lab_root)
  net.create(3)                  # idempotent; a larger count adds hosts; resumes a killed create
  net.hosts()                    # Host(index, name, netns, veth, address), host1 first
  net.argv(host, [...])          # a command line that runs inside the host's namespace
  net.teardown()                 # [] when nothing is left, else what is (and what it had to kill)

Every name derives from a hash of the lab root (bridge ``dxb-<tag>``, veths ``dxv<tag>-<i>``,
namespaces ``dexauth-<tag>-<i>``), so two labs never clash and ``teardown`` finds everything
from a fresh process, even when the state file <lab>/run/hosts.json (the subnet, the
namespaces' inode numbers) was never written. The subnet is a /24 of SUPERNET that no address
or route of the machine overlaps, chosen under a lock so that two labs starting at once never
pick the same one.

Command line: hosts.py {create,teardown,status} --root DIR [--count N]
"""
import argparse
import contextlib
import fcntl
import hashlib
import ipaddress
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

SUPERNET = ipaddress.ip_network("10.213.0.0/16")
MACHINE_HOST_NUMBER = 1   # the machine's address on the bridge: <subnet>.1
FIRST_HOST_NUMBER = 11    # host1 is <subnet>.11, host2 .12...: room for hosts added later
MAX_HOSTS = 99            # keeps veth names within the kernel's 15 characters
NETNS_DIR = Path("/run/netns")
# Serialises the choice of a subnet between labs. A directory that always exists, so the lock
# leaves no file behind (a lock file removed by its last user races with the next one).
LOCK_PATH = "/run"


class HostsError(RuntimeError):
    """The network could not be made or inspected; the message says which step and why."""


@dataclass(frozen=True)
class Teardown:
    killed: list   # stray processes teardown stopped, e.g. "process 123 (etcd)"
    left: list     # what could not be removed; empty when the network is gone


@dataclass(frozen=True)
class Host:
    index: int     # 0-based
    name: str      # host1, host2... (what the lab calls the node)
    netns: str     # the namespace's name for `ip netns` / /run/netns
    veth: str      # the machine's end of the pair; inside the namespace it is called eth0
    address: str   # eth0's IPv4 address


def _ip(*args, check=True):
    """Runs one `ip` command; every change the module makes goes through here."""
    r = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if check and r.returncode != 0:
        raise HostsError(f"`ip {' '.join(args)}` failed: {r.stderr.strip()}")
    return r


def _boot_id():
    return Path("/proc/sys/kernel/random/boot_id").read_text().strip()


def _netns_inode(name):
    try:
        return os.stat(NETNS_DIR / name).st_ino
    except OSError:
        return None


class Network:
    def __init__(self, root):
        self.root = Path(root).resolve()
        self.tag = hashlib.sha256(str(self.root).encode()).hexdigest()[:8]
        self.bridge = f"dxb-{self.tag}"
        self.state_file = self.root / "run" / "hosts.json"

    # -- names and state -----------------------------------------------------
    def _netns_name(self, index):
        return f"dexauth-{self.tag}-{index}"

    def _veth_name(self, index):
        return f"dxv{self.tag}-{index}"

    def _state(self):
        try:
            return json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return {}

    def _save(self, state):
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=1, sort_keys=True))
        tmp.replace(self.state_file)  # a kill never leaves half a file

    def subnet(self):
        s = self._state().get("subnet")
        return ipaddress.ip_network(s) if s else None

    def machine_address(self):
        """The machine's own address on the bridge (host-side processes bind or connect from it)."""
        return str(self.subnet()[MACHINE_HOST_NUMBER])

    def hosts(self):
        state = self._state()
        if not state:
            return []
        return [self._host(state, i) for i in range(state["count"])]

    def _host(self, state, index):
        subnet = ipaddress.ip_network(state["subnet"])
        return Host(index, f"host{index + 1}", self._netns_name(index), self._veth_name(index),
                    str(subnet[FIRST_HOST_NUMBER + index]))

    def argv(self, host, argv):
        """``argv`` run inside ``host``'s network namespace. nsenter switches the network namespace
        only: `ip netns exec` would also give the command a mount namespace of its own, and then
        kubelet's and containerd's mounts would not see each other's."""
        return ["nsenter", f"--net={NETNS_DIR / host.netns}", "--", *[str(a) for a in argv]]

    def run(self, host, argv, **kwargs):
        """subprocess.run of ``argv`` inside ``host``'s namespace (keyword arguments as for it)."""
        return subprocess.run(self.argv(host, argv), **kwargs)

    # -- create --------------------------------------------------------------
    def create(self, count):
        """Makes (or completes) the bridge and hosts 1..count; returns hosts(). Each step checks
        what exists first, so a second call changes nothing and a call after a killed one
        finishes its work. The state file is written before anything it names is made."""
        if not 1 <= count <= MAX_HOSTS:
            raise HostsError(f"a lab has 1 to {MAX_HOSTS} hosts, not {count}")
        with self._lock():
            state = self._state()
            if "subnet" not in state:
                state = {"subnet": str(self._free_subnet()), "count": 0, "netns_inodes": {}}
            if state.get("boot_id") != _boot_id():  # inode numbers of an earlier boot mean nothing
                state.update(boot_id=_boot_id(), netns_inodes={})
            state["count"] = max(count, state["count"])
            self._save(state)
            self._ensure_bridge(ipaddress.ip_network(state["subnet"]))
        for i in range(state["count"]):
            self._ensure_host(state, self._host(state, i))
        return self.hosts()

    @contextlib.contextmanager
    def _lock(self):
        fd = os.open(LOCK_PATH, os.O_RDONLY | os.O_DIRECTORY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _free_subnet(self):
        """The first /24 of SUPERNET, from a place given by the lab's tag, that no address or route
        of the machine overlaps (other labs' bridges included: their addresses are there)."""
        used = []
        for line in _ip("-o", "-4", "addr", "show").stdout.splitlines():
            used.append(ipaddress.ip_interface(line.split()[3]).network)
        for line in _ip("-4", "route", "show", "table", "all").stdout.splitlines():
            # "10.0.0.0/8 dev ...", or a route type first: "local 127.0.0.0/8 dev lo ...".
            for word in line.split()[:2]:
                with contextlib.suppress(ValueError):
                    used.append(ipaddress.ip_network(word, strict=False))
                    break
        candidates = list(SUPERNET.subnets(new_prefix=24))
        start = int(self.tag, 16) % len(candidates)
        for subnet in candidates[start:] + candidates[:start]:
            if not any(subnet.overlaps(u) for u in used):
                return subnet
        raise HostsError(f"no free /24 left in {SUPERNET}: every one overlaps an address or route of this machine")

    def _link_exists(self, name, netns=None):
        args = (["-n", netns] if netns else []) + ["link", "show", "dev", name]
        return _ip(*args, check=False).returncode == 0

    def _ensure_bridge(self, subnet):
        if not self._link_exists(self.bridge):
            _ip("link", "add", "name", self.bridge, "type", "bridge")
        _ip("addr", "replace", f"{subnet[MACHINE_HOST_NUMBER]}/{subnet.prefixlen}", "dev", self.bridge)
        _ip("link", "set", "dev", self.bridge, "up")

    def _ensure_host(self, state, host):
        path = NETNS_DIR / host.netns
        # `ip netns add` killed between creating the file and bind-mounting the namespace on it
        # leaves a plain file: `ip netns delete` removes it (and unmounts, when mounted).
        if path.exists() and not os.path.ismount(path):
            _ip("netns", "delete", host.netns)
        if not path.exists():
            _ip("netns", "add", host.netns)
        # Recorded so that teardown finds processes still inside, even once the name is gone.
        inode = _netns_inode(host.netns)
        if state["netns_inodes"].get(host.netns) != inode:
            state["netns_inodes"][host.netns] = inode
            self._save(state)
        # Both ends are made at once (the kernel makes a veth pair whole or not at all), the
        # inner one directly in the namespace, so no "eth0" ever appears on the machine.
        if not self._link_exists(host.veth):
            _ip("link", "add", "name", host.veth, "type", "veth", "peer", "name", "eth0", "netns", host.netns)
        _ip("link", "set", "dev", host.veth, "master", self.bridge, "up")
        subnet = ipaddress.ip_network(state["subnet"])
        _ip("-n", host.netns, "addr", "replace", f"{host.address}/{subnet.prefixlen}", "dev", "eth0")
        _ip("-n", host.netns, "link", "set", "dev", "eth0", "up")
        _ip("-n", host.netns, "link", "set", "dev", "lo", "up")

    # -- teardown ------------------------------------------------------------
    def _our_netns(self):
        out = _ip("netns", "list", check=False).stdout.split("\n")
        return sorted({n.split()[0] for n in out if n.startswith(f"dexauth-{self.tag}-")})

    def _our_links(self):
        names = []
        for line in _ip("-o", "link", "show", check=False).stdout.splitlines():
            name = line.split(":")[1].strip().split("@")[0]
            if name == self.bridge or name.startswith(f"dxv{self.tag}-"):
                names.append(name)
        return sorted(names)

    def _pids_inside(self, inodes):
        """Processes whose network namespace is one of ``inodes``: pid -> command name."""
        wanted = {f"net:[{i}]" for i in inodes if i}
        found = {}
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                if os.readlink(proc / "ns" / "net") in wanted:
                    found[int(proc.name)] = (proc / "comm").read_text().strip()
            except OSError:  # gone meanwhile, or a kernel thread
                continue
        return found

    def _inodes(self):
        """The inode numbers of this lab's namespaces: those still named, and those recorded in
        this boot (the kernel reuses the number of a namespace once it is gone, so a recorded
        one is only trusted while it is known to be alive: see teardown)."""
        state = self._state()
        inodes = set(state.get("netns_inodes", {}).values()) if state.get("boot_id") == _boot_id() else set()
        inodes.update(_netns_inode(n) for n in self._our_netns())
        return {i for i in inodes if i}

    def teardown(self, grace=10):
        """Removes the hosts, their veths and the bridge; returns Teardown(killed, left): the
        processes it had to stop, and what is still there (empty when nothing is).

        Processes still inside a host are stopped first (SIGTERM, SIGKILL after ``grace``
        seconds): they would keep the namespace, and with it the veth, alive. The lab's own
        processes are expected to be stopped by their owner before; these are strays."""
        inodes = self._inodes()
        stray = self._pids_inside(inodes)
        killed = [f"process {pid} ({comm})" for pid, comm in sorted(stray.items())]
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for pid in self._pids_inside(inodes):  # again each round: a stray may have forked
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline and self._pids_inside(inodes):
                time.sleep(0.1)
        # Deleting one end of a veth deletes both; the namespace's cleanup would too, but later.
        for link in self._our_links():
            if link != self.bridge:
                _ip("link", "delete", "dev", link, check=False)
        for netns in self._our_netns():
            _ip("netns", "delete", netns, check=False)
        _ip("link", "delete", "dev", self.bridge, check=False)
        left = self.leftovers(inodes)
        if not left:
            self.state_file.unlink(missing_ok=True)
        elif self.state_file.exists():
            # Forget the namespaces that are gone: their numbers may soon be another's.
            alive = {i for i in inodes if self._pids_inside({i})} | {_netns_inode(n) for n in self._our_netns()}
            state = self._state()
            state["netns_inodes"] = {n: i for n, i in state.get("netns_inodes", {}).items() if i in alive}
            self._save(state)
        return Teardown(killed, left)

    def leftovers(self, inodes=None):
        """What of this network exists: namespaces, interfaces, the machine's address on the
        bridge, processes inside a host. Empty once torn down."""
        left = [f"network namespace {n}" for n in self._our_netns()]
        left += [f"interface {n}" for n in self._our_links()]
        subnet = self.subnet()
        if subnet:
            for line in _ip("-o", "-4", "addr", "show", check=False).stdout.splitlines():
                if ipaddress.ip_interface(line.split()[3]).ip in subnet:
                    left.append(f"address {line.split()[3]} on {line.split()[1]}")
        pids = self._pids_inside(self._inodes() if inodes is None else inodes | self._inodes())
        left += [f"process {pid} ({comm}) inside a host" for pid, comm in sorted(pids.items())]
        return left


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["create", "teardown", "status"])
    parser.add_argument("--root", required=True, help="the lab root")
    parser.add_argument("--count", type=int, default=3, help="hosts to create (default 3)")
    args = parser.parse_args(argv)
    net = Network(args.root)
    if args.command == "create":
        for h in net.create(args.count):
            print(f"{h.name} {h.address} netns {h.netns}")
        print(f"machine {net.machine_address()} bridge {net.bridge}")
    elif args.command == "teardown":
        result = net.teardown()
        for line in result.killed:
            print(f"killed: {line}")
        for line in result.left:
            print(f"left: {line}")
        return 1 if result.left else 0
    else:
        for h in net.hosts():
            print(f"{h.name} {h.address} netns {h.netns}")
        for line in net.leftovers():
            print(f"exists: {line}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except HostsError as e:
        sys.exit(f"hosts: {e}")
