"""End to end, issue 13 items 1 and 9: nobody but Dex answers for the issuer, and kube-apiserver
changes roll one node at a time, with the pillar the orchestration validated.

Item 1: Solution Admins cannot publish anything on the control-plane ingress class nor give a
Service external IPs (a ValidatingAdmissionPolicy), while their ordinary Ingresses and Services still
work; kube-apiserver fetches Dex's discovery, and from it Dex's keys, over Dex's Service.
Item 9: a pillar issuer that is kube-apiserver's own service-account issuer is refused before any
change; pillar given on the salt-run command line reaches the minions; an unhealthy kube-apiserver
gets its previous configuration back and the orchestration fails with the cause; a node is healthy
only once it accepts a real Dex token, of a reserved probe account that no lockout blocks and no
person can use.
"""
import base64
import contextlib
import http.server
import json
import ssl
import threading
import urllib.parse
import urllib.request

import pytest

import dexlab
from support import TestCA, wait_until
from test_hardening import CHANGED, DEV, NS, VIEWER, ctl, kubectl_json, lab_up, token  # noqa: F401 - lab_up is a fixture

SOLUTION_NS = "sol-issuer"
APISERVER_STEP = "kube-apiserver trusts Dex on every control-plane node, one node at a time"
PROBE = "apiserver-probe@dexauth.invalid"
PROBE_STATE = "The kube-apiserver health check has its probe account"
PROBE_SECRET = "dexauth-apiserver-probe"


def cli_pillar(dexauth):
    """The salt-run argument that passes ``dexauth`` as command-line pillar."""
    return "pillar=" + json.dumps({"dexauth": dexauth})


def authentication_config(lab):
    return (lab.root / "etc" / "kubernetes" / "dexauth" / "authentication-config.yaml").read_text()


def step(states, name):
    return next(s for s in states.values() if isinstance(s, dict) and s.get("__id__") == name)


def node_comments(state):
    """Every minion state comment under one orchestration step."""
    ret = (state.get("changes") or {}).get("ret") or {}
    return [v.get("comment", "") for minion in ret.values() if isinstance(minion, dict)
            for v in minion.values() if isinstance(v, dict)]


def config_file(lab):
    return lab.root / "etc" / "kubernetes" / "dexauth" / "authentication-config.yaml"


def lose_the_node_configuration(lab):
    """The node's authentication file removed by hand: kube-apiserver keeps the configuration it loaded
    (an unreadable file is refused), the next run writes the file again, so the node is checked."""
    config_file(lab).unlink()


def probe_password(lab):
    secret = kubectl_json(lab, "-n", NS, "get", "secret", PROBE_SECRET)
    return base64.b64decode(secret["data"]["password"]).decode()


def probe_changes(states):
    """What the probe account's state of the bootstrap node's step changed ({} when nothing: Salt then
    reports the step without its states)."""
    dex_step = step(states, "Dex is deployed")
    assert dex_step["result"] is True, dex_step
    ret = (dex_step.get("changes") or {}).get("ret") or {}
    found = [v for minion in ret.values() if isinstance(minion, dict) for v in minion.values()
             if isinstance(v, dict) and v.get("__id__") == PROBE_STATE]
    assert len(found) <= 1 and all(v["result"] is True for v in found), found
    return found[0]["changes"] if found else {}


def whoami(lab, id_token):
    r = lab.kubectl("auth", "whoami", "-o", "json", token=id_token)
    return json.loads(r.stdout)["status"]["userInfo"]["username"] if r.returncode == 0 else None


def get_json(url, lab):
    """A JSON document from Dex, verified with Dex's CA."""
    ctx = ssl.create_default_context(cafile=str(dexlab.ca_file(lab)))
    with urllib.request.urlopen(url, context=ctx, timeout=30) as resp:
        return json.loads(resp.read())


def login_page_html(lab):
    """Dex's login page as a browser gets it (redirects followed), verified with Dex's CA."""
    issuer = dexlab.pillar(lab)["issuer"]
    query = urllib.parse.urlencode({"client_id": "authctl", "redirect_uri": dexlab.CLI_REDIRECT,
                                    "response_type": "code", "scope": "openid", "state": "issuer-path"})
    ctx = ssl.create_default_context(cafile=str(dexlab.ca_file(lab)))
    with urllib.request.urlopen(f"{issuer}/auth?{query}", context=ctx, timeout=30) as resp:
        return resp.read().decode()


@contextlib.contextmanager
def another_identity_provider(lab, address):
    """An OIDC provider that is not Dex at ``address`` (on the issuer's port): it names the same issuer
    and has a certificate of Dex's CA (say the Dex of an earlier install), but keys of its own."""
    from cryptography.hazmat.primitives.asymmetric import rsa
    issuer = dexlab.pillar(lab)["issuer"]
    parts = urllib.parse.urlsplit(issuer)
    here = f"https://{address}:{parts.port}{parts.path}"
    numbers = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key().public_numbers()

    def b64(n):
        return base64.urlsafe_b64encode(n.to_bytes((n.bit_length() + 7) // 8, "big")).rstrip(b"=").decode()
    documents = {
        f"{parts.path}/.well-known/openid-configuration": {
            "issuer": issuer, "jwks_uri": f"{here}/keys", "authorization_endpoint": f"{here}/auth",
            "token_endpoint": f"{here}/token", "response_types_supported": ["code"],
            "subject_types_supported": ["public"], "id_token_signing_alg_values_supported": ["RS256"]},
        f"{parts.path}/keys": {"keys": [{"kty": "RSA", "use": "sig", "alg": "RS256", "kid": "not-dex",
                                         "n": b64(numbers.n), "e": b64(numbers.e)}]},
    }

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            body = json.dumps(documents[self.path]).encode() if self.path in documents else b"{}"
            self.send_response(200 if self.path in documents else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    ca_cert = dexlab.ca_file(lab)
    ca = TestCA.existing(ca_cert, ca_cert.parent / "ca.key")
    cert, key = ca.issue(lab.root / "other-idp", "other-idp", ip_sans=(address,), dns_sans=())
    server = http.server.ThreadingHTTPServer((address, parts.port), Handler)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield here
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def restored(lab_up):
    """The lab as the lab pillar says at the end, whatever a test did through command-line pillar."""
    yield lab_up
    ok, states, _ = dexlab.orchestrate(lab_up)
    assert ok, dexlab.failures(states)
    wait_until(lambda: whoami(lab_up, token(lab_up, VIEWER, CHANGED[VIEWER])) == "oidc:" + VIEWER, timeout=150,
               what="the viewer's token accepted again")


# ------------------------------------------------------------------ item 9

def test_the_service_account_issuer_as_pillar_issuer_is_refused_before_any_change(lab_up):
    lab = lab_up
    before = authentication_config(lab)
    dex_config = dexlab.dex_config_secret(lab, NS)

    ok, states, _ = dexlab.orchestrate(lab, "dexauth.orchestrate.deploy",
                                       cli_pillar({"issuer": "https://kubernetes.default.svc"}))

    assert not ok
    refused = step(states, "The dexauth pillar is valid")
    assert refused["result"] is False
    assert "dexauth:issuer" in refused["comment"] and "service-account issuer" in refused["comment"], refused
    assert not any(isinstance(s, dict) and s.get("__id__") == "Dex is deployed" and s.get("changes")
                   for s in states.values())
    assert authentication_config(lab) == before
    assert dexlab.dex_config_secret(lab, NS) == dex_config
    assert whoami(lab, token(lab, VIEWER, CHANGED[VIEWER])) == "oidc:" + VIEWER


def test_pillar_on_the_salt_run_command_line_is_what_the_nodes_apply(restored):
    lab = restored
    product = "Issuer Path Lab " + "7f3a"
    assert product not in login_page_html(lab)

    ok, states, _ = dexlab.orchestrate(lab, "dexauth.orchestrate.deploy",
                                       cli_pillar({"branding": {"product_name": product}}))

    assert ok, dexlab.failures(states)
    wait_until(lambda: product in login_page_html(lab), timeout=120, what="Dex's login page with the new name")


def test_a_node_is_healthy_once_it_accepts_a_dex_token_of_the_probe_account(lab_up):
    lab = lab_up
    lose_the_node_configuration(lab)
    # The probe's Secret lost too: the bootstrap node sets a new password before any node is checked.
    assert lab.kubectl("-n", NS, "delete", "secret", PROBE_SECRET).returncode == 0

    ok, states, _ = dexlab.orchestrate(lab)

    assert ok, dexlab.failures(states)
    assert list(probe_changes(states)) == [f"user/{PROBE}"], probe_changes(states)
    password = probe_password(lab)
    assert password not in json.dumps(states)
    checked = " ".join(node_comments(step(states, APISERVER_STEP)))
    assert "authentication-config.yaml: written" in checked, checked
    assert f"accepted a Dex token of the probe account as oidc:{PROBE}" in checked, checked
    # The account holds no role anywhere, and a re-run changes nothing (the probe account included).
    assert PROBE not in lab.kubectl("get", "clusterrolebindings,rolebindings", "-A", "-o", "json").stdout
    ok, states, _ = dexlab.orchestrate(lab)
    assert ok, dexlab.failures(states)
    assert probe_changes(states) == {}
    assert PROBE_STATE not in dexlab.changed_states(states)
    assert probe_password(lab) == password


def test_a_locked_out_probe_account_does_not_block_a_kube_apiserver_change(lab_up):
    lab = lab_up
    answers = [dexlab.password_grant(lab, PROBE, f"wrong-{i}") for i in range(50)]
    assert {s for s, _ in answers} <= {401, 429}, answers
    status, body = dexlab.password_grant(lab, PROBE, probe_password(lab))
    assert status == 429 and body.get("dexauth_reason") == "account_locked", (status, body)
    lose_the_node_configuration(lab)

    ok, states, _ = dexlab.orchestrate(lab)

    assert ok, dexlab.failures(states)
    checked = " ".join(node_comments(step(states, APISERVER_STEP)))
    assert f"accepted a Dex token of the probe account as oidc:{PROBE}" in checked, checked
    assert dexlab.password_grant(lab, PROBE, probe_password(lab))[0] == 200


def test_a_node_that_fetches_keys_but_refuses_dex_tokens_gets_its_previous_configuration_back(restored):
    lab = restored
    before = authentication_config(lab)
    # The fault: pillar dex:service_ip names an address where another OIDC provider answers (same issuer
    # name, a certificate of Dex's CA, keys of its own). kube-apiserver loads the configuration and fetches
    # keys from there without error, but no token Dex signs verifies: only a real token shows it.
    with another_identity_provider(lab, "127.96.0.77"):
        ok, states, _ = dexlab.orchestrate(lab, "dexauth.orchestrate.deploy",
                                           cli_pillar({"dex": {"service_ip": "127.96.0.77"}}))

    assert not ok
    rolled = step(states, APISERVER_STEP)
    assert rolled["result"] is False
    cause = " ".join(node_comments(rolled))
    assert "refused Dex's token of the probe account (TokenReview:" in cause, cause
    assert "could not fetch Dex's keys" not in cause, cause
    assert "unhealthy after the change" in cause and "previous configuration is restored" in cause, cause
    assert authentication_config(lab) == before
    kept = lab.root / "etc" / "kubernetes" / "dexauth" / "previous" / "authentication-config.yaml"
    assert kept.read_text() == before
    assert not any(isinstance(s, dict) and s.get("__id__") == "The super-admin exists" and s.get("result")
                   for s in states.values())


def test_the_probe_account_is_nobodys_to_add_or_see(lab_up):
    lab = lab_up
    r = ctl(lab, "user", "add", PROBE, "--role", "cluster-admin", "--password-stdin", stdin="Velvet-Thunder-5521\n")
    assert r.returncode == 2, r.stdout + r.stderr
    assert "reserved for the kube-apiserver health check" in r.stderr, r.stderr
    for args in (["user", "delete", PROBE], ["role", "grant", PROBE, "read-only"]):
        r = ctl(lab, *args)
        assert r.returncode == 2 and "reserved for the kube-apiserver health check" in r.stderr, r.stdout + r.stderr
    listed = ctl(lab, "user", "list", "-o", "json")
    assert listed.returncode == 0, listed.stderr
    assert PROBE not in listed.stdout
    # Still Dex's: its password unchanged.
    assert dexlab.password_grant(lab, PROBE, probe_password(lab))[0] == 200


# ------------------------------------------------------------------ item 1

def test_kube_apiserver_fetches_discovery_and_keys_from_dex_over_its_service(restored):
    lab = restored
    service_ip = kubectl_json(lab, "-n", NS, "get", "service", "dex")["spec"]["clusterIP"]
    issuer = urllib.parse.urlsplit(dexlab.pillar(lab)["issuer"])
    assert f"discoveryURL: \"https://{service_ip}:{issuer.port}{issuer.path}/.well-known/openid-configuration\"" \
        in authentication_config(lab)
    assert whoami(lab, token(lab, VIEWER, CHANGED[VIEWER])) == "oidc:" + VIEWER

    # The document kube-apiserver reads over the Service names Dex's keys at the Service too, so the
    # keys never come through whatever answers for the issuer's host; clients of the issuer keep theirs.
    at_service = f"https://{service_ip}:{issuer.port}{issuer.path}"
    seen_by_apiserver = get_json(at_service + "/.well-known/openid-configuration", lab)
    assert seen_by_apiserver["issuer"] == dexlab.pillar(lab)["issuer"]
    assert seen_by_apiserver["jwks_uri"] == at_service + "/keys"
    public = get_json(dexlab.pillar(lab)["issuer"] + "/.well-known/openid-configuration", lab)
    assert public["jwks_uri"] == dexlab.pillar(lab)["issuer"] + "/keys"
    assert get_json(seen_by_apiserver["jwks_uri"], lab) == get_json(public["jwks_uri"], lab)

    # Dex's Service moved to an address this node cannot reach (the lab's kube-proxy serves only its
    # loopback range), the issuer itself untouched: kube-apiserver, which fetches discovery over the
    # Service and nowhere else, cannot use the new configuration, so the node keeps its previous one.
    before = authentication_config(lab)
    ok, states, _ = dexlab.orchestrate(lab, "dexauth.orchestrate.deploy", cli_pillar({"dex": {"service_ip": "10.96.0.77"}}))

    assert not ok
    cause = " ".join(node_comments(step(states, "kube-apiserver trusts Dex on every control-plane node, one node at a time")))
    assert "previous configuration is restored" in cause, cause
    assert authentication_config(lab) == before


def apply_as(lab, obj, id_token=None):
    path = lab.root / f"issuer-path-{obj['kind'].lower()}-{obj['metadata']['name']}.json"
    path.write_text(json.dumps(obj))
    return lab.kubectl("apply", "-f", str(path), token=id_token)


def ingress(name, ingress_class=None, annotation_class=None):
    obj = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
           "metadata": {"name": name, "namespace": SOLUTION_NS},
           "spec": {"rules": [{"http": {"paths": [{"path": "/oidc/keys", "pathType": "Prefix", "backend": {
               "service": {"name": "shop", "port": {"number": 443}}}}]}}]}}
    if ingress_class:
        obj["spec"]["ingressClassName"] = ingress_class
    if annotation_class:
        obj["metadata"]["annotations"] = {"kubernetes.io/ingress.class": annotation_class}
    return obj


def service(name, external_ips=None):
    obj = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": SOLUTION_NS},
           "spec": {"selector": {"app": name}, "ports": [{"port": 443, "targetPort": 8443}]}}
    if external_ips:
        obj["spec"]["externalIPs"] = external_ips
    return obj


@pytest.fixture
def solution_admin(lab_up):
    """DEV's token, once DEV is Solution Admin in SOLUTION_NS (a labelled namespace)."""
    lab = lab_up
    lab.kubectl("create", "namespace", SOLUTION_NS)
    assert lab.kubectl("label", "namespace", SOLUTION_NS, "dexauth.io/solution=true", "--overwrite").returncode == 0
    dev = token(lab, DEV, CHANGED[DEV])
    dexlab.apply_roles_state(lab)  # what the schedule does, now
    wait_until(lambda: lab.kubectl("auth", "can-i", "create", "services", "-n", SOLUTION_NS,
                                   token=dev).stdout.strip() == "yes",
               timeout=60, what=f"{DEV} Solution Admin in {SOLUTION_NS}")
    yield dev
    lab.kubectl("delete", "namespace", SOLUTION_NS, "--wait=false")


def test_solution_admins_cannot_publish_on_the_control_plane_class_nor_take_external_ips(lab_up, solution_admin):
    lab, dev = lab_up, solution_admin
    control_plane = kubectl_json(lab, "-n", NS, "get", "ingress", "dex")["spec"]["ingressClassName"]

    for attempt in (ingress("steal-keys", ingress_class=control_plane),
                    ingress("steal-keys-legacy", annotation_class=control_plane)):
        r = apply_as(lab, attempt, dev)
        assert r.returncode != 0, f"{attempt['metadata']['name']} was created"
        assert "reserved to Cluster Admins" in r.stderr, r.stderr
    r = apply_as(lab, service("capture", external_ips=["10.0.0.10"]), dev)
    assert r.returncode != 0 and "externalIPs is reserved to Cluster Admins" in r.stderr, r.stdout + r.stderr
    endpoints = {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "shop", "namespace": SOLUTION_NS},
                 "subsets": [{"addresses": [{"ip": "10.0.0.11"}], "ports": [{"port": 8443}]}]}
    r = apply_as(lab, endpoints, dev)
    assert r.returncode != 0 and "forbidden" in r.stderr.lower(), r.stdout + r.stderr
    # An existing ordinary Ingress cannot be moved onto the control-plane class either.
    assert apply_as(lab, ingress("shop", ingress_class="nginx"), dev).returncode == 0
    r = apply_as(lab, ingress("shop", ingress_class=control_plane), dev)
    assert r.returncode != 0 and "reserved to Cluster Admins" in r.stderr, r.stderr

    # Their ordinary work still goes through, and tokens still log in.
    assert apply_as(lab, service("shop"), dev).returncode == 0
    assert kubectl_json(lab, "-n", SOLUTION_NS, "get", "ingress", "shop")["spec"]["ingressClassName"] == "nginx"
    assert whoami(lab, token(lab, DEV, CHANGED[DEV])) == "oidc:" + DEV
    # A Cluster Admin still may (the engine's own identity deploys Dex's Ingress the same way).
    assert apply_as(lab, ingress("admin-route", ingress_class=control_plane)).returncode == 0
