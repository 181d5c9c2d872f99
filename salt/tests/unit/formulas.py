"""Renders SLS files with Salt's own renderers and state compiler, as a minion would, from
local file roots and a fixture pillar: no master, no minion process, no engine call.

Modelled on MetalK8s' salt/tests/unit/formulas (every template rendered against fixture
contexts); here the real Salt loader renders them (jinja|yaml, includes, map.jinja's
pillar.get merge, the orchestration macros), so what renders here renders on a node.
"""
import copy
import pathlib
import tempfile

SALT_DIR = pathlib.Path(__file__).resolve().parents[2]
REPO = SALT_DIR.parent
LAB_SALT_DIR = REPO / "lab" / "salt"
ROOTS = (SALT_DIR, LAB_SALT_DIR)

# Fixture pillars (test case id -> pillar). Each SLS must render with each of them.
ISSUER = "https://10.0.0.10:8443/oidc"
PILLARS = {
    "minimal": {"dexauth": {"issuer": ISSUER}},
    "purge": {"dexauth": {"issuer": ISSUER, "remove": {"purge": True}}},
    "custom": {"dexauth": {
        "issuer": ISSUER, "cluster_name": "prod", "namespace": "auth",
        "certificates": {"base_dir": "/srv/dexauth", "ip_sans": ["10.0.0.10"], "dns_sans": ["dex.example.com"]},
        "chart": {"release": "auth"},
        "ingress": {"hosts": ["dex.example.com"]},
        "idps": {"corp": {"type": "ldap", "host": "ldap.example.com:636"}},
        "salt_api": {"url": "https://127.0.0.1:8000"},
        "branding": {"product_name": "Acme cluster"},
    }},
    "admin_uis": {"dexauth": {
        "issuer": ISSUER,
        "admin_uis": [
            {"name": "grafana", "path": "/grafana", "namespace": "monitoring",
             "service": {"name": "grafana", "port": 80}, "mode": "oidc", "app": "grafana"},
            {"name": "prometheus", "path": "/prometheus", "namespace": "monitoring",
             "service": {"name": "prometheus", "port": 9090}, "mode": "forward-auth"},
        ],
    }},
}
LAB_PILLAR = {"lab": {"root": "/tmp/lab", "repo": str(REPO), "ports": {"apiserver": 6443, "etcd_client": 2379},
                      "binaries": {"kube-apiserver": "/bin/kube-apiserver", "etcd": "/bin/etcd"}}}


def sls_names():
    """Every SLS under the file roots, as Salt names them (dir/init.sls is dir)."""
    names = []
    for root in ROOTS:
        for path in sorted(root.rglob("*.sls")):
            rel = path.relative_to(root)
            if rel.parts[0] in ("tests", "_modules", "_states"):
                continue
            parts = list(rel.with_suffix("").parts)
            if parts[-1] == "init":
                parts.pop()
            names.append(".".join(parts))
    return names


class Renderer:
    """A minimal masterless minion configuration; one per test session (the loader is slow)."""

    def __init__(self):
        import salt.config  # noqa: WPS433 - Salt is only needed by these tests

        self.tmp = pathlib.Path(tempfile.mkdtemp(prefix="dexauth-render-"))
        opts = salt.config.minion_config(None)
        opts.update({
            "id": "bootstrap", "file_client": "local", "master_type": "disable",
            "file_roots": {"base": [str(root) for root in ROOTS]}, "pillar_roots": {"base": []},
            "module_dirs": [str(SALT_DIR / "_modules")], "states_dirs": [str(SALT_DIR / "_states")],
            "cachedir": str(self.tmp / "cache"), "extension_modules": str(self.tmp / "extmods"),
            "pki_dir": str(self.tmp / "pki"), "sock_dir": str(self.tmp / "sock"),
            "log_file": str(self.tmp / "minion.log"), "conf_file": str(self.tmp / "minion"),
            "state_events": False,
            "grains": {"id": "bootstrap", "dexauth_roles": ["bootstrap", "control-plane"]},
        })
        self.opts = opts

    def remove(self):
        """Leave nothing in /tmp after the session."""
        import shutil
        shutil.rmtree(self.tmp, ignore_errors=True)

    def render(self, sls, pillar, roles=("bootstrap", "control-plane")):
        """(high data, errors, state functions known to the loader) of one SLS, on a minion
        with these dexauth_roles grains."""
        import salt.state

        opts = copy.deepcopy(self.opts)
        opts["pillar"] = copy.deepcopy(pillar)
        opts["grains"]["dexauth_roles"] = list(roles)
        highstate = salt.state.HighState(opts, initial_pillar=opts["pillar"])
        try:
            high, errors = highstate.render_highstate({"base": [sls]})
            errors = list(errors) + list(highstate.state.verify_high(high))
            return high, errors, highstate.state.states
        finally:
            highstate.destroy()
