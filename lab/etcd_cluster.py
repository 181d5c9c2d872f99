"""etcd_cluster: one etcd member per lab host (hosts.py), TLS on the client and the peer side.

Each member listens on its host's address (and on the host's own loopback, for the
kube-apiserver beside it) on etcd's standard ports: the addresses are private to the lab, so
no two labs' members clash. Certificates come from the lab's PKI (labctl's ``pki.ensure``
request): one per member, used for both listeners, with the host's address as IP SAN, as the
members check each other's certificates both as servers and as clients.
"""
CLIENT_PORT = 2379
PEER_PORT = 2380


def member_name(host):
    return f"etcd-{host.name}"


def certificates(hosts):
    """Entries for the ``certificates`` list of a ``pki.ensure`` request: <pki>/etcd-hostN.crt/.key."""
    return [{"name": member_name(h), "commonName": member_name(h), "ipAddresses": [h.address, "127.0.0.1"],
             "dnsNames": ["localhost"], "usage": "both"} for h in hosts]


def client_url(host):
    return f"https://{host.address}:{CLIENT_PORT}"


def peer_url(host):
    return f"https://{host.address}:{PEER_PORT}"


def member_argv(etcd_bin, host, hosts, data_dir, pki, token, state="new"):
    """etcd's command line for ``host``'s member of the cluster of ``hosts``; run it inside the
    host's namespace (hosts.Network.argv). ``token`` tells this cluster apart from any other (the
    lab's tag). The initial-cluster flags only matter on the first start: a restarted member
    finds its membership in ``data_dir``. ``state`` "existing": a member added to a running
    cluster (add_member first)."""
    name, cert, key = member_name(host), pki / f"{member_name(host)}.crt", pki / f"{member_name(host)}.key"
    return [
        str(etcd_bin), "--name", name, "--data-dir", str(data_dir),
        "--listen-client-urls", f"{client_url(host)},https://127.0.0.1:{CLIENT_PORT}",
        "--advertise-client-urls", client_url(host),
        "--listen-peer-urls", peer_url(host), "--initial-advertise-peer-urls", peer_url(host),
        "--initial-cluster", ",".join(f"{member_name(h)}={peer_url(h)}" for h in hosts),
        "--initial-cluster-state", state, "--initial-cluster-token", token,
        "--listen-metrics-urls", "",
        "--cert-file", str(cert), "--key-file", str(key),
        "--trusted-ca-file", str(pki / "ca.crt"), "--client-cert-auth",
        "--peer-cert-file", str(cert), "--peer-key-file", str(key),
        "--peer-trusted-ca-file", str(pki / "ca.crt"), "--peer-client-cert-auth",
    ]


def add_member(member, host, pki):
    """Adds ``host`` as a member of the running cluster that ``member`` (a Host) belongs to, through
    etcd's JSON gateway with the lab's apiserver-etcd-client certificate; nothing when its peer URL
    is already a member. Start its etcd with state "existing" next."""
    import json
    import ssl
    import urllib.request
    ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    ctx.load_cert_chain(str(pki / "apiserver-etcd-client.crt"), str(pki / "apiserver-etcd-client.key"))

    def call(path, body):
        req = urllib.request.Request(client_url(member) + path, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, context=ctx, timeout=30) as resp:
            return json.loads(resp.read())
    members = call("/v3/cluster/member/list", {}).get("members", [])
    if any(peer_url(host) in m.get("peerURLs", []) for m in members):
        return False
    call("/v3/cluster/member/add", {"peerURLs": [peer_url(host)]})
    return True
