"""Deployments the lab node agent runs as processes (its stand-in for a container runtime).

A Deployment is run when its first container's image names a binary the lab has
(e.g. .../dex:<tag>, .../account-service:<tag>) and it wants at least one replica; each of its
containers whose image names such a binary runs as a process of its own (Dex and its login
guard), as a pod's containers would. Each process sees what its container would: its Secret,
ConfigMap and emptyDir volumes (all keys, or only the `items` listed) and service-account token at the pod spec's mount paths (bind
mounts in a private mount namespace, outer paths first so volumes can nest, and the host is
not touched beyond empty mount-point directories), its env (values and secretKeyRefs), and
KUBERNETES_SERVICE_HOST/PORT pointing at the lab apiserver.

Rollout status is reported once every container's process passes its readiness probe: HTTP, or
HTTPS verified with the project's CA (ConfigMap kube-public/dexauth-ca), as a stricter kubelet would.
"""
import base64
import functools
import hashlib
import json
import os
import shlex
import shutil
import ssl
import time
import urllib.error
import urllib.request
from pathlib import Path

import labkube

SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
# The project's CA as the Salt states publish it: what HTTPS readiness probes are verified with.
PROJECT_CA = "/api/v1/namespaces/kube-public/configmaps/dexauth-ca"


class ApiUnavailable(Exception):
    pass


def _image_binary(image):
    name = image.rsplit("/", 1)[-1]
    return name.split("@")[0].split(":")[0]


def deployment_pods(lab, binary_for, env_for=lambda binary: {}):
    """name -> (launch, spec_hash, report_ready); launch() materialises volumes and returns (argv, env).
    env_for(binary) adds what that binary needs from the host (a container image would carry it)."""
    ports = lab.ports()
    kube = labkube.Client.from_lab(lab)
    try:
        deployments = kube.get("/apis/apps/v1/deployments")["items"]
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as e:
        raise ApiUnavailable(str(e)) from e
    wanted = {}
    for d in deployments:
        template = d["spec"]["template"]
        containers = template["spec"].get("containers", [])
        if not containers or d["spec"].get("replicas", 1) == 0:
            continue
        runnable = []
        for index, container in enumerate(containers):
            try:
                runnable.append((index, binary_for(_image_binary(container["image"]))))
            except ValueError:
                continue
        if not runnable or runnable[0][0] != 0:
            continue
        ns, name = d["metadata"]["namespace"], d["metadata"]["name"]
        digest = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()
        version = (d["metadata"]["uid"], d["metadata"]["generation"])
        # The first container's process is the Deployment's key (pod-deploy-<ns>-<name>.pid); others add their name.
        ready = functools.partial(_report_rollout, kube, ns, name, version, d["spec"].get("replicas", 1),
                                  [u for u in (_readiness_url(containers[i]) for i, _ in runnable) if u])
        for index, binary in runnable:
            cname = containers[index].get("name", "main")
            key = f"deploy-{ns}-{name}" + ("" if index == 0 else f"-{cname}")
            wanted[key] = (functools.partial(_prepare, lab, kube, ns, template, index, binary, ports, key,
                                             env_for(binary)), digest, ready if index == 0 else None)
            _deployments[key] = (ns, name, cname)
    return wanted


_deployments = {}  # process key -> (namespace, Deployment name, container name)


def report_exit(lab, key, log_file, returncode):
    """kubelet's part when a container exits: a Warning Event "BackOff" on the Deployment, with the end of
    its log (the lab has no Pod objects, so no pod status or `kubectl logs` would tell why)."""
    if key not in _deployments:
        return
    ns, name, container = _deployments[key]
    try:
        tail = [line for line in Path(log_file).read_text(errors="replace").splitlines() if line.strip()][-3:]
    except OSError:
        tail = []
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    message = (f"Back-off restarting failed container {container} (exit code {returncode}); last log lines: "
               + " | ".join(tail))[:1000]
    labkube.Client.from_lab(lab).post(f"/api/v1/namespaces/{ns}/events", {
        "metadata": {"generateName": f"{name}.", "namespace": ns},
        "involvedObject": {"apiVersion": "apps/v1", "kind": "Deployment", "namespace": ns, "name": name},
        "reason": "BackOff", "type": "Warning", "message": message, "count": 1,
        "firstTimestamp": now, "lastTimestamp": now, "source": {"component": "lab-node-agent"}})


_rolled_out = {}  # (ns, name) -> (uid, generation) whose rollout the status already reports


def _readiness_url(container):
    probe = (container.get("readinessProbe") or {}).get("httpGet")
    if not probe:
        return None
    scheme = probe.get("scheme", "HTTP").lower()
    port = probe["port"]
    if isinstance(port, str):
        port = next(p["containerPort"] for p in container.get("ports", []) if p.get("name") == port)
    return f"{scheme}://127.0.0.1:{port}{probe.get('path', '/')}"


def _probe_context(kube, url):
    """None for HTTP; for HTTPS, a context trusting only the project's CA (hostname checked)."""
    if not url.startswith("https:"):
        return None
    ca = (kube.get_or_none(PROJECT_CA) or {}).get("data", {}).get("ca.crt")
    if not ca:
        raise ssl.SSLError("the project's CA is not published yet")
    return ssl.create_default_context(cadata=ca)


def _report_rollout(kube, ns, name, version, replicas, ready_urls):
    """The Deployment controller's part: once the processes of this generation run and pass their
    readiness probes, the Deployment's status says it is rolled out (what `rollout status` waits for)."""
    if _rolled_out.get((ns, name)) == version:  # a re-created Deployment starts again at generation 1
        return
    for ready_url in ready_urls:
        try:
            with urllib.request.urlopen(ready_url, timeout=1, context=_probe_context(kube, ready_url)) as resp:
                if resp.status != 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError, ssl.SSLError):
            return
    status = {"observedGeneration": version[1], "replicas": replicas, "updatedReplicas": replicas,
              "readyReplicas": replicas, "availableReplicas": replicas}
    kube.request("PATCH", f"/apis/apps/v1/namespaces/{ns}/deployments/{name}/status", {"status": status},
                 content_type="application/merge-patch+json")
    _rolled_out[(ns, name)] = version


def _write_items(target, what, data, items, mode):
    """A configMap or secret volume: every key as a file, or with ``items`` only those keys, each
    at its ``path`` (subdirectories included), as kubelet lays them out."""
    for item in items if items is not None else [{"key": k, "path": k} for k in data]:
        if item["key"] not in data:
            raise ValueError(f"{what} has no key {item['key']!r}")
        rel = Path(item["path"])
        if rel.is_absolute() or ".." in rel.parts:
            raise ValueError(f"{what}: item path {item['path']!r} leaves the volume")
        f = target / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(data[item["key"]])
        f.chmod(mode)


def _write_config_map(target, config_map, items=None):
    """A configMap volume (not secret: mode 0644)."""
    data = {k: v.encode() for k, v in (config_map.get("data") or {}).items()}
    data.update({k: base64.b64decode(v) for k, v in (config_map.get("binaryData") or {}).items()})
    _write_items(target, f"ConfigMap {config_map['metadata']['name']}", data, items, 0o644)


def _write_secret(target, secret, items=None):
    """A secret volume (mode 0600)."""
    data = {k: base64.b64decode(v) for k, v in (secret.get("data") or {}).items()}
    _write_items(target, f"Secret {secret['metadata']['name']}", data, items, 0o600)


def mount_plan(mounts, needed):
    """(mounts to make, in order; mounts left out). Outer paths first: a volume mounted inside
    another one (/etc/x, then /etc/x/tls) gets its mount point made in the outer volume, once that
    is mounted; top-level mount points are empty directories on the host. A volume whose target
    holds a path the process needs (an emptyDir on /tmp, for a lab or a checkout in /tmp: the pod's
    own directory, the binary) is left out: mounted, it would hide them. The process then uses the
    host's directory there (the lab is no sandbox), and TMPDIR points at the volume."""
    def hides(target):
        return any(Path(n).is_relative_to(target) for n in needed)
    kept = sorted((m for m in mounts if not hides(m[1])), key=lambda m: Path(m[1]).parts)
    return kept, [m for m in mounts if hides(m[1])]


def _prepare(lab, kube, ns, template, index, binary, ports, key, host_env):
    spec = template["spec"]
    c = spec["containers"][index]
    pod_dir = lab.root / "var" / "pods" / key
    shutil.rmtree(pod_dir, ignore_errors=True)
    pod_dir.mkdir(parents=True)
    os.chmod(pod_dir, 0o700)
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    mounts = []
    for m in c.get("volumeMounts", []):
        v = volumes[m["name"]]
        src = pod_dir / "volumes" / m["name"]
        src.mkdir(parents=True, exist_ok=True)
        if "secret" in v:
            _write_secret(src, kube.get(f"/api/v1/namespaces/{ns}/secrets/{v['secret']['secretName']}"),
                          v["secret"].get("items"))
        elif "configMap" in v:
            _write_config_map(src, kube.get(f"/api/v1/namespaces/{ns}/configmaps/{v['configMap']['name']}"),
                              v["configMap"].get("items"))
        elif "emptyDir" in v:
            pass
        else:
            raise ValueError(f"volume type of '{m['name']}' is not supported by the lab")
        mounts.append((src, m["mountPath"]))
    if spec.get("automountServiceAccountToken", True):
        sa = spec.get("serviceAccountName", "default")
        tok = kube.post(f"/api/v1/namespaces/{ns}/serviceaccounts/{sa}/token",
                        {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                         "spec": {"expirationSeconds": 86400}})
        src = pod_dir / "volumes" / "serviceaccount"
        src.mkdir(parents=True, exist_ok=True)
        (src / "token").write_text(tok["status"]["token"])
        (src / "ca.crt").write_text((lab.pki / "ca.crt").read_text())
        (src / "namespace").write_text(ns)
        for f in src.iterdir():
            f.chmod(0o600)
        mounts.append((src, SA_DIR))
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **host_env, "HOME": str(pod_dir),
           "KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": str(ports["apiserver"])}
    for e in c.get("env", []):
        if "value" in e:
            env[e["name"]] = str(e["value"])
        elif "secretKeyRef" in e.get("valueFrom", {}):
            ref = e["valueFrom"]["secretKeyRef"]
            secret = kube.get(f"/api/v1/namespaces/{ns}/secrets/{ref['name']}")
            env[e["name"]] = base64.b64decode(secret["data"][ref["key"]]).decode()
    for source in c.get("envFrom", []):
        ref = source.get("secretRef")
        if not ref:
            continue
        secret = kube.get_or_none(f"/api/v1/namespaces/{ns}/secrets/{ref['name']}")
        if secret is None:
            if ref.get("optional"):
                continue
            raise RuntimeError(f"Secret {ns}/{ref['name']} not found (envFrom)")
        for key, value in (secret.get("data") or {}).items():
            env[key] = base64.b64decode(value).decode()
    argv = list(c.get("command") or [binary]) + list(c.get("args", []))
    argv[0] = binary
    script = ["set -e"]
    kept, left_out = mount_plan(mounts, [pod_dir, Path(binary).resolve(), *host_env.values()])
    for src, target in left_out:
        if target == "/tmp":
            env["TMPDIR"] = str(src)
    for src, target in kept:
        script.append(f"mkdir -p {shlex.quote(target)}")
        script.append(f"mount --bind {shlex.quote(str(src))} {shlex.quote(target)}")
    script.append("exec " + " ".join(shlex.quote(a) for a in argv))
    launch = pod_dir / "launch.sh"
    launch.write_text("\n".join(script) + "\n")
    return ["unshare", "--mount", "--propagation", "private", "sh", str(launch)], env
