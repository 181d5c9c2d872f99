"""The lab's pod runner (lab/pods.py) on its own: volumes, mount order and readiness probes,
with a fake API (no lab needed)."""
import base64
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lab"))
import pods  # noqa: E402


class FakeKube:
    def __init__(self, objects):
        self.objects = objects

    def get(self, path):
        return self.objects[path]

    def get_or_none(self, path):
        return self.objects.get(path)


def _b64(text):
    return base64.b64encode(text.encode()).decode()


KUBE = FakeKube({})
SECRET = {"metadata": {"name": "tls"}, "data": {"tls.crt": _b64("CRT"), "tls.key": _b64("KEY"), "ca.crt": _b64("CA")}}


def _files(root):
    return {str(f.relative_to(root)): f.read_bytes() for f in sorted(root.rglob("*")) if f.is_file()}


def test_secret_volumes_give_every_key_or_only_their_items_readable_by_the_pod_only(tmp_path):
    pods._write_secret(tmp_path / "all", SECRET)
    assert _files(tmp_path / "all") == {"ca.crt": b"CA", "tls.crt": b"CRT", "tls.key": b"KEY"}
    pods._write_secret(tmp_path / "ca", SECRET, [{"key": "ca.crt", "path": "ca.crt"}])
    assert _files(tmp_path / "ca") == {"ca.crt": b"CA"}  # e.g. Dex's CA without Dex's key
    assert (tmp_path / "ca" / "ca.crt").stat().st_mode & 0o777 == 0o600


def test_readiness_url_keeps_the_probe_scheme_and_resolves_named_ports():
    container = {"ports": [{"name": "https", "containerPort": 8443}],
                 "readinessProbe": {"httpGet": {"scheme": "HTTPS", "path": "/account/healthz", "port": "https"}}}
    assert pods._readiness_url(container) == "https://127.0.0.1:8443/account/healthz"
    assert pods._readiness_url({"readinessProbe": {"httpGet": {"path": "/ready", "port": 5558}}}) == \
        "http://127.0.0.1:5558/ready"
    assert pods._readiness_url({}) is None


def test_https_probes_trust_only_the_published_project_ca():
    assert pods._probe_context(KUBE, "http://127.0.0.1:1/x") is None
    try:
        pods._probe_context(KUBE, "https://127.0.0.1:1/x")
    except pods.ssl.SSLError as e:
        assert "not published" in str(e)
    else:
        raise AssertionError("an HTTPS probe without the project's CA must not pass")


def test_nested_volumes_mount_after_their_parent_and_a_volume_hiding_what_the_process_needs_is_left_out():
    mounts = [("s/tmp", "/tmp"), ("s/tls", "/etc/dexauth/account/tls"), ("s/cfg", "/etc/dexauth/account"),
              ("s/sa", "/var/run/secrets/kubernetes.io/serviceaccount")]
    kept, left_out = pods.mount_plan(mounts, ["/tmp/dxl-1/var/pods/p", "/tmp/checkout/bin/authctl"])
    assert [t for _, t in kept] == ["/etc/dexauth/account", "/etc/dexauth/account/tls",
                                    "/var/run/secrets/kubernetes.io/serviceaccount"]
    assert left_out == [("s/tmp", "/tmp")]
    # A lab and checkout outside /tmp: /tmp hides nothing and is mounted among the others.
    kept, left_out = pods.mount_plan(mounts, ["/work/.lab/var/pods/p", "/work/repo/bin/authctl"])
    assert [t for _, t in kept][-1] == "/var/run/secrets/kubernetes.io/serviceaccount" and not left_out
    assert "/tmp" in [t for _, t in kept]
