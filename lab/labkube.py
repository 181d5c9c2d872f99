"""A small Kubernetes REST client for the lab tooling (admin client certificate, verified TLS)."""
import json
import ssl
import urllib.error
import urllib.request
from pathlib import Path

import yaml


def write_kubeconfig(path, server, ca, cert, key, user="lab-admin"):
    cfg = {
        "apiVersion": "v1", "kind": "Config", "current-context": "lab",
        "clusters": [{"name": "lab", "cluster": {"server": server, "certificate-authority": str(ca)}}],
        "users": [{"name": user, "user": {"client-certificate": str(cert), "client-key": str(key)}}],
        "contexts": [{"name": "lab", "context": {"cluster": "lab", "user": user}}],
    }
    path = Path(path)
    path.write_text(yaml.safe_dump(cfg))
    path.chmod(0o600)


class Client:
    def __init__(self, server, ca, cert=None, key=None, token=None):
        self.server = server.rstrip("/")
        self.ctx = ssl.create_default_context(cafile=str(ca))
        if cert:
            self.ctx.load_cert_chain(str(cert), str(key))
        self.token = token

    @classmethod
    def from_lab(cls, lab):
        ports = lab.ports()
        return cls(f"https://127.0.0.1:{ports['apiserver']}", lab.pki / "ca.crt",
                   lab.pki / "admin.crt", lab.pki / "admin.key")

    def request(self, method, path, body=None, raw=False, timeout=10, content_type="application/json"):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.server + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", content_type)
        if self.token:
            req.add_header("Authorization", f"Bearer {self.token}")
        with urllib.request.urlopen(req, context=self.ctx, timeout=timeout) as resp:
            text = resp.read().decode()
        return text if raw else json.loads(text)

    def get(self, path, raw=False):
        return self.request("GET", path, raw=raw)

    def get_or_none(self, path):
        try:
            return self.get(path)
        except urllib.error.HTTPError as e:
            if e.code == 404:
                return None
            raise

    def post(self, path, body):
        return self.request("POST", path, body)
