"""Private labs for the end-to-end tests: each in its own temporary root, on free ports."""
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "lab"))
import labctl  # noqa: E402
import labkube  # noqa: E402
from support.waiting import wait_until  # noqa: E402


def short_root(prefix="dxl-"):
    """Lab roots stay short: Salt builds Unix socket paths from them (108-byte limit)."""
    import tempfile
    return Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))


def processes_naming(*roots):
    """Pids of the processes whose command line names one of ``roots`` (a lab's processes all do)."""
    return [pid for root in roots for pid in labctl.pids_naming(str(root))]


def mounts_under(root):
    """Mount points at or below ``root``."""
    return [line.split()[1] for line in Path("/proc/self/mounts").read_text().splitlines()
            if line.split()[1].startswith(str(root))]


class LabHandle:
    def __init__(self, root, nodes=1):
        self.root = Path(root)
        self.nodes = nodes
        self.lab = labctl.Lab(root, nodes)
        self.summary = {}

    def up(self):
        nodes = ["--nodes", str(self.nodes)] if self.nodes > 1 else []
        r = subprocess.run([sys.executable, str(REPO / "lab" / "labctl.py"), "up", "--root", str(self.root),
                            "--random-ports", *nodes], capture_output=True, text=True, timeout=300 * self.nodes)
        if r.returncode != 0:
            self.down()  # leave nothing behind, even on failure
            raise AssertionError(f"lab up failed:\n{r.stdout}\n{r.stderr}")
        self.summary = json.loads((self.root / "summary.json").read_text())
        return self

    def down(self):
        return subprocess.run([sys.executable, str(REPO / "lab" / "labctl.py"), "down", "--root", str(self.root)],
                              capture_output=True, text=True, timeout=120)

    def remove(self):
        import shutil
        shutil.rmtree(self.root, ignore_errors=True)
        shutil.rmtree(self.lab.salt_root, ignore_errors=True)

    @property
    def ports(self):
        return self.lab.ports()

    def kube(self, token=None):
        if token:
            return labkube.Client(self.summary["apiserver_url"], self.lab.pki / "ca.crt", token=token)
        return labkube.Client.from_lab(self.lab)

    def kubectl(self, *args, token=None, check=False):
        if token:
            return self._kubectl_with_token(self.summary["apiserver_url"], token, args, check)
        return subprocess.run([self.lab.tools["KUBECTL_BIN"], "--kubeconfig", str(self.lab.kubeconfig), *args],
                              capture_output=True, text=True, timeout=60, check=check)

    def _kubectl_with_token(self, server, token, args, check=False):
        """kubectl as the token's holder. The token goes in a kubeconfig file of mode 0600 (mkstemp),
        removed after the call, never on kubectl's command line, where any process could read it."""
        import tempfile
        config = {"apiVersion": "v1", "kind": "Config", "current-context": "as-token",
                  "clusters": [{"name": "lab", "cluster": {"server": server,
                                                           "certificate-authority": str(self.lab.pki / "ca.crt")}}],
                  "users": [{"name": "token", "user": {"token": token}}],
                  "contexts": [{"name": "as-token", "context": {"cluster": "lab", "user": "token"}}]}
        fd, path = tempfile.mkstemp(prefix="kubeconfig-token-", dir=self.root)
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(config, f)
            return subprocess.run([self.lab.tools["KUBECTL_BIN"], "--kubeconfig", path, *args],
                                  capture_output=True, text=True, timeout=60, check=check)
        finally:
            os.unlink(path)

    @property
    def hosts(self):
        """The hosts of a multi-host lab: [{name, address, apiserver_url, ...}] (labctl's summary)."""
        return self.summary.get("hosts", [])

    def kubectl_at(self, host, *args, token):
        """kubectl against one host's own kube-apiserver (``host`` as in ``hosts``), with a token."""
        return self._kubectl_with_token(host["apiserver_url"], token, args)

    def salt_call(self, *args, timeout=900):
        r = self.lab.salt_call(*args, timeout=timeout)
        return r

    def salt_run(self, *args, timeout=900):
        return subprocess.run([self.lab.salt_bin("salt-run"), "-c", str(self.lab.salt_conf), "--out=json",
                               *args], capture_output=True, text=True, timeout=timeout)

    def authctl(self, *args, stdin=None, env=None):
        return subprocess.run([str(REPO / "bin" / "authctl"), *args], input=stdin, capture_output=True, text=True,
                              timeout=300, env={**os.environ, "AUTHCTL_CONFIG": str(self.root / "authctl.yaml"),
                                                **(env or {})})

    def pod_pid(self, name):
        """The pid of pod ``name``'s process (``kube-apiserver``, ``deploy-<ns>-<deployment>``), or None."""
        return self.lab.pod_pid(name)

    def pod_logs(self, name):
        """The log files of pod ``name`` (as for pod_pid), whichever node runs it."""
        return self.lab.pod_logs(name)

    def wait_pod_pid_change(self, name, old, timeout=90):
        """The pid of pod ``name`` once it differs from ``old`` (the pod was restarted)."""
        def restarted():
            pid = self.pod_pid(name)
            return pid if pid and pid != old else None
        return wait_until(restarted, timeout, f"restart of {name}", interval=0.3)
