"""The lab's private network of hosts (lab/hosts.py), with real namespaces, veths and a bridge:
three hosts reach each other and the machine, and nothing outside; a three-member etcd cluster
across them (TLS, the lab's PKI) serves a key written on one host from another and keeps
accepting writes with a member down; teardown leaves nothing behind, also after a create
killed at any step.

What is left behind is checked with `ip`, `ss` and /proc directly, not through the module, and
only for this network's names and subnet: other labs of a running suite add and remove their
own interfaces and namespaces meanwhile."""
import base64
import concurrent.futures
import ipaddress
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import urllib.request

import pytest

from labfixture import REPO, short_root
from support import wait_until
from support.processes import Process, wait_for_server

sys.path.insert(0, str(REPO / "lab"))
import etcd_cluster  # noqa: E402
import hosts as labhosts  # noqa: E402
import labctl  # noqa: E402  (lab_tool: the lab's PKI)

PORT = 7000  # any port: each host's address is its own

# Answers every connection with the host's name (argv: address, port, name).
LISTENER = """
import socket, sys
s = socket.create_server((sys.argv[1], int(sys.argv[2])))
while True:
    c, _ = s.accept()
    c.sendall(sys.argv[3].encode())
    c.close()
"""
# Prints what the listener at (argv: address, port) answers, or the error's name.
CONNECT = """
import errno, socket, sys
try:
    with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10) as c:
        print(c.recv(100).decode())
except OSError as e:
    print(errno.errorcode.get(e.errno, str(e)))
"""
# create(3) in a process that kills itself (SIGKILL, nothing cleaned up) before its N-th `ip`
# command (argv: lab dir, lab root, N).
KILLED_CREATE = """
import os, signal, sys
sys.path.insert(0, sys.argv[1])
import hosts
calls, real = 0, hosts._ip
def ip(*args, **kwargs):
    global calls
    calls += 1
    if calls == int(sys.argv[3]):
        os.kill(os.getpid(), signal.SIGKILL)
    return real(*args, **kwargs)
hosts._ip = ip
hosts.Network(sys.argv[2]).create(3)
"""


def _out(*cmd):
    return subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=30).stdout


def _netns_inodes(net):
    return {os.stat(f"/run/netns/{n}").st_ino for n in os.listdir("/run/netns") if net.tag in n}


def traces(net, subnet, inodes):
    """Everything of this network the machine shows: interfaces named after it or enslaved to its
    bridge, its namespaces, addresses and listening sockets of its subnet on the machine (none
    when ``subnet`` is None: no subnet chosen yet), and processes inside its namespaces (by
    inode, so also once their names are gone)."""
    found = [f"link {line.split(':')[1].strip()}" for line in _out("ip", "-o", "link").splitlines()
             if net.tag in line]
    found += [f"netns {line}" for line in _out("ip", "netns", "list").splitlines() if net.tag in line]
    if subnet is not None:
        found += [f"address {line.split()[3]}" for line in _out("ip", "-o", "-4", "addr").splitlines()
                  if ipaddress.ip_interface(line.split()[3]).ip in subnet]
        for line in _out("ss", "-Hltnu").splitlines():
            host = line.split()[4].rsplit(":", 1)[0].strip("[]").split("%")[0]
            if host.count(".") == 3 and ipaddress.ip_address(host) in subnet:
                found.append(f"socket {line}")
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.stat(f"/proc/{pid}/ns/net").st_ino in inodes:
                found.append(f"process {pid}")
        except OSError:
            continue
    return found


def assert_torn_down(net, subnet, inodes):
    result = net.teardown()
    assert result.left == [], f"teardown reports leftovers: {result.left}"
    assert traces(net, subnet, inodes) == []
    assert not net.state_file.exists()
    return result


@pytest.fixture
def network():
    root = short_root("dxl-hosts-")
    net = labhosts.Network(root)
    net.create(3)
    subnet, inodes = net.subnet(), _netns_inodes(net)
    try:
        yield net
    finally:
        try:
            assert_torn_down(net, subnet, inodes)
        finally:
            shutil.rmtree(root, ignore_errors=True)


def _start(net, host, name, argv):
    return Process(name, net.argv(host, argv), net.root / f"{name}.log")


def test_hosts_reach_each_other_and_the_machine_and_nothing_outside(network):
    hosts = network.hosts()
    assert [h.name for h in hosts] == ["host1", "host2", "host3"]
    assert len({h.address for h in hosts}) == 3 and all(ipaddress.ip_address(h.address) in network.subnet()
                                                        for h in hosts)
    listeners = [_start(network, h, f"listener-{h.name}", [sys.executable, "-c", LISTENER, h.address, PORT, h.name])
                 for h in hosts]
    try:
        for h, proc in zip(hosts, listeners):
            # From the machine (the test process): over the bridge.
            wait_for_server(lambda h=h: subprocess.run([sys.executable, "-c", CONNECT, h.address, str(PORT)],
                                                       capture_output=True, text=True, timeout=30).stdout.strip()
                            == h.name, 30, f"{h.name}'s listener answering the machine", proc)
        for a in hosts:
            for b in hosts:
                if a != b:
                    r = network.run(a, [sys.executable, "-c", CONNECT, b.address, PORT], capture_output=True,
                                    text=True, timeout=30)
                    assert r.stdout.strip() == b.name, f"{a.name} -> {b.name}: {r.stdout}{r.stderr}"
            # Nothing routed outside: only the lab's subnet, no default route.
            routes = network.run(a, ["ip", "-4", "route"], capture_output=True, text=True, check=True).stdout
            assert [line.split()[:3] for line in routes.splitlines()] == [[str(network.subnet()), "dev", "eth0"]]
            r = network.run(a, [sys.executable, "-c", CONNECT, "203.0.113.1", 80], capture_output=True, text=True,
                            timeout=30)
            assert r.stdout.strip() == "ENETUNREACH", r.stdout + r.stderr
            # Each host has a loopback of its own.
            assert "UP" in network.run(a, ["ip", "-o", "link", "show", "lo"], capture_output=True, text=True,
                                       check=True).stdout
    finally:
        for proc in listeners:
            proc.stop()


def test_two_labs_starting_at_once_get_their_own_subnets():
    """Two labs whose roots hash to the same first choice of subnet, created at the same time:
    the second takes the next free /24, and neither lab's hosts reach the other's."""
    base = short_root("dxl-hosts-")
    first = labhosts.Network(base / "a")
    want = int(first.tag, 16) % 256
    second = next(n for n in (labhosts.Network(base / f"b{i}") for i in range(10000)) if int(n.tag, 16) % 256 == want)
    try:
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            a_hosts, b_hosts = pool.map(lambda n: n.create(2), [first, second])
        assert not first.subnet().overlaps(second.subnet())
        r = first.run(a_hosts[0], [sys.executable, "-c", CONNECT, b_hosts[0].address, PORT], capture_output=True,
                      text=True, timeout=30)
        assert r.stdout.strip() == "ENETUNREACH", r.stdout + r.stderr
        for net in (first, second):
            assert_torn_down(net, net.subnet(), _netns_inodes(net))
    finally:
        for net in (first, second):
            net.teardown()
        shutil.rmtree(base, ignore_errors=True)


# -- etcd across the hosts ---------------------------------------------------------------
def _etcd_call(pki, host, path, body):
    ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    ctx.load_cert_chain(pki / "etcd-test-client.crt", pki / "etcd-test-client.key")
    req = urllib.request.Request(f"{etcd_cluster.client_url(host)}{path}", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
        return json.loads(r.read())


def _b64(s):
    return base64.b64encode(s.encode()).decode()


def _put(pki, host, key, value):
    return _etcd_call(pki, host, "/v3/kv/put", {"key": _b64(key), "value": _b64(value)})


def _get(pki, host, key):
    kvs = _etcd_call(pki, host, "/v3/kv/range", {"key": _b64(key)}).get("kvs") or []
    return base64.b64decode(kvs[0]["value"]).decode() if kvs else None


def _leader(pki, host):
    """(this member's id, the leader's id) as ``host``'s member sees it."""
    s = _etcd_call(pki, host, "/v3/maintenance/status", {})
    return s["header"]["member_id"], s.get("leader")


def test_etcd_cluster_across_hosts_survives_a_member_down(network):
    hosts = network.hosts()
    etcd_bin = labctl.toolchain()["ETCD_BIN"]
    pki = network.root / "etc" / "kubernetes" / "pki"
    reply = labctl.lab_tool("pki.ensure", {
        "dir": str(pki), "caCommonName": "lab-kubernetes-ca",
        "certificates": etcd_cluster.certificates(hosts) + [
            {"name": "etcd-test-client", "commonName": "etcd-test-client", "usage": "client"}]})
    assert reply.get("result"), reply

    def start(h):
        data = network.root / "var" / f"etcd-{h.name}"
        data.mkdir(parents=True, exist_ok=True)
        os.chmod(data, 0o700)
        return _start(network, h, f"etcd-{h.name}",
                      etcd_cluster.member_argv(etcd_bin, h, hosts, data, pki, network.tag))

    members = {h.name: start(h) for h in hosts}
    try:
        for h in hosts:
            wait_for_server(lambda h=h: _etcd_call(pki, h, "/v3/maintenance/status", {}), 90,
                            f"etcd member on {h.name}", members[h.name])
        host1, host2, host3 = hosts
        # Three members, talking TLS to each other on their hosts' addresses.
        listed = _etcd_call(pki, host2, "/v3/cluster/member/list", {})["members"]
        assert sorted(p for m in listed for p in m["peerURLs"]) == [etcd_cluster.peer_url(h) for h in hosts]
        _put(pki, host1, "/lab/written-on", "host1")
        assert _get(pki, host3, "/lab/written-on") == "host1"

        # Stop the leader: the hardest member to lose (the others must elect a new one first).
        ids = {h.name: _leader(pki, h)[0] for h in hosts}
        leader_id = _leader(pki, host1)[1]
        down = next(h for h in hosts if ids[h.name] == leader_id)
        writer, reader = [h for h in hosts if h != down]
        members[down.name].stop()
        # Writes fail until the two left have elected a leader: retried, bounded.
        wait_until(lambda: _put(pki, writer, "/lab/with-one-down", f"{down.name} down"), 60,
                   f"a write through {writer.name} with {down.name} stopped", retry_on=(OSError,))
        assert _get(pki, reader, "/lab/with-one-down") == f"{down.name} down"

        # The stopped member rejoins and catches up on what it missed.
        members[down.name] = start(down)
        wait_for_server(lambda: _get(pki, down, "/lab/with-one-down") == f"{down.name} down", 90,
                        f"{down.name} serving the write it missed", members[down.name])
    finally:
        for proc in members.values():
            proc.stop()


# -- teardown ----------------------------------------------------------------------------
def test_teardown_stops_strays_and_leaves_nothing(network):
    """A process left inside a host (here: a listener) would keep its namespace and veth alive:
    teardown stops it and says so. The fixture's teardown after this one finds nothing to do."""
    host = network.hosts()[1]
    stray = _start(network, host, "stray", [sys.executable, "-c", LISTENER, host.address, PORT, host.name])
    try:
        subnet, inodes = network.subnet(), _netns_inodes(network)
        wait_for_server(lambda: _listening_inside(network, host), 30, "the stray listening", stray)
        # The check sees the network while it exists (so its empty answer later means something).
        seen = {t.split()[0] for t in traces(network, subnet, inodes)}
        assert seen == {"link", "netns", "address", "process"}, seen
        result = assert_torn_down(network, subnet, inodes)
        assert [k.split()[1] for k in result.killed] == [str(stray.pid)], result.killed
        wait_until(lambda: not stray.alive(), 10, "the stray reaped")
    finally:
        stray.stop()


def _listening_inside(net, host):
    return f"{host.address}:{PORT}" in net.run(host, ["ss", "-Hltn"], capture_output=True, text=True).stdout


def test_teardown_after_a_create_killed_at_any_step_leaves_nothing():
    """Kills create(3) before each of its `ip` commands in turn; after each, a fresh Network on
    the same root either tears down what is there (odd steps) or first completes the create and
    checks the hosts (even steps). Also: a namespace file that `ip netns add` made but never
    mounted (killed in between)."""
    root = short_root("dxl-hosts-")
    try:
        net = labhosts.Network(root)
        step, finished = 0, False
        while not finished:
            step += 1
            assert step < 100, "create(3) never finished"
            r = subprocess.run([sys.executable, "-c", KILLED_CREATE, str(REPO / "lab"), str(root), str(step)],
                               capture_output=True, text=True, timeout=60)
            finished = r.returncode == 0
            assert finished or r.returncode == -signal.SIGKILL, r.stderr
            subnet, inodes = net.subnet(), _netns_inodes(net)
            if step % 2 == 0 and not finished:
                hosts = net.create(3)
                subnet, inodes = net.subnet(), _netns_inodes(net)
                assert [h.address for h in hosts] == [str(subnet[labhosts.FIRST_HOST_NUMBER + i]) for i in range(3)]
                # A closed port that refuses the connection: the host is there and answered.
                for h in hosts[1:]:
                    r = net.run(hosts[0], [sys.executable, "-c", CONNECT, h.address, PORT], capture_output=True,
                                text=True, timeout=30)
                    assert r.stdout.strip() == "ECONNREFUSED", f"host1 -> {h.name}: {r.stdout}{r.stderr}"
            assert_torn_down(net, subnet, inodes)
        assert step > 10, f"create(3) ran only {step - 1} ip commands: the kill points tested nothing"

        # `ip netns add` killed between creating /run/netns/<name> and mounting the namespace on it.
        plain = labhosts.NETNS_DIR / f"dexauth-{net.tag}-1"
        plain.touch()
        assert_torn_down(net, None, set())
        plain.touch()
        net.create(3)
        assert os.path.ismount(plain)
        assert_torn_down(net, net.subnet(), _netns_inodes(net))
    finally:
        labhosts.Network(root).teardown()
        shutil.rmtree(root, ignore_errors=True)
