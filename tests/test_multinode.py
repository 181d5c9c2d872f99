"""End to end on three control-plane hosts (issue 14 items 4, 6 and 7): one shared lab of three
hosts (`labctl up --nodes 3`), each with its own network namespace, salt-minion, etcd member,
containerd, kubelet and kube-apiserver.

The orchestration configures every node's kube-apiserver; a super-admin token is accepted by each
node's own apiserver; the account service's and Dex's replicas land on different nodes; and a
change of the apiserver's trust (the first deploy, which restarts each apiserver once, then an
issuer change) reaches one node at a time, checked healthy before the next: never two apiservers
restarting or changing at once. `labctl down` after a failed start of three hosts leaves nothing
behind (after the full run: the lab3 fixture's `down` fails when anything is left).
"""
import datetime
import json
import re
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

import dexlab
from labfixture import REPO, LabHandle, mounts_under, processes_naming, short_root
from support import wait_until

sys.path.insert(0, str(REPO / "lab"))
import hosts  # noqa: E402

APISERVER_STEP = "kube-apiserver trusts Dex on every control-plane node, one node at a time"
APISERVER_STATE = "kube-apiserver trusts Dex"


def _leftovers(handle):
    """What of a multi-host lab exists outside its root, or runs: processes naming the root or
    Salt's state (the engine servers), network namespaces, interfaces and addresses (hosts.py),
    mounts under the root (the hosts' mount namespaces), cgroups of the hosts' kubelets."""
    left = [f"process {pid}" for pid in processes_naming(handle.root, handle.lab.salt_root)]
    left += hosts.Network(handle.root).leftovers()
    left += [f"mount {m}" for m in mounts_under(handle.root)]
    cgroup = handle.lab.node.cgroup
    left += [f"cgroup {d}" for top in Path("/sys/fs/cgroup").iterdir() if top.is_dir()
             for d in top.glob(cgroup.lstrip("/") + "*")]
    if handle.lab.salt_root.exists():
        left.append(f"Salt's state {handle.lab.salt_root}")
    return left


# Its own lab first, before the module's shared one (one lab at a time on the machine).
def test_down_after_a_failed_start_of_three_hosts_leaves_nothing_behind():
    handle = LabHandle(short_root("dxf-"), nodes=3)
    # A pillar that cannot render: the start fails once every host runs (salt's bootstrap state).
    (handle.root / "pillar").mkdir(parents=True)
    (handle.root / "pillar" / "lab_overrides.sls").write_text("dexauth: [unclosed\n")
    try:  # down even when the start fails otherwise than expected: no lab left running
        r = subprocess.run([sys.executable, str(REPO / "lab" / "labctl.py"), "up", "--root", str(handle.root),
                            "--random-ports", "--nodes", "3"], capture_output=True, text=True, timeout=600)
        assert r.returncode != 0
        assert "lab.bootstrap failed" in r.stdout + r.stderr, r.stdout + r.stderr
        assert _leftovers(handle), "nothing was started before the failure"
    finally:
        down = handle.down()
    assert down.returncode == 0, down.stdout + down.stderr
    assert _leftovers(handle) == []
    handle.remove()


def superadmin_token_at(lab, issuer):
    """A super-admin ID token from Dex at ``issuer`` (dexlab's helpers use the lab's own issuer), or
    None while Dex does not serve that issuer."""
    form = urllib.parse.urlencode({
        "grant_type": "password", "client_id": "authctl", "username": dexlab.pillar(lab)["superadmin"]["email"],
        "password": dexlab.superadmin_password(lab),
        "scope": "openid email groups profile federated:id audience:server:client_id:kubernetes"}).encode()
    ctx = ssl.create_default_context(cafile=str(dexlab.ca_file(lab)))
    try:
        with urllib.request.urlopen(urllib.request.Request(issuer + "/token", data=form), context=ctx,
                                    timeout=10) as r:
            return json.loads(r.read())["id_token"]
    except (OSError, ValueError, KeyError):
        return None


class ApiserverWatch:
    """Polls every host's kube-apiserver /readyz from a thread, and records the intervals when one
    was not ready (first failed poll, first ok poll after it) that ended with a new process (its
    /metrics' process_start_time_seconds changed): a restart, told from an apiserver or its etcd
    member slow to answer on a loaded machine. With ``token`` (a function giving an ID token, or
    None while there is none yet) it also records when each apiserver first accepted that token."""

    def __init__(self, lab, token=None, interval=0.25):
        self.lab, self.token, self.interval = lab, token, interval
        self._restarted = {h["name"]: [] for h in lab.hosts}
        self.accepted = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        pki = lab.lab.pki
        self.ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        self.ctx.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=30)

    def _get(self, host, path):
        try:
            with urllib.request.urlopen(host["apiserver_url"] + path, context=self.ctx, timeout=2) as r:
                return r.read().decode()
        except OSError:
            return None

    def _started(self, host):
        """The serving process's start time, or None when /metrics does not answer."""
        match = re.search(r"^process_start_time_seconds (\S+)$", self._get(host, "/metrics") or "", re.M)
        return float(match.group(1)) if match else None

    def _run(self):
        since, started, unchecked = {}, {}, {}
        while not self._stop.is_set():
            for host in self.lab.hosts:
                name, now = host["name"], time.time()
                ok = self._get(host, "/readyz") == "ok"
                if not ok and name not in since:
                    since[name] = now
                elif ok and name in since:
                    unchecked[name] = (since.pop(name), now)
                if ok and (name not in started or name in unchecked):
                    pid_start = self._started(host)
                    if pid_start is not None:
                        if name in unchecked and pid_start != started.get(name):
                            self._restarted[name].append(unchecked[name])
                        unchecked.pop(name, None)
                        started[name] = pid_start
                if ok and self.token and name not in self.accepted:
                    token = self.token()
                    if token and self.lab.kubectl_at(host, "auth", "whoami", token=token).returncode == 0:
                        self.accepted[name] = time.time()
            self._stop.wait(self.interval)

    def restarts(self):
        """Per host, the not-ready intervals that ended with a new kube-apiserver process."""
        return {n: list(iv) for n, iv in self._restarted.items()}


def node_runs(states):
    """{minion: (start, end)} of the apiserver state on each node, from the orchestration's return
    (Salt's start_time is the minion's wall clock, today's date)."""
    step = next(s for s in states.values() if isinstance(s, dict) and s.get("__id__") == APISERVER_STEP)
    out = {}
    for minion, minion_states in ((step.get("changes") or {}).get("ret") or {}).items():
        for s in minion_states.values():
            if isinstance(s, dict) and s.get("__id__") == APISERVER_STATE:
                t = datetime.datetime.combine(datetime.date.today(),
                                              datetime.time.fromisoformat(s["start_time"])).timestamp()
                out[minion] = (t, t + s["duration"] / 1000)
    return out


def overlapping(intervals):
    """Pairs of (name, interval) that overlap, from {name: [intervals]}."""
    flat = sorted((a, b, n) for n, iv in intervals.items() for a, b in iv)
    return [(x, y) for i, x in enumerate(flat) for y in flat[i + 1:] if y[0] < x[1] and x[2] != y[2]]


def host_by_address(lab):
    return {h["address"]: h for h in lab.hosts}


@pytest.fixture(scope="module")
def deployed3(lab3):
    """The three-host lab after the orchestration, with what the first run showed (its states and
    what the apiserver watch saw)."""
    with ApiserverWatch(lab3) as watch:
        ok, states, seconds = dexlab.orchestrate(lab3)
    assert ok, dexlab.failures(states)
    lab3.first_run = {"states": states, "watch": watch, "seconds": seconds}
    return lab3


def test_the_orchestration_configures_each_node_one_at_a_time(deployed3):
    states, watch = deployed3.first_run["states"], deployed3.first_run["watch"]
    runs = node_runs(states)
    assert sorted(runs) == ["host1", "host2", "host3"], runs
    assert not overlapping({n: [iv] for n, iv in runs.items()}), f"nodes configured at once: {runs}"
    # --authentication-config is new to the manifest: each apiserver restarts once, during its own
    # node's turn, and never two at once.
    restarts = watch.restarts()
    assert all(restarts[n] for n in runs), f"an apiserver never restarted: {restarts}"
    assert not overlapping(restarts), f"two apiservers restarted at once: {restarts}"
    for name, intervals in restarts.items():
        start, end = runs[name]
        assert all(start - 1 <= a and b <= end + 1 for a, b in intervals), (name, intervals, runs[name])


def test_a_superadmin_token_is_accepted_by_each_nodes_apiserver(deployed3):
    token = dexlab.superadmin_token(deployed3)
    email = dexlab.pillar(deployed3)["superadmin"]["email"]
    for host in deployed3.hosts:
        r = deployed3.kubectl_at(host, "auth", "whoami", "-o", "json", token=token)
        assert r.returncode == 0, f"{host['name']}: {r.stderr}"
        assert json.loads(r.stdout)["status"]["userInfo"]["username"] == f"oidc:{email}", host["name"]
        r = deployed3.kubectl_at(host, "get", "namespaces", token=token)
        assert r.returncode == 0, f"{host['name']}: {r.stderr}"


def ready_pods(lab, deployment):
    """The Ready pods of Deployment ``deployment`` of Dex's namespace."""
    d = json.loads(lab.kubectl("-n", "dexauth", "get", "deployment", deployment, "-o", "json", check=True).stdout)
    selector = ",".join(f"{k}={v}" for k, v in d["spec"]["selector"]["matchLabels"].items())
    r = lab.kubectl("-n", "dexauth", "get", "pods", "-l", selector, "-o", "json", check=True)
    return [p for p in json.loads(r.stdout)["items"]
            if any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions", []))
            and not p["metadata"].get("deletionTimestamp")]


def test_replicas_spread_over_the_nodes(deployed3):
    dexlab.set_overrides(deployed3, {"dexauth": {"account": {"replicas": 3}, "dex": {"replicas": 3}}})
    try:
        ok, states, _ = dexlab.orchestrate(deployed3)
        assert ok, dexlab.failures(states)
        for app, what in (("dex-account", "account"), ("dex", "Dex")):
            pods = wait_until(lambda: (lambda p: p if len(p) == 3 else None)(
                ready_pods(deployed3, app)), 180, f"three Ready {what} pods")
            assert sorted(p["spec"]["nodeName"] for p in pods) == sorted(host_by_address(deployed3)), pods
        token = dexlab.superadmin_token(deployed3)
        assert all(deployed3.kubectl_at(h, "auth", "whoami", token=token).returncode == 0 for h in deployed3.hosts)
    finally:
        # Back to one Dex pod now, as the next run's pillar says (the tests after this one count them).
        deployed3.kubectl("-n", "dexauth", "scale", "deployment/dex", "--replicas=1")
        dexlab.set_overrides(deployed3, {})


def test_an_issuer_change_reaches_one_node_at_a_time(deployed3):
    old = dexlab.pillar(deployed3)["issuer"]
    new = old.rsplit("/", 1)[0] + "/rolled"
    dexlab.set_overrides(deployed3, {"dexauth": {"issuer": new}})
    dexlab.superadmin_password(deployed3)  # changed from the one-time one now, not in the watch's thread

    def new_token():
        return superadmin_token_at(deployed3, new)

    with ApiserverWatch(deployed3, token=new_token) as watch:
        ok, states, _ = dexlab.orchestrate(deployed3)
        assert ok, dexlab.failures(states)
        wait_until(lambda: len(watch.accepted) == 3, 60, "every apiserver accepting the new issuer's tokens")
    runs = node_runs(states)
    assert sorted(runs) == ["host1", "host2", "host3"], runs
    assert not overlapping({n: [iv] for n, iv in runs.items()}), f"nodes changed at once: {runs}"
    assert not overlapping(watch.restarts()), f"two apiservers restarted at once: {watch.restarts()}"
    # Each node trusted the new issuer only from its own turn on: the others kept the old one meanwhile.
    for name, accepted in watch.accepted.items():
        assert accepted >= runs[name][0], (name, accepted, runs)


def authentication_configs(lab):
    """{host name: its own authentication configuration file's text, None without one} (each host's
    private copy)."""
    files = {h.name: lab.lab.cluster.host_dir(h) / "etc" / "kubernetes" / "dexauth" / "authentication-config.yaml"
             for h in lab.lab.cluster.hosts()}
    return {name: f.read_text() if f.exists() else None for name, f in files.items()}


def test_a_node_whose_minion_is_down_fails_the_run_naming_it_and_a_rerun_converges(deployed3):
    cluster = deployed3.lab.cluster
    host3 = next(h for h in cluster.hosts() if h.name == "host3")
    before = authentication_configs(deployed3)
    issuer = dexlab.pillar(deployed3)["issuer"]
    new = issuer.rsplit("/", 1)[0] + "/moved"
    dexlab.set_overrides(deployed3, {"dexauth": {"issuer": new}})
    cluster.stop_minion(host3)
    try:
        ok, states, _ = dexlab.orchestrate(deployed3)
        assert not ok, "the run succeeded with host3's minion down"
        failure = dexlab.failures(states)
        assert "host3" in failure, failure
        # No node changed its trust: every node keeps the same configuration as before the run.
        assert authentication_configs(deployed3) == before
    finally:
        cluster.start_minion(host3)
    cluster.wait_minions()
    ok, states, _ = dexlab.orchestrate(deployed3)
    assert ok, dexlab.failures(states)
    configs = authentication_configs(deployed3)
    assert all(f'url: "{new}"' in text for text in configs.values()), configs
    token = superadmin_token_at(deployed3, new)
    assert token and all(deployed3.kubectl_at(h, "auth", "whoami", token=token).returncode == 0
                         for h in deployed3.hosts)


def test_a_node_added_later_accepts_a_token_after_the_operator_step(deployed3):
    """`make lab-add-node` (labctl add-node): a fourth control-plane host with a fresh minion. Until
    the operator re-runs the orchestration (docs/operations.md) its apiserver does not know Dex;
    after it, the four nodes have the same configuration and the new one accepts a token."""
    dexlab.set_overrides(deployed3, {})
    r = subprocess.run([sys.executable, str(REPO / "lab" / "labctl.py"), "add-node", "--root", str(deployed3.root)],
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout + r.stderr
    deployed3.summary = json.loads((deployed3.root / "summary.json").read_text())
    assert [h["name"] for h in deployed3.hosts] == ["host1", "host2", "host3", "host4"]
    host4 = deployed3.hosts[-1]
    served = re.search(r'url: "([^"]+)"', authentication_configs(deployed3)["host1"]).group(1)
    token = superadmin_token_at(deployed3, served)
    assert token, f"no token from Dex at {served}"
    refused = deployed3.kubectl_at(host4, "auth", "whoami", token=token)
    assert refused.returncode != 0 and "Unauthorized" in refused.stderr, refused

    ok, states, _ = dexlab.orchestrate(deployed3)  # the operator's step
    assert ok, dexlab.failures(states)
    assert "host4" in node_runs(states), node_runs(states)
    configs = authentication_configs(deployed3)
    assert len(configs) == 4 and len(set(configs.values())) == 1, configs
    token = dexlab.superadmin_token(deployed3)
    for host in deployed3.hosts:
        r = deployed3.kubectl_at(host, "auth", "whoami", token=token)
        assert r.returncode == 0, f"{host['name']}: {r.stderr}"


def test_logins_keep_working_while_a_node_running_a_dex_replica_is_stopped(deployed3):
    """Dex with two replicas on two nodes; one of those nodes stops (kubelet, containerd and its pods
    killed: gone, for Kubernetes and for the clients): the issuer still logs the super-admin in,
    through the other replica, and the apiservers left accept the token. Last: the node stays down."""
    cluster = deployed3.lab.cluster
    assert deployed3.kubectl("-n", "dexauth", "scale", "deployment/dex", "--replicas=2").returncode == 0
    pods = wait_until(lambda: (lambda p: p if len(p) == 2 else None)(ready_pods(deployed3, "dex")), 180,
                      "two Ready Dex pods")
    nodes = {p["spec"]["nodeName"] for p in pods}
    assert len(nodes) == 2, pods
    # Not host1 if it can be helped: its apiserver is the first the machine's forwarder tries.
    victim = sorted((h for h in cluster.hosts() if h.address in nodes), key=lambda h: h.index)[-1]
    left = [h for h in deployed3.hosts if h["address"] != victim.address]
    cluster.node(victim).stop()  # what it leaves behind is checked by the fixture's down

    def login():
        status, body = dexlab.password_grant(deployed3, dexlab.pillar(deployed3)["superadmin"]["email"],
                                             dexlab.superadmin_password(deployed3))
        return body["id_token"] if status == 200 else None
    token = wait_until(login, 60, f"a login with {victim.name}'s Dex replica gone")
    for host in left:
        r = deployed3.kubectl_at(host, "auth", "whoami", token=token)
        assert r.returncode == 0, f"{host['name']}: {r.stderr}"
    # Every login goes through the replica left: several in a row, none refused.
    assert all(login() for _ in range(5))
