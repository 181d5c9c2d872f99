#!/usr/bin/env python3
"""The lab node agent: the lab's stand-in for kubelet.

It has no container runtime. It runs the lab's pods as plain processes:

* static pods: every manifest in <root>/etc/kubernetes/manifests is started as a
  process (the container's command and args, with the binary taken from the
  toolchain), and restarted when the manifest's pod spec changes or the process dies,
  as kubelet does for static pods;
* Services (see service_proxy.py): cluster IPs of the lab's pods reachable from the node, as
  kube-proxy makes them;
* Deployments (see pods.py): Deployments whose container image is a binary the
  lab has (dex; account-service, which is the repository's bin/authctl) run as one
  process each, with their volumes and service account token mounted at the paths
  the pod spec names, in a private mount namespace.

Each process runs in its own process group; its pid is in <root>/run/pod-<name>.pid and
its output in <root>/logs/pod-<name>.log. On SIGTERM the agent stops them all.
"""
import argparse
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import labctl  # noqa: E402
import pods  # noqa: E402
import service_proxy  # noqa: E402

BINARIES = {"kube-apiserver": "KUBE_APISERVER_BIN", "etcd": "ETCD_BIN", "dex": "DEX_BIN"}
# Images whose binary is this repository's own launcher: the account service is `authctl serve`
# (bin/authctl builds the jar when its sources changed).
AUTHCTL = labctl.REPO / "bin" / "authctl"
REPO_BINARIES = {"account-service": AUTHCTL, "authctl": AUTHCTL}


def log(msg):
    print(f"[node-agent {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def _java_home():
    """The JDK of the `java` on PATH (e.g. /usr/lib/jvm/java-17-openjdk-amd64), or None."""
    import shutil
    java = shutil.which("java")
    return str(Path(os.path.realpath(java)).parent.parent) if java else None


class Process:
    """One supervised pod process."""

    def __init__(self, name, lab):
        self.name = name
        self.lab = lab
        self.spec_hash = None
        self.proc = None
        self.restarts = 0
        self.next_start = 0.0

    @property
    def pidfile(self):
        return self.lab.run / f"pod-{self.name}.pid"

    def start(self, launch, spec_hash):
        out = open(self.lab.logs / f"pod-{self.name}.log", "ab")
        argv, env = launch()
        self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     env=env, start_new_session=True, cwd=self.lab.root)
        self.spec_hash = spec_hash
        tmp = self.pidfile.with_suffix(".tmp")  # readers never see a half-written pidfile
        tmp.write_text(str(self.proc.pid))
        tmp.replace(self.pidfile)
        log(f"started {self.name} pid {self.proc.pid}")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
            except ProcessLookupError:
                pass
            log(f"stopped {self.name}")
        self.proc = None
        self.pidfile.unlink(missing_ok=True)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None


class Agent:
    def __init__(self, root):
        self.lab = labctl.Lab(root)
        self.processes = {}
        self.stopping = False
        self.services = service_proxy.ServiceProxy(self.lab, log)

    def binary_for(self, command):
        name = os.path.basename(command)
        if name in REPO_BINARIES:
            return str(REPO_BINARIES[name])
        key = BINARIES.get(name)
        if not key or key not in self.lab.tools:
            raise ValueError(f"no lab binary for command '{command}'")
        return self.lab.tools[key]

    @staticmethod
    def env_for(binary):
        """What a binary needs from the host that its image would carry: for bin/authctl, java
        (JAVA_HOME), and the caches of the user running the lab (the pod's HOME is its own
        directory): Maven's repository, should the jar need a build, and the CDS archives."""
        if binary != str(AUTHCTL):
            return {}
        home = Path.home()
        env = {"DEXAUTH_CACHE": os.environ.get("DEXAUTH_CACHE", str(home / ".cache" / "dexauth")),
               "MAVEN_OPTS": f"-Dmaven.repo.local={home / '.m2' / 'repository'}"}
        java = os.environ.get("JAVA_HOME") or _java_home()
        if java:
            env["JAVA_HOME"] = java
            env["PATH"] = f"{java}/bin:" + os.environ.get("PATH", "/usr/bin:/bin")
        return env

    def static_pods(self):
        """name -> (launch, hash) for every static-pod manifest; launch() gives (argv, env)."""
        wanted = {}
        for manifest in sorted(self.lab.manifests.glob("*.yaml")):
            try:
                pod = yaml.safe_load(manifest.read_text())
                container = pod["spec"]["containers"][0]
                argv = list(container.get("command", [])) + list(container.get("args", []))
                argv[0] = self.binary_for(argv[0])
                env = {**os.environ, **{e["name"]: str(e.get("value", "")) for e in container.get("env", [])}}
            except Exception as e:  # noqa: BLE001 - a broken manifest is reported, not fatal
                log(f"cannot run {manifest.name}: {e}")
                continue
            digest = hashlib.sha256(json.dumps(pod["spec"], sort_keys=True).encode()).hexdigest()
            wanted[pod["metadata"]["name"]] = ((lambda a=argv, e=env: (a, e)), digest, None)
        return wanted

    def reconcile(self):
        wanted = self.static_pods()
        try:
            wanted.update(pods.deployment_pods(self.lab, self.binary_for, self.env_for))
        except Exception as e:  # noqa: BLE001 - apiserver may be restarting; keep what runs
            for name, proc in self.processes.items():
                if name.startswith("deploy-"):
                    wanted.setdefault(name, (None, proc.spec_hash, None))
            if not isinstance(e, pods.ApiUnavailable):
                log(f"deployments: {e}")
        for name in list(self.processes):
            if name not in wanted:
                self.processes.pop(name).stop()
        now = time.time()
        for name, (launch, digest, report_ready) in wanted.items():
            proc = self.processes.setdefault(name, Process(name, self.lab))
            if proc.alive() and proc.spec_hash == digest:
                if report_ready:
                    try:
                        report_ready()
                    except Exception as e:  # noqa: BLE001 - status is retried on the next pass
                        log(f"{name}: cannot report rollout: {e}")
                continue
            if launch is None:
                continue
            if proc.alive():
                log(f"{name}: pod spec changed, restarting")
                proc.stop()
            elif proc.spec_hash == digest:
                if now < proc.next_start:
                    continue
                proc.restarts += 1
                proc.next_start = now + min(10, 2 ** min(proc.restarts, 4))
                log(f"{name}: exited, restart #{proc.restarts}")
                try:
                    pods.report_exit(self.lab, name, self.lab.logs / f"pod-{name}.log", proc.proc.returncode)
                except Exception as e:  # noqa: BLE001 - an Event is a courtesy; the restart goes on
                    log(f"{name}: cannot report the exit: {e}")
            proc.start(launch, digest)
        self.services.reconcile()
        self.write_status()

    def write_status(self):
        status = {n: {"pid": p.proc.pid if p.alive() else None, "restarts": p.restarts, "spec": p.spec_hash}
                  for n, p in self.processes.items()}
        tmp = self.lab.run / ".node-agent.json.tmp"
        tmp.write_text(json.dumps(status, indent=2))
        tmp.replace(self.lab.run / "node-agent.json")

    def run(self):
        signal.signal(signal.SIGTERM, lambda *_: setattr(self, "stopping", True))
        signal.signal(signal.SIGINT, lambda *_: setattr(self, "stopping", True))
        log(f"watching {self.lab.manifests}")
        while not self.stopping:
            self.reconcile()
            for _ in range(5):
                if self.stopping:
                    break
                time.sleep(0.1)
        self.services.close()
        for proc in self.processes.values():
            proc.stop()
        log("stopped")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", required=True)
    Agent(ap.parse_args().root).run()


if __name__ == "__main__":
    main()
