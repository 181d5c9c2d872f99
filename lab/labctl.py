#!/usr/bin/env python3
"""labctl: bring a one-machine lab cluster up or down, or report its health.

The lab is made of real components, all bound to 127.0.0.1:
  etcd, a real node (containerd, kubelet, kube-controller-manager, kube-scheduler: node.py)
  whose kubelet runs kube-apiserver as a static pod and the chart's pods as containers,
  salt-master, one salt-minion ("bootstrap", also control plane) and salt-api.

  labctl up     [--root DIR] [--nodes N]
                               start everything (a running lab is kept); with N > 1, N
                               control-plane hosts, each in its own network namespace (cluster.py)
  labctl add-node [--root DIR] one more control-plane host in a running lab of several (its
                               dexauth configuration is the operator's step: docs/operations.md)
  labctl down   [--root DIR]   stop everything, leaving no process, port, mount, cgroup or
                               file outside the lab root behind (also after a failed start)
  labctl status [--root DIR]   print the summary and the health of each process

Every lab lives in its own root directory with its own ports, so tests can run
private labs beside the one `make lab` keeps in .lab/.
"""
import argparse
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cluster as labcluster  # noqa: E402
import etcd_cluster  # noqa: E402
import labkube  # noqa: E402
import node as labnode  # noqa: E402
import statelock  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
DEFAULT_ROOT = REPO / ".lab"
# Cluster IPs the lab's Services may get besides kube-apiserver's own range: loopback addresses, so
# the lab's kube-proxy stand-in (service_proxy.py) can make them reachable from this machine.
SERVICE_CIDR = "127.96.0.0/16"
# Dex's Service address (pillar dexauth:dex:service_ip): kube-apiserver fetches discovery over it.
DEX_SERVICE_IP = "127.96.0.56"
# Ports a `make lab` prefers when free; tests always take random free ports.
PREFERRED = {"etcd_client": 2379, "etcd_peer": 2380, "apiserver": 6443, "salt_publish": 4505,
             "salt_ret": 4506, "salt_api": 8000, "dex_https": 5556, "dex_grpc": 5557, "dex_telemetry": 5558,
             "account_https": 5559, "dex_upstream": 5554, **labnode.PORTS}
PORT_NAMES = list(PREFERRED)


def lab_tool(operation, request):
    """Runs a lab-only operation (dexauth.lab.LabTools: the lab's PKI, bench references), never part of
    a deployment: JSON request in, the reply dict out (result, changes, error)."""
    # bin/authctl builds the jar when the sources changed; LabTools lives in the same jar.
    subprocess.run([str(REPO / "bin" / "authctl"), "version"], capture_output=True, text=True, check=True)
    r = subprocess.run(["java", "-cp", str(REPO / "java-ext" / "target" / "authctl.jar"), "dexauth.lab.LabTools",
                        operation], input=json.dumps(request), capture_output=True, text=True, check=False)
    lines = (r.stdout or "").strip().splitlines()
    try:
        return json.loads(lines[-1])
    except (IndexError, ValueError):
        return {"result": False, "error": f"LabTools {operation} gave no reply: {r.stderr.strip()[-500:]}"}


def log(msg):
    print(f"[lab {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def toolchain():
    cache = Path(os.environ.get("DEXAUTH_CACHE", Path.home() / ".cache" / "dexauth"))
    env_file = cache / "toolchain.env"
    if not env_file.exists():
        sys.exit(f"labctl: {env_file} not found; run `make toolchain` first")
    tools = {}
    for line in env_file.read_text().splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            tools[k] = v
    return tools


def port_free(port):
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def choose_ports(prefer_defaults, have=None):
    """Ports for every PORT_NAMES entry; those in `have` are kept."""
    ports, taken = dict(have or {}), set((have or {}).values())
    for name in [n for n in PORT_NAMES if n not in ports]:
        p = PREFERRED[name] if prefer_defaults else 0
        if not p or not port_free(p) or p in taken:
            p = free_port()
            while p in taken:
                p = free_port()
        ports[name] = p
        taken.add(p)
    return ports


class Lab:
    def __init__(self, root, nodes=None):
        """``nodes``: the number of hosts for `up` (default: what the lab has, else 1)."""
        self.root = Path(root).resolve()
        self.repo = REPO
        self.log = log
        nodes_file = self.root / "nodes"
        have = int(nodes_file.read_text()) if nodes_file.exists() else None
        if nodes is not None and have is not None and nodes != have:
            raise SystemExit(f"labctl: {self.root} is a lab of {have} node(s), not {nodes}: "
                             f"`labctl down --root {self.root}` and remove it first")
        self.nodes = nodes or have or 1
        # Several hosts: each its own namespaces (cluster.py); one: everything on the machine's loopback.
        self.cluster = labcluster.Cluster(self) if self.nodes > 1 else None
        self.run = self.root / "run"
        self.logs = self.root / "logs"
        self.pki = self.root / "etc" / "kubernetes" / "pki"
        self.manifests = self.root / "etc" / "kubernetes" / "manifests"
        self.salt_conf = self.root / "etc" / "salt"
        self.kubeconfig = self.root / "etc" / "kubernetes" / "admin.kubeconfig"
        self.summary_file = self.root / "summary.json"
        self.salt_root = Path("/tmp") / ("dexauth-salt-" + hashlib.sha256(str(self.root).encode()).hexdigest()[:10])
        self.tools = toolchain()
        self.node = labnode.Node(self, REPO)

    # -- helpers -------------------------------------------------------------
    def ports(self):
        f = self.root / "ports.json"
        return json.loads(f.read_text()) if f.exists() else None

    def salt_bin(self, name):
        return str(Path(self.tools["SALT_VENV"]) / "bin" / name)

    def pid(self, name):
        f = self.run / f"{name}.pid"
        try:
            pid = int(f.read_text())
            os.kill(pid, 0)
            return pid
        except (OSError, ValueError):
            return None

    def spawn(self, name, argv, env=None):
        if self.pid(name):
            return self.pid(name)
        out = open(self.logs / f"{name}.log", "ab")
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, env={**os.environ, **(env or {})}, cwd=self.root)
        (self.run / f"{name}.pid").write_text(str(proc.pid))
        return proc.pid

    def stop_process(self, name, grace=20):
        """SIGTERM to the process group of ``name``, SIGKILL after ``grace`` seconds; forgets its pid."""
        f = self.run / f"{name}.pid"
        if not f.exists():
            return
        try:
            pid = int(f.read_text())
        except ValueError:
            f.unlink(missing_ok=True)
            return
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.time() + grace
        while time.time() < deadline and _group_alive(pid):
            time.sleep(0.2)
        if _group_alive(pid):
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        f.unlink(missing_ok=True)

    def _container_matcher(self, name):
        """(namespace, pod name, container name) -> True for the container pod_pid calls
        ``name``: ``kube-apiserver`` (the static pod), ``deploy-<ns>-<deployment>`` (the first
        container of the Deployment's pods) or ``deploy-<ns>-<deployment>-<container>`` (another
        container of them, e.g. deploy-dexauth-dex-login-guard)."""
        import re
        if not name.startswith("deploy-"):
            return lambda ns, pod, container: ns == "kube-system" and pod == f"{name}-{self.node.name}"
        ns, rest = name[len("deploy-"):].split("-", 1)
        pods = labkube.Client.from_lab(self).get(f"/api/v1/namespaces/{ns}/pods")["items"]
        wanted = set()  # (pod name, container name)
        for p in pods:
            pod_name, containers = p["metadata"]["name"], [c["name"] for c in p["spec"]["containers"]]
            deploy = re.fullmatch(r"(.+)-[a-z0-9]+-[a-z0-9]{5}", pod_name)
            if not deploy:
                continue
            if deploy.group(1) == rest:
                wanted.add((pod_name, containers[0]))
            wanted.update((pod_name, c) for c in containers[1:] if f"{deploy.group(1)}-{c}" == rest)
        return lambda pod_ns, pod, container: pod_ns == ns and (pod, container) in wanted

    def pod_pid(self, name):
        """The pid of a pod's process: ``kube-apiserver`` (the static pod), ``deploy-<ns>-<name>``
        (a Deployment's first running pod) or ``deploy-<ns>-<name>-<container>`` (another of its
        containers); None when it does not run."""
        try:
            match = self._container_matcher(name)
        except OSError:  # kube-apiserver restarting: as good as not running for the caller
            return None
        pids = sorted(pid for key, pid in self.node.container_pids().items() if match(*key))
        return pids[0] if pids else None

    def pod_logs(self, name):
        """Every log file of pod ``name`` (named as for pod_pid), all its pods and restarts so far:
        kubelet's <logs>/pods/<ns>_<pod>_<uid>/<container>/."""
        pods = self.logs / "pods"
        if not pods.is_dir():
            return []
        if not name.startswith("deploy-"):
            return sorted(f for d in pods.glob(f"kube-system_{name}-{self.node.name}_*") for f in d.rglob("*.log"))
        # Pods already deleted are not in the API any more: match their directories by name.
        import re
        ns, rest = name[len("deploy-"):].split("-", 1)
        out = []
        for d in pods.glob(f"{ns}_*"):
            deploy = re.fullmatch(r"(.+)-[a-z0-9]+-[a-z0-9]{5}", d.name.split("_")[1])
            if not deploy:
                continue
            for c in (c for c in d.iterdir() if c.is_dir()):
                if deploy.group(1) == rest or f"{deploy.group(1)}-{c.name}" == rest:
                    out += [f for f in c.rglob("*.log") if f.is_file()]
        return sorted(out)

    def wait_for(self, what, check, timeout=90):
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                if check():
                    return
            except Exception:  # noqa: BLE001 - not up yet
                pass
            time.sleep(0.3)
        raise SystemExit(f"labctl: {what} did not come up within {timeout}s; see {self.logs}")

    def authctl(self, *args, stdin=None):
        return subprocess.run([str(REPO / "bin" / "authctl"), *args], input=stdin, capture_output=True,
                              text=True, check=False)

    # -- steps ---------------------------------------------------------------
    def make_dirs(self):
        for d in (self.run, self.logs, self.pki, self.manifests, self.salt_conf, self.root / "var" / "etcd",
                  self.root / "pillar"):
            d.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root / "var" / "etcd", 0o700)

    def lab_pki(self):
        req = {
            "dir": str(self.pki), "caCommonName": "lab-kubernetes-ca",
            "certificates": [
                {"name": "apiserver", "commonName": "kube-apiserver", "ipAddresses": ["127.0.0.1", "10.96.0.1"],
                 "dnsNames": ["localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"]},
                {"name": "admin", "commonName": "lab-admin", "organizations": ["system:masters"], "usage": "client"},
                {"name": "etcd-server", "commonName": "etcd", "ipAddresses": ["127.0.0.1"], "dnsNames": ["localhost"],
                 "usage": "both"},
                {"name": "apiserver-etcd-client", "commonName": "kube-apiserver-etcd-client", "usage": "client"},
                {"name": "salt-api", "commonName": "salt-api", "ipAddresses": ["127.0.0.1"], "dnsNames": ["localhost"]},
                {"name": "kubelet", "commonName": f"system:node:{self.node.name}", "organizations": ["system:nodes"],
                 "usage": "client"},
                {"name": "kubelet-serving", "commonName": "kubelet", "ipAddresses": [self.node.name],
                 "dnsNames": ["localhost"]},
            ],
            "keyPairs": ["sa"],
        }
        if self.cluster:
            hosts, m = self.cluster.hosts(), self.cluster.machine_address()
            by_name = {c["name"]: c for c in req["certificates"]}
            by_name["apiserver"]["ipAddresses"] += [h.address for h in hosts]
            by_name["salt-api"]["ipAddresses"].append(m)
            for h in hosts:
                node = self.cluster.node(h)
                req["certificates"] += [
                    {"name": node.cert("kubelet"), "commonName": f"system:node:{node.name}",
                     "organizations": ["system:nodes"], "usage": "client"},
                    {"name": node.cert("kubelet-serving"), "commonName": "kubelet", "ipAddresses": [node.name],
                     "dnsNames": ["localhost"]}]
            req["certificates"] += etcd_cluster.certificates(hosts)
        reply = lab_tool("pki.ensure", req)
        if not reply.get("result"):
            raise SystemExit(f"labctl: lab PKI failed: {reply.get('error')}")
        if reply.get("changed"):
            log(f"lab PKI: {', '.join(f'{k} {v}' for k, v in reply['changes'].items())}")

    def write_kubeconfig(self, ports):
        labkube.write_kubeconfig(self.kubeconfig, f"https://127.0.0.1:{ports['apiserver']}",
                                 self.pki / "ca.crt", self.pki / "admin.crt", self.pki / "admin.key")

    def start_etcd(self, ports):
        p = self.pki
        self.spawn("etcd", [
            self.tools["ETCD_BIN"], "--name", "lab", "--data-dir", str(self.root / "var" / "etcd"),
            "--listen-client-urls", f"https://127.0.0.1:{ports['etcd_client']}",
            "--advertise-client-urls", f"https://127.0.0.1:{ports['etcd_client']}",
            "--listen-peer-urls", f"http://127.0.0.1:{ports['etcd_peer']}",
            "--initial-advertise-peer-urls", f"http://127.0.0.1:{ports['etcd_peer']}",
            "--initial-cluster", f"lab=http://127.0.0.1:{ports['etcd_peer']}",
            "--listen-metrics-urls", "",
            "--cert-file", str(p / "etcd-server.crt"), "--key-file", str(p / "etcd-server.key"),
            "--trusted-ca-file", str(p / "ca.crt"), "--client-cert-auth",
        ])

    def salt_configs(self, ports):
        import yaml
        var = self.root / "var"
        common = {"user": "root", "log_level_logfile": "info"}
        # Salt prefixes its socket paths with root_dir and Unix socket paths are limited to
        # 108 bytes, so Salt's own state lives under a short path, linked from <lab>/var/salt.
        salt_root = self.salt_root
        link = var / "salt"
        if not link.is_symlink():
            link.symlink_to(salt_root, target_is_directory=True)
        master = {
            **common, "root_dir": str(salt_root / "master"), "interface": self.listen_address(),
            "publish_port": ports["salt_publish"], "ret_port": ports["salt_ret"],
            "log_file": str(self.logs / "salt-master-internal.log"),
            "file_roots": {"base": [str(REPO / "salt"), str(REPO / "lab" / "salt")]},
            "pillar_roots": {"base": [str(self.root / "pillar"), str(REPO / "pillar")]},
            "netapi_enable_clients": ["local", "local_async", "runner", "runner_async", "wheel"],
            # eauth `auto` accepts any password: acceptable in the lab only, never in production.
            "external_auth": {"auto": {"root": [".*", "@runner", "@wheel", "@jobs"]}},
            "rest_cherrypy": {"host": self.listen_address(), "port": ports["salt_api"],
                              "ssl_crt": str(self.pki / "salt-api.crt"), "ssl_key": str(self.pki / "salt-api.key"),
                              "log_access_file": str(self.logs / "salt-api-access.log"),
                              "log_error_file": str(self.logs / "salt-api-error.log")},
            "api_logfile": str(self.logs / "salt-api-internal.log"),
            "api_pidfile": str(self.run / "salt-api-internal.pid"),
            "keep_jobs_seconds": 3600,
            # Two cores under test load: give minions time before declaring them gone.
            "timeout": 30, "gather_job_timeout": 30,
            # Orchestration steps that run on the master (the super-admin) use the engine too.
            "dexauth_authctl": str(REPO / "bin" / "authctl"),
            # One line per engine call (operation, seconds), for the benchmarks.
            "dexauth_engine_stats": str(self.root / "engine-calls.tsv"),
        }
        minion = {
            **self.minion_common(), "id": "bootstrap", "root_dir": str(salt_root / "minion"), "master": "127.0.0.1",
            "master_port": ports["salt_ret"], "publish_port": ports["salt_publish"],
            "log_file": str(self.logs / "salt-minion-internal.log"),
            "grains": {"dexauth_roles": ["bootstrap", "control-plane"]},
        }
        (self.salt_conf / "master").write_text(yaml.safe_dump(master))
        if self.cluster:
            self.cluster.write_minion_configs(ports)
        else:
            (self.salt_conf / "minion").write_text(yaml.safe_dump(minion))
        self.write_lab_pillar(ports)

    def minion_common(self):
        return {
            "user": "root", "log_level_logfile": "info",
            # Where this node's engine lives; a real node has authctl installed.
            "dexauth_authctl": str(REPO / "bin" / "authctl"),
            "dexauth_engine_stats": str(self.root / "engine-calls.tsv"),
            "acceptance_wait_time": 1, "random_reauth_delay": 0, "master_tries": -1,
        }

    def listen_address(self):
        """Where the machine's services listen: loopback, or the bridge that every host reaches."""
        return self.cluster.machine_address() if self.cluster else "127.0.0.1"

    def write_lab_pillar(self, ports):
        import yaml
        k8s = self.root / "etc" / "kubernetes"
        pillar = {
            "lab": {
                "root": str(self.root), "repo": str(REPO),
                "ports": ports,
                "binaries": {"kube-apiserver": self.tools["KUBE_APISERVER_BIN"], "etcd": self.tools["ETCD_BIN"]},
            },
            # The lab's dexauth settings: everything under the lab root, on loopback.
            "dexauth": {
                "cluster_name": "lab",
                "issuer": f"https://127.0.0.1:{ports['dex_https']}/oidc",
                "certificates": {"base_dir": str(self.root / "etc" / "dexauth"), "ip_sans": ["127.0.0.1"]},
                # No pod network in the lab: Dex shares the host's loopback and reaches the
                # apiserver there (production: CNI network, kube-proxy, the kubernetes Service).
                "dex": {"listen_address": "127.0.0.1", "host_network": True,
                        "apiserver_address": f"127.0.0.1:{ports['apiserver']}",
                        "ports": {"https": ports["dex_https"], "grpc": ports["dex_grpc"],
                                  "telemetry": ports["dex_telemetry"]},
                        "grpc_address": f"127.0.0.1:{ports['dex_grpc']}", "service_ip": DEX_SERVICE_IP},
                # The account service (console) as a process on loopback, reaching Dex's gRPC directly.
                "account": {"listen_address": "127.0.0.1", "port": ports["account_https"],
                            "public_url": f"https://127.0.0.1:{ports['account_https']}/account",
                            "dex_grpc_address": f"127.0.0.1:{ports['dex_grpc']}"},
                # Dex's own HTTPS (127.0.0.1 only); dex_https is the login guard's. The lab's tests all come from
                # 127.0.0.1: the per-address limit is high, and answers wait less than production's second.
                "login_guard": {"dex_port": ports["dex_upstream"], "address_max_failures": 100000,
                                "response_time_ms": 500},
                "chart": {"dir": str(REPO / "charts" / "dex")},
                "superadmin": {"email": "admin@lab.local", "username": "admin"},
                # The lab favours speed; production keeps the default cost (12).
                "password": {"bcrypt_cost": 10},
                "kubernetes": {"kubeconfig": str(self.kubeconfig),
                               "apiserver_url": f"https://127.0.0.1:{ports['apiserver']}",
                               "ca_file": str(self.pki / "ca.crt"),
                               "apiserver_manifest": str(self.manifests / "kube-apiserver.yaml"),
                               "authentication_config": str(k8s / "dexauth" / "authentication-config.yaml")},
                "authctl_config": str(self.root / "authctl.yaml"),
                "salt_api": {"url": f"https://127.0.0.1:{ports['salt_api']}", "username": "root", "eauth": "auto",
                             "ca_file": str(self.pki / "ca.crt")},
            },
        }
        if self.cluster:
            self.multi_host_pillar(pillar["dexauth"], ports)
        (self.root / "pillar" / "lab.sls").write_text(yaml.safe_dump(pillar))
        (self.root / "pillar" / "top.sls").write_text(
            yaml.safe_dump({"base": {"*": ["lab", "lab_overrides", "dexauth_idps"]}}))
        idps = self.root / "pillar" / "dexauth_idps.sls"
        if not idps.exists():  # authctl idp owns this file (through salt-api); lab up never overwrites it
            idps.write_text("#!yaml\n# Upstream IdPs, written by `authctl idp`.\n{}\n")
        override = self.root / "pillar" / "lab_overrides.sls"
        if not override.exists():
            override.write_text("# Pillar overrides for this lab only (tests write here).\n{}\n")

    def multi_host_pillar(self, dexauth, ports):
        """Several hosts: Dex's and the account service's pods listen on their host's every address
        and are reached (issuer, gRPC, console) at the machine's bridge address, which every host
        reaches and the forwarder passes on to them (cluster.py). The apiserver stays
        https://127.0.0.1:<port>: inside each host that is the host's own."""
        m = self.cluster.machine_address()
        dexauth["issuer"] = f"https://{m}:{ports['dex_https']}/oidc"
        dexauth["certificates"]["ip_sans"] = ["127.0.0.1", m]
        dexauth["dex"].update(listen_address="0.0.0.0", grpc_address=f"{m}:{ports['dex_grpc']}")
        dexauth["account"].update(listen_address="0.0.0.0", public_url=f"https://{m}:{ports['account_https']}/account",
                                  dex_grpc_address=f"{m}:{ports['dex_grpc']}")
        dexauth["salt_api"]["url"] = f"https://{m}:{ports['salt_api']}"

    def preseed_minion_key(self, minion_id="bootstrap", root_dir=None):
        """Generates the minion's key and accepts it on the master before either starts, as a
        bootstrap installer does: no auto-accept, and no first-contact race between the two."""
        minion_pki = (root_dir or self.salt_root / "minion") / "etc" / "salt" / "pki" / "minion"
        accepted = self.salt_root / "master" / "etc" / "salt" / "pki" / "master" / "minions" / minion_id
        if not (minion_pki / "minion.pub").exists():
            minion_pki.mkdir(parents=True, exist_ok=True)
            subprocess.run([self.salt_bin("salt-key"), "-c", str(self.salt_conf), "--gen-keys=minion",
                            f"--gen-keys-dir={minion_pki}"], check=True, capture_output=True, timeout=60)
        if not accepted.exists():
            accepted.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(minion_pki / "minion.pub", accepted)

    def start_salt(self, ports):
        c = str(self.salt_conf)
        self.preseed_minion_key()
        self.spawn("salt-master", [self.salt_bin("salt-master"), "-c", c, "-l", "warning"])
        self.wait_for("salt-master", lambda: not port_free(ports["salt_ret"]), timeout=60)
        self.spawn("salt-minion", [self.salt_bin("salt-minion"), "-c", c, "-l", "warning"])
        self.spawn("salt-api", [self.salt_bin("salt-api"), "-c", c, "-l", "warning"])

    def salt_call(self, *args, timeout=600):
        return subprocess.run([self.salt_bin("salt-call"), "-c", str(self.salt_conf), "--out=json", *args],
                              capture_output=True, text=True, timeout=timeout, check=False)

    def sync_modules(self):
        """The master runs orchestration steps with the dexauth state module: sync it there."""
        r = subprocess.run([self.salt_bin("salt-run"), "-c", str(self.salt_conf), "saltutil.sync_all"],
                           capture_output=True, text=True, timeout=120, check=False)
        if r.returncode != 0:
            raise SystemExit(f"labctl: salt-run saltutil.sync_all failed: {r.stderr}")
        self.salt_call("saltutil.sync_all", timeout=120)

    def wait_minion(self):
        def ok():
            r = self.salt_call("test.ping", timeout=30)
            return r.returncode == 0 and json.loads(r.stdout).get("local") is True
        self.wait_for("salt-minion (test.ping through the master)", ok, timeout=120)

    def bootstrap_state(self):
        result, r = None, None

        def applied():
            nonlocal result, r
            r = self.salt_call("state.apply", "lab.bootstrap")
            try:
                result = json.loads(r.stdout)["local"]
            except (ValueError, KeyError, TypeError):
                raise SystemExit(f"labctl: lab.bootstrap failed:\n{r.stdout}\n{r.stderr}")
            return not statelock.held(result)
        statelock.until_free(applied, "lab.bootstrap")
        if not isinstance(result, dict):  # a list of errors (render failure)
            raise SystemExit("labctl: lab.bootstrap failed: " + "; ".join(map(str, result)))
        # A state is done only with result True; say which one is not, with everything Salt said.
        failed = [f"{v.get('__id__', key)}: result={v.get('result')!r}, comment={v.get('comment')!r}, "
                  f"changes={json.dumps(v.get('changes'))}" if isinstance(v, dict) else f"{key}: {v!r}"
                  for key, v in result.items() if not (isinstance(v, dict) and v.get("result") is True)]
        if failed or r.returncode != 0 or not result:
            raise SystemExit(f"labctl: lab.bootstrap failed (salt-call exit code {r.returncode}):\n  "
                             + "\n  ".join(failed or ["no state ran"]) + "\n" + r.stderr)

    def start_service_proxy(self):
        """The kube-proxy stand-in beside the real node (see service_proxy.py)."""
        self.spawn("service-proxy", [sys.executable, str(REPO / "lab" / "service_proxy.py"), "--root", str(self.root)])

    def wait_apiserver(self, ports):
        kube = labkube.Client.from_lab(self)
        self.wait_for("kube-apiserver /readyz", lambda: kube.get("/readyz", raw=True) == "ok", timeout=120)

    def ensure_service_cidr(self):
        """The lab's loopback ServiceCIDR (SERVICE_CIDR), beside kube-apiserver's own range."""
        kube = labkube.Client.from_lab(self)
        if kube.get_or_none("/apis/networking.k8s.io/v1/servicecidrs/lab-loopback") is None:
            kube.post("/apis/networking.k8s.io/v1/servicecidrs", {
                "apiVersion": "networking.k8s.io/v1", "kind": "ServiceCIDR",
                "metadata": {"name": "lab-loopback"}, "spec": {"cidrs": [SERVICE_CIDR]}})

    def write_summary(self, ports):
        summary = json.loads(self.summary_file.read_text()) if self.summary_file.exists() else {}
        summary.update({
            "lab_root": str(self.root),
            "apiserver_url": f"https://127.0.0.1:{ports['apiserver']}",
            "admin_kubeconfig": str(self.kubeconfig),
            "salt_api_url": f"https://{self.listen_address()}:{ports['salt_api']}",
            "salt_config_dir": str(self.salt_conf),
            "kubectl": self.tools["KUBECTL_BIN"],
            "authctl_config": str(self.root / "authctl.yaml"),
            "ports": ports,
        })
        if self.cluster:
            summary.update(self.cluster.summary(ports))
        self.summary_file.write_text(json.dumps(summary, indent=2) + "\n")
        import yaml
        cfg_file = self.root / "authctl.yaml"
        cfg = yaml.safe_load(cfg_file.read_text()) if cfg_file.exists() else {}
        cfg["saltApi"] = {"url": summary["salt_api_url"], "username": "root", "eauth": "auto",
                          "caFile": str(self.pki / "ca.crt")}
        cfg["kubeconfig"] = str(self.kubeconfig)
        cfg_file.write_text(yaml.safe_dump(cfg))
        return summary

    # -- commands ------------------------------------------------------------
    def up(self, prefer_default_ports):
        t0 = time.time()
        self.make_dirs()
        ports = self.ports()
        if ports is None or set(PORT_NAMES) - set(ports):  # a lab from before a port was added gets it
            ports = choose_ports(prefer_default_ports, ports or {})
            (self.root / "ports.json").write_text(json.dumps(ports, indent=2))
        kind = self.root / "node-kind"  # "agent" in labs of the former node agent
        if kind.exists() and kind.read_text().strip() == "agent":
            raise SystemExit(f"labctl: {self.root} is a lab of the former node agent: run `labctl down "
                             f"--root {self.root}`, remove that directory, then `up` again")
        log(f"lab root {self.root}")
        if self.cluster:
            return self.up_hosts(ports, t0)
        self.lab_pki()
        self.write_kubeconfig(ports)
        self.salt_configs(ports)
        self.start_etcd(ports)
        self.node.start(ports)
        log(f"node {self.node.name}: containerd and kubelet started ({time.time() - t0:.1f}s)")
        self.start_salt(ports)
        self.wait_minion()
        log(f"salt master and minion answer ({time.time() - t0:.1f}s)")
        self.sync_modules()
        self.bootstrap_state()
        self.wait_apiserver(ports)
        log(f"kube-apiserver ready ({time.time() - t0:.1f}s)")
        self.ensure_service_cidr()
        self.node.start_controllers(ports)
        self.start_service_proxy()
        self.node.wait_ready(labkube.Client.from_lab(self))
        log(f"node {self.node.name} Ready ({time.time() - t0:.1f}s)")
        summary = self.write_summary(ports)
        self.wait_for("salt-api", lambda: not port_free(ports["salt_api"]), timeout=60)
        log(f"lab up in {time.time() - t0:.1f}s")
        return summary

    def up_hosts(self, ports, t0):
        """`up` of a lab of several hosts (cluster.py)."""
        c = self.cluster
        (self.root / "nodes").write_text(str(self.nodes))
        c.create_network(self.nodes)
        self.lab_pki()
        self.write_kubeconfig(ports)
        self.salt_configs(ports)
        # The machine's registration (kernel settings, global directories) before the hosts' mount
        # namespaces copy the machine's view.
        self.node.claim_machine()
        c.make_mount_namespaces()
        c.start_etcd()
        c.start_forwarder(ports)
        c.start_nodes(ports)
        log(f"{self.nodes} hosts: etcd, containerd and kubelet started ({time.time() - t0:.1f}s)")
        self.spawn("salt-master", [self.salt_bin("salt-master"), "-c", str(self.salt_conf), "-l", "warning"])
        self.wait_for("salt-master", lambda: _connects(self.listen_address(), ports["salt_ret"]), timeout=60)
        c.start_minions()
        self.spawn("salt-api", [self.salt_bin("salt-api"), "-c", str(self.salt_conf), "-l", "warning"])
        c.wait_minions()
        log(f"salt master and {self.nodes} minions answer ({time.time() - t0:.1f}s)")
        c.sync_and_bootstrap()
        c.wait_apiservers(ports)
        log(f"{self.nodes} kube-apiservers ready ({time.time() - t0:.1f}s)")
        self.ensure_service_cidr()
        self.node.start_controllers(ports)
        c.start_service_proxies()
        c.wait_nodes_ready()
        log(f"{self.nodes} nodes Ready ({time.time() - t0:.1f}s)")
        summary = self.write_summary(ports)
        self.wait_for("salt-api", lambda: _connects(self.listen_address(), ports["salt_api"]), timeout=60)
        log(f"lab of {self.nodes} nodes up in {time.time() - t0:.1f}s")
        return summary

    def add_node(self):
        if not self.cluster or not self.summary_file.exists():
            raise SystemExit(f"labctl: add-node needs a running lab of several hosts (`labctl up --nodes 3 "
                             f"--root {self.root}` first)")
        t0 = time.time()
        ports = self.ports()
        new = self.cluster.add_host(ports)
        self.nodes = len(self.cluster.hosts())
        (self.root / "nodes").write_text(str(self.nodes))
        summary = self.write_summary(ports)
        log(f"{new.name} ({new.address}) added in {time.time() - t0:.1f}s; now apply dexauth to it: "
            f"{self.salt_bin('salt-run')} -c {self.salt_conf} state.orchestrate dexauth.orchestrate.deploy")
        return summary

    def down(self):
        left = []
        # A lab of several hosts, or what a failed start of one made (the network's state file is
        # written before anything it names).
        cluster = self.cluster or (labcluster.Cluster(self) if (self.run / "hosts.json").exists() else None)
        if cluster:
            left += cluster.stop()
        # The node first: its kubelet would restart what the others' stop leaves.
        left += self.node.stop()
        for name in ["salt-api", "salt-minion", "salt-master", "service-proxy", "etcd"]:
            self.stop_process(name)
        # Any other process with a pid file: a lab of the former node agent (node-agent, pod-*).
        for f in sorted(self.run.glob("*.pid")) if self.run.exists() else []:
            self.stop_process(f.stem, grace=5)
        self.stop_engine_servers()
        ports = self.ports() or {}
        busy = [f"{n}:{p}" for n, p in ports.items() if not _wait_port_free(p)]
        if busy:
            raise SystemExit(f"labctl: ports still in use after down: {', '.join(busy)}")
        # Salt's state under its short /tmp path (see salt_configs) is the one thing outside the
        # root; the next `up` makes it again (the minion's key is preseeded each time).
        shutil.rmtree(self.salt_root, ignore_errors=True)
        if self.salt_root.exists():
            left.append(str(self.salt_root))
        if left:
            raise SystemExit(f"labctl: left behind after down: {', '.join(left)}")
        log("lab down: no process, port, mount or file outside the lab root left")

    def stop_engine_servers(self):
        """Once Salt is stopped, what still names its state: the engine servers its module started
        (salt/_modules/dexauth.py: one per minion and the master, with their launchers). A
        salt-call's may be outside the minion's process group."""
        pids = pids_naming(str(self.salt_root) + "/")
        for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
            for pid in pids:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            deadline = time.time() + wait
            while time.time() < deadline and any(_running(p) for p in pids):
                time.sleep(0.1)
            pids = [p for p in pids if _running(p)]

    def status(self):
        summary = json.loads(self.summary_file.read_text()) if self.summary_file.exists() else {}
        print(json.dumps(summary, indent=2))
        if self.cluster:
            procs = ["salt-master", "salt-api", "forwarder", "kube-controller-manager", "kube-scheduler"]
            procs += [f"{h.name}-{p}" for h in self.cluster.hosts()
                      for p in ("etcd", "containerd", "kubelet", "salt-minion", "service-proxy")]
        else:
            procs = ["etcd", "salt-master", "salt-minion", "salt-api"]
            procs += labnode.COMPONENTS + ["service-proxy"]
        healthy = True
        for name in procs:
            pid = self.pid(name)
            healthy &= pid is not None
            print(f"{name:24} {'running pid ' + str(pid) if pid else 'NOT RUNNING'}")
        if summary:
            try:
                ready = labkube.Client.from_lab(self).get("/readyz", raw=True) == "ok"
            except Exception as e:  # noqa: BLE001
                ready = False
                print(f"kube-apiserver /readyz   error: {e}")
            print(f"{'kube-apiserver /readyz':24} {'ok' if ready else 'NOT READY'}")
            healthy &= ready
        return 0 if healthy else 1


def pids_naming(text):
    """Pids of the processes (but this one) whose command line contains ``text``."""
    found = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit() and int(p.name) != os.getpid():
            try:
                if text.encode() in (p / "cmdline").read_bytes():
                    found.append(int(p.name))
            except OSError:
                pass
    return found


def _running(pid):
    """The process exists and has not exited (a zombie has)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _group_alive(pgid):
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def _connects(address, port):
    try:
        socket.create_connection((address, port), timeout=2).close()
        return True
    except OSError:
        return False


def _wait_port_free(port, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if port_free(port):
            return True
        time.sleep(0.2)
    return False


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("command", choices=["up", "add-node", "down", "status"])
    ap.add_argument("--root", default=os.environ.get("LAB_ROOT", str(DEFAULT_ROOT)),
                    help="lab root directory (default: .lab in the repository, or $LAB_ROOT)")
    ap.add_argument("--random-ports", action="store_true", help="never use the well-known default ports")
    ap.add_argument("--nodes", type=int, default=None,
                    help="up: control-plane hosts (default: the lab's count, else 1; more than 1: cluster.py)")
    args = ap.parse_args(argv)
    if args.nodes is not None and not 1 <= args.nodes <= 9:
        ap.error(f"--nodes {args.nodes}: give 1 to 9")
    lab = Lab(args.root, args.nodes if args.command == "up" else None)
    if args.command == "up":
        summary = lab.up(prefer_default_ports=not args.random_ports, )
        print(json.dumps(summary, indent=2))
        return 0
    if args.command == "add-node":
        print(json.dumps(lab.add_node(), indent=2))
        return 0
    if args.command == "down":
        lab.down()
        return 0
    return lab.status()


if __name__ == "__main__":
    sys.exit(main())
