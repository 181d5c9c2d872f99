"""End to end, issue 13 items 1 and 9: nobody but Dex answers for the issuer, and kube-apiserver
changes roll one node at a time, with the pillar the orchestration validated.

Item 1: Solution Admins cannot publish anything on the control-plane ingress class nor give a
Service external IPs (a ValidatingAdmissionPolicy), while their ordinary Ingresses and Services still
work; kube-apiserver fetches Dex's discovery over Dex's Service.
Item 9: a pillar issuer that is kube-apiserver's own service-account issuer is refused before any
change; pillar given on the salt-run command line reaches the minions; an unhealthy kube-apiserver
gets its previous configuration back and the orchestration fails with the cause.
"""
import json
import ssl
import urllib.parse
import urllib.request

import pytest

import dexlab
from support import wait_until
from test_hardening import CHANGED, DEV, NS, VIEWER, kubectl_json, lab_up, token  # noqa: F401 - lab_up is a fixture

SOLUTION_NS = "sol-issuer"


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


def whoami(lab, id_token):
    r = lab.kubectl("auth", "whoami", "-o", "json", token=id_token)
    return json.loads(r.stdout)["status"]["userInfo"]["username"] if r.returncode == 0 else None


def login_page_html(lab):
    """Dex's login page as a browser gets it (redirects followed), verified with Dex's CA."""
    issuer = dexlab.pillar(lab)["issuer"]
    query = urllib.parse.urlencode({"client_id": "authctl", "redirect_uri": dexlab.CLI_REDIRECT,
                                    "response_type": "code", "scope": "openid", "state": "issuer-path"})
    ctx = ssl.create_default_context(cafile=str(dexlab.ca_file(lab)))
    with urllib.request.urlopen(f"{issuer}/auth?{query}", context=ctx, timeout=30) as resp:
        return resp.read().decode()


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
    dex_config = kubectl_json(lab, "-n", NS, "get", "secret", "dex-config")["metadata"]["resourceVersion"]

    ok, states, _ = dexlab.orchestrate(lab, "dexauth.orchestrate.deploy",
                                       cli_pillar({"issuer": "https://kubernetes.default.svc"}))

    assert not ok
    refused = step(states, "The dexauth pillar is valid")
    assert refused["result"] is False
    assert "dexauth:issuer" in refused["comment"] and "service-account issuer" in refused["comment"], refused
    assert not any(isinstance(s, dict) and s.get("__id__") == "Dex is deployed" and s.get("changes")
                   for s in states.values())
    assert authentication_config(lab) == before
    assert kubectl_json(lab, "-n", NS, "get", "secret", "dex-config")["metadata"]["resourceVersion"] == dex_config
    assert whoami(lab, token(lab, VIEWER, CHANGED[VIEWER])) == "oidc:" + VIEWER


def test_pillar_on_the_salt_run_command_line_is_what_the_nodes_apply(restored):
    lab = restored
    product = "Issuer Path Lab " + "7f3a"
    assert product not in login_page_html(lab)

    ok, states, _ = dexlab.orchestrate(lab, "dexauth.orchestrate.deploy",
                                       cli_pillar({"branding": {"product_name": product}}))

    assert ok, dexlab.failures(states)
    wait_until(lambda: product in login_page_html(lab), timeout=120, what="Dex's login page with the new name")


def test_an_unhealthy_kube_apiserver_gets_its_previous_configuration_back_and_the_run_fails(restored):
    lab = restored
    before = authentication_config(lab)
    issuer = urllib.parse.urlsplit(dexlab.pillar(lab)["issuer"])
    # The fault: an issuer on an address where nothing listens, so kube-apiserver cannot reach Dex.
    unreachable = f"https://127.0.0.2:{issuer.port}{issuer.path}"

    ok, states, _ = dexlab.orchestrate(lab, "dexauth.orchestrate.deploy", cli_pillar({"issuer": unreachable}))

    assert not ok
    rolled = step(states, "kube-apiserver trusts Dex on every control-plane node, one node at a time")
    assert rolled["result"] is False
    cause = " ".join(node_comments(rolled))
    assert "unhealthy after the change" in cause and "previous configuration is restored" in cause, cause
    assert authentication_config(lab) == before
    kept = lab.root / "etc" / "kubernetes" / "dexauth" / "previous" / "authentication-config.yaml"
    assert kept.read_text() == before
    assert not any(isinstance(s, dict) and s.get("__id__") == "The super-admin exists" and s.get("result")
                   for s in states.values())
