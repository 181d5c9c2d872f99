"""The lab's stand-in for kube-proxy: cluster IPs reachable from the node.

A production node reaches a Service's cluster IP through kube-proxy (or the CNI's replacement),
host-network processes such as kube-apiserver included. The lab has no kube-proxy: its pods listen
on the host's loopback (the host's network), so this
does that part for the Services that need it: a Service whose cluster IP is a loopback address (the
lab gives Services such addresses: labctl's ServiceCIDR) and whose selector matches a running
Deployment gets a TCP forwarder on <cluster IP>:<port> to the pod's <targetPort> on 127.0.0.1, like
kube-proxy's DNAT to the pod. It is a process of its own beside the node (`service_proxy.py
--root DIR`, labctl's "service-proxy").

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


def wanted_forwards(kube):
    """{(cluster IP, port): target port} for the Services the lab must make reachable."""
    services = kube.get("/api/v1/services")["items"]
    deployments = kube.get("/apis/apps/v1/deployments")["items"]
    out = {}
    for svc in services:
        spec = svc["spec"]
        ip, selector = spec.get("clusterIP"), spec.get("selector") or {}
        if not _loopback(ip) or not selector:
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
    def __init__(self, address, target_port):
        self.target_port = target_port
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
        try:
            upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=10)
        except OSError:
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
    def __init__(self, lab, log):
        self.lab = lab
        self.log = log
        self.forwarders = {}  # (ip, port) -> (_Forwarder, target port)
        self.next_check = 0.0

    def reconcile(self):
        if time.monotonic() < self.next_check:
            return
        self.next_check = time.monotonic() + 2
        try:
            wanted = wanted_forwards(labkube.Client.from_lab(self.lab))
        except Exception:  # noqa: BLE001 - apiserver restarting: keep what is there
            return
        for key in [k for k, (_, target) in self.forwarders.items() if wanted.get(k) != target]:
            self.forwarders.pop(key)[0].close()
            self.log(f"service proxy: {key[0]}:{key[1]} removed")
        for (ip, port), target in wanted.items():
            if (ip, port) in self.forwarders:
                continue
            try:
                self.forwarders[(ip, port)] = (_Forwarder((ip, port), target), target)
                self.log(f"service proxy: {ip}:{port} -> 127.0.0.1:{target}")
            except OSError as e:
                self.log(f"service proxy: cannot listen on {ip}:{port}: {e}")

    def close(self):
        for forwarder, _ in self.forwarders.values():
            forwarder.close()
        self.forwarders.clear()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", required=True)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import labctl

    def log(msg):
        print(f"[service-proxy {time.strftime('%H:%M:%S')}] {msg}", flush=True)

    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    signal.signal(signal.SIGINT, lambda *_: stopping.append(True))
    proxy = ServiceProxy(labctl.Lab(ap.parse_args().root), log)
    while not stopping:
        proxy.reconcile()
        time.sleep(0.5)
    proxy.close()


if __name__ == "__main__":
    main()
