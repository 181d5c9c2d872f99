"""End to end: the lab control plane is real and usable."""
import json
import re

import yaml

from support import wait_until


def test_apiserver_is_healthy(lab):
    assert lab.kube().get("/readyz", raw=True) == "ok"


def test_kubectl_with_admin_certificate_lists_namespaces(lab):
    r = lab.kubectl("get", "namespaces", "-o", "name")
    assert r.returncode == 0, r.stderr
    assert "namespace/kube-system" in r.stdout.split()


def test_salt_call_reaches_the_master(lab):
    r = lab.salt_call("test.ping")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"local": True}


def test_salt_module_returns_engine_version(lab):
    lab.salt_call("saltutil.sync_modules")
    r = lab.salt_call("dexauth.version")
    assert r.returncode == 0, r.stderr
    assert re.fullmatch(r"\d+\.\d+\.\d+", json.loads(r.stdout)["local"])


def test_authctl_pings_minions_and_runs_a_runner_through_salt_api(lab):
    r = lab.authctl("salt", "ping")
    assert r.returncode == 0, r.stderr
    assert "bootstrap  responding" in r.stdout
    assert "master sees 1 minion(s) up: bootstrap" in r.stdout  # runner manage.up via salt-api


def test_authctl_salt_ping_refuses_an_untrusted_salt_api(lab, tmp_path):
    other_ca = tmp_path / "other-ca.crt"
    other_ca.write_text((lab.lab.pki / "apiserver.crt").read_text())  # not the CA that signed salt-api
    cfg = tmp_path / "authctl.yaml"
    cfg.write_text((lab.root / "authctl.yaml").read_text().replace(str(lab.lab.pki / "ca.crt"), str(other_ca)))
    r = lab.authctl("salt", "ping", "--config", str(cfg))
    assert r.returncode != 0
    assert "TLS" in r.stderr or "certificate" in r.stderr.lower()


def test_editing_the_static_pod_manifest_restarts_apiserver_with_the_new_flag(lab):
    manifest = lab.lab.manifests / "kube-apiserver.yaml"
    original = manifest.read_text()
    old_pid = new_pid = lab.pod_pid("kube-apiserver")
    try:
        pod = yaml.safe_load(original)
        pod["spec"]["containers"][0]["command"].append("--v=1")
        manifest.write_text(yaml.safe_dump(pod))
        new_pid = lab.wait_pod_pid_change("kube-apiserver", old_pid)
        _wait_ready(lab)
        new_pid = lab.pod_pid("kube-apiserver")
        cmdline = open(f"/proc/{new_pid}/cmdline", "rb").read().split(b"\0")
        assert b"--v=1" in cmdline
    finally:
        manifest.write_text(original)
        lab.wait_pod_pid_change("kube-apiserver", new_pid)
        _wait_ready(lab)


def _wait_ready(lab, timeout=90):
    wait_until(lambda: lab.kube().get("/readyz", raw=True) == "ok", timeout, "apiserver ready again", interval=0.5)
