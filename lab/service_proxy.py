"""The lab's stand-in for kube-proxy: cluster IPs reachable from the node.

A production node reaches a Service's cluster IP through kube-proxy (or the CNI's replacement),
host-network processes such as kube-apiserver included. The lab has no kube-proxy: its pods listen
on the host's loopback (the host's network), so this
does that part for the Services that need it: a Service whose cluster IP is a loopback address (the
lab gives Services such addresses: labctl's ServiceCIDR) and whose selector matches a running
Deployment gets a TCP forwarder on <cluster IP>:<port> to the pod's <targetPort> on 127.0.0.1, like
kube-proxy's DNAT to the pod. It is a process of its own beside the node (`service_proxy.py
--root DIR`, labctl's "service-proxy").

In a lab of several hosts (cluster.py) one runs inside each host's network namespace and one on
the machine, with --targets: the pods then run on the hosts' addresses and a connection goes to
the first of the targets that accepts it (the local host first). The machine's also forwards
fixed addresses (--also IP:PORT, to the same port of a target), the lab's stand-in for a load
balancer: 127.0.0.1:<apiserver> to the apiservers, Dex's and the account service's ports on the
bridge address (the issuer's) to wherever their pods run.

Why not kube-proxy itself: its iptables rules would be the machine's, shared by every lab and
left behind by a killed lab, and it would need the pods' Endpoints on a pod network the lab does
not have; a forwarder per Service stays inside the lab's process and ports.
"""
import argparse
import ipaddress
import signal
import socket
import sys
import threading
import time
from pathlib import Path

import labkube


def _loopback(ip):
    try:
        return ipaddress.ip_address(ip).is_loopback
    except ValueError:
        return False


def wanted_forwards(kube, node=None):
    """{(cluster IP, port): target port} for the Services the lab must make reachable. With
    ``node`` (a host of a multi-host lab), none for a Service with a pod on that node: such a
    pod listens on all of the host's addresses, the cluster IP included, and the proxy must leave
    it the port."""
    services = kube.get("/api/v1/services")["items"]
    deployments = kube.get("/apis/apps/v1/deployments")["items"]
    pods = kube.get("/api/v1/pods")["items"] if node else []
    out = {}
    for svc in services:
        spec = svc["spec"]
        ip, selector = spec.get("clusterIP"), spec.get("selector") or {}
        if not _loopback(ip) or not selector:
            continue
        if any(p["metadata"]["namespace"] == svc["metadata"]["namespace"] and p["spec"].get("nodeName") == node
               and p.get("status", {}).get("phase") not in ("Succeeded", "Failed")
               and all((p["metadata"].get("labels") or {}).get(k) == v for k, v in selector.items())
               for p in pods):
            continue
        for d in deployments:
            if d["metadata"]["namespace"] != svc["metadata"]["namespace"] or d["spec"].get("replicas", 1) == 0:
                continue
            template = d["spec"]["template"]
            labels = template["metadata"].get("labels") or {}
            if any(labels.get(k) != v for k, v in selector.items()):
                continue
            container_ports = {p.get("name"): p["containerPort"] for c in template["spec"].get("containers", [])
                               for p in c.get("ports", [])}
            for port in spec.get("ports", []):
                target = port.get("targetPort", port["port"])
                target = container_ports.get(target) if isinstance(target, str) else target
                if target:
                    out[(ip, port["port"])] = target
    return out


class _Forwarder:
    def __init__(self, address, target_port, targets=("127.0.0.1",)):
        self.target_port, self.targets = target_port, targets
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(address)
        self.sock.listen(64)
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return  # closed
            threading.Thread(target=self._connect, args=(client,), daemon=True).start()

    def _connect(self, client):
        upstream = None
        for target in self.targets:
            try:
                upstream = socket.create_connection((target, self.target_port), timeout=10)
                break
            except OSError:
                continue
        if upstream is None:
            client.close()  # nothing behind the Service: the connection is refused, as with no endpoints
            return
        upstream.settimeout(None)
        threading.Thread(target=_pump, args=(client, upstream), daemon=True).start()
        _pump(upstream, client)

    def close(self):
        # shutdown first: close() alone leaves the socket listening, held by the thread blocked in
        # accept(), so the address stays taken and a re-added Service cannot bind it.
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


def _pump(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


class ServiceProxy:
    def __init__(self, lab, log, targets=("127.0.0.1",), also=(), node=None):
        self.lab, self.node = lab, node
        self.log = log
        self.targets = tuple(targets)
        self.forwarders = {}  # (ip, port) -> (_Forwarder, target port)
        self.next_check = 0.0
        self.fixed = []
        for ip, port in also:
            self.fixed.append(_Forwarder((ip, port), port, self.targets))
            self.log(f"forwarder: {ip}:{port} -> {', '.join(self.targets)} port {port}")

    def reconcile(self):
        if time.monotonic() < self.next_check:
            return
        self.next_check = time.monotonic() + 2
        try:
            wanted = wanted_forwards(labkube.Client.from_lab(self.lab), self.node)
        except Exception:  # noqa: BLE001 - apiserver restarting: keep what is there
            return
        for key in [k for k, (_, target) in self.forwarders.items() if wanted.get(k) != target]:
            self.forwarders.pop(key)[0].close()
            self.log(f"service proxy: {key[0]}:{key[1]} removed")
        for (ip, port), target in wanted.items():
            if (ip, port) in self.forwarders:
                continue
            try:
                self.forwarders[(ip, port)] = (_Forwarder((ip, port), target, self.targets), target)
                self.log(f"service proxy: {ip}:{port} -> {', '.join(self.targets)} port {target}")
            except OSError as e:
                self.log(f"service proxy: cannot listen on {ip}:{port}: {e}")

    def close(self):
        for forwarder, _ in self.forwarders.values():
            forwarder.close()
        self.forwarders.clear()
        for forwarder in self.fixed:
            forwarder.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", required=True)
    ap.add_argument("--targets", default="127.0.0.1", help="comma-separated addresses the pods may run on, in order")
    ap.add_argument("--node", help="the node this proxy runs on (a host of a multi-host lab)")
    ap.add_argument("--also", action="append", default=[], metavar="IP:PORT", help="a fixed forward to the targets")
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import labctl

    def log(msg):
        print(f"[service-proxy {time.strftime('%H:%M:%S')}] {msg}", flush=True)

    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    signal.signal(signal.SIGINT, lambda *_: stopping.append(True))
    args = ap.parse_args()
    also = [(a.rsplit(":", 1)[0], int(a.rsplit(":", 1)[1])) for a in args.also]
    proxy = ServiceProxy(labctl.Lab(args.root), log, args.targets.split(","), also, args.node)
    while not stopping:
        proxy.reconcile()
        time.sleep(0.5)
    proxy.close()


if __name__ == "__main__":
    main()
