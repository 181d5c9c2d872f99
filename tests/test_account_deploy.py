"""End to end: the account service deployed beside Dex by the same orchestration (real Salt,
kube-apiserver, Dex; the lab node's kubelet runs the account pod from its image)."""
import base64
import contextlib
import json
import ssl
import subprocess
import sys
import urllib.parse
import urllib.request

import pytest
import yaml

import dexlab
from labfixture import REPO
from support import LoginFailed, assert_no_secrets, login_via_browser_flow, wait_until
from support.browser_flow import https_session

NS = "dexauth"
NAME = "dex-account"
SA = f"system:serviceaccount:{NS}:{NAME}"
POD = f"deploy-{NS}-{NAME}"


@pytest.fixture(scope="module")
def deployed(lab):
    ok, states, _ = dexlab.orchestrate(lab)
    assert ok, dexlab.failures(states)
    return lab


def console_url(lab):
    """The console's URL as the dexauth.cli state wrote it into authctl's configuration."""
    return yaml.safe_load((lab.root / "authctl.yaml").read_text())["account"]["url"]


def health(lab):
    """Status of <console>/healthz, the certificate verified with the project's CA only."""
    ctx = ssl.create_default_context(cafile=str(dexlab.ca_file(lab)))
    try:
        with urllib.request.urlopen(console_url(lab) + "/healthz", context=ctx, timeout=5) as resp:
            return resp.status
    except OSError:
        return None


def kube_json(lab, *args):
    r = lab.kubectl(*args, "-o", "json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def service_yaml(lab):
    cm = kube_json(lab, "-n", NS, "get", "configmap", NAME)
    return yaml.safe_load(cm["data"]["service.yaml"])


def console_secret(lab):
    data = kube_json(lab, "-n", NS, "get", "secret", "dex-client-secrets")["data"]
    return base64.b64decode(data["dexauth-console"]).decode()


def dex_config(lab):
    return dexlab.dex_config(lab, NS)


def test_console_answers_over_https_at_its_public_url(deployed):
    ports = deployed.ports
    assert console_url(deployed) == f"https://127.0.0.1:{ports['account_https']}/account"
    assert health(deployed) == 200  # the rollout the state waited for: readiness passed
    assert deployed.pod_pid(POD)


def test_account_objects_are_deployed_beside_dex(deployed):
    for kind in ("deployment", "service", "serviceaccount", "configmap", "ingress", "role", "rolebinding"):
        r = deployed.kubectl("-n", NS, "get", kind, NAME)
        assert r.returncode == 0, f"{kind}: {r.stderr}"
    for kind in ("clusterrole", "clusterrolebinding"):
        assert deployed.kubectl("get", kind, NAME).returncode == 0, kind
    # One replica: no budget (it would block node drains); see templates/account-pdb.yaml.
    assert deployed.kubectl("-n", NS, "get", "pdb", NAME).returncode != 0
    ingress = kube_json(deployed, "-n", NS, "get", "ingress", NAME)
    assert ingress["spec"]["rules"][0]["http"]["paths"][0]["path"] == "/account"
    # Dex's Service does not select the account pods, nor the account Service Dex's.
    dex_sel = kube_json(deployed, "-n", NS, "get", "service", "dex")["spec"]["selector"]
    account_labels = kube_json(deployed, "-n", NS, "get", "deployment", NAME)["spec"]["template"]["metadata"]["labels"]
    assert not dex_sel.items() <= account_labels.items()


@pytest.mark.parametrize("verb, resource, namespace, allowed", [
    ("get", "secrets", NS, False),
    ("list", "secrets", NS, False),
    ("get", "secrets", "kube-system", False),
    ("create", "configmaps", NS, True),
    ("delete", "configmaps", NS, True),
    ("get", "configmaps", "kube-system", False),
    ("create", "events", NS, True),
    ("list", "namespaces", None, True),
    ("delete", "namespaces", None, False),
    ("create", "clusterrolebindings", None, True),
    ("create", "rolebindings", "shop", True),
    ("bind", "clusterroles/cluster-admin", None, True),
    ("bind", "clusterroles/dexauth:read-only", None, True),
    ("bind", "clusterroles/admin", None, False),
    ("escalate", "clusterroles", None, False),
    ("create", "clusterroles", None, False),
    ("delete", "pods", NS, False),
    ("get", "passwords.dex.coreos.com", NS, False),
])
def test_service_account_has_the_least_rights(deployed, verb, resource, namespace, allowed):
    args = ["auth", "can-i", verb, resource, f"--as={SA}"] + (["-n", namespace] if namespace else [])
    r = deployed.kubectl(*args)
    assert r.stdout.strip() == ("yes" if allowed else "no"), (args, r.stdout, r.stderr)


def test_dex_knows_the_console_client_and_the_apiserver_client_trusts_it(deployed):
    clients = {c["id"]: c for c in dex_config(deployed)["staticClients"]}
    console = clients["dexauth-console"]
    assert console["redirectURIs"] == [console_url(deployed) + "/callback"]
    assert console["secretEnv"] == "DEX_CLIENT_SECRET_DEXAUTH_CONSOLE" and "secret" not in console
    assert not console.get("public")
    assert "dexauth-console" in clients["kubernetes"]["trustedPeers"]


def test_dex_completes_a_console_login_with_the_generated_client_secret(deployed):
    """The console client as Dex has it: its redirect URI, and the code exchanged with the secret
    the states generated (what the account service does after a browser login)."""
    email, password = dexlab.pillar(deployed)["superadmin"]["email"], dexlab.superadmin_password(deployed)

    def login():
        try:
            return login_via_browser_flow(dexlab.pillar(deployed)["issuer"], str(dexlab.ca_file(deployed)),
                                          "dexauth-console", console_url(deployed) + "/callback", email, password,
                                          client_secret=console_secret(deployed))
        except LoginFailed as e:
            # Right after kube-apiserver's restart its CRD storage may still answer 429
            # ("storage is (re)initializing"), which Dex shows as an Internal Server Error.
            if "Internal Server Error" in e.message:
                return None
            raise
    tokens = wait_until(login, timeout=60, what="a console login at Dex", retry_on=())
    assert dexlab.claims(tokens["id_token"])["aud"] == "dexauth-console"


def test_console_sends_the_browser_to_dex_as_its_client(deployed):
    with contextlib.ExitStack() as stack:
        resp = https_session(stack, str(dexlab.ca_file(deployed))).get(console_url(deployed) + "/", timeout=30)
    urls = [r.url for r in resp.history] + [resp.url]
    auth = [u for u in urls if u.startswith(dexlab.pillar(deployed)["issuer"] + "/auth")]
    assert auth, urls
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(auth[0]).query)
    assert query["client_id"] == ["dexauth-console"]
    assert query["redirect_uri"] == [console_url(deployed) + "/callback"]
    assert resp.status_code == 200  # Dex's login page: the client and its redirect URI are known


def test_service_config_names_files_and_addresses_only(deployed):
    cfg = service_yaml(deployed)
    ports = deployed.ports
    assert cfg["publicUrl"] == console_url(deployed)
    assert cfg["listen"] == {"address": "127.0.0.1", "port": ports["account_https"]}
    assert cfg["issuer"] == dexlab.pillar(deployed)["issuer"]
    assert cfg["clientId"] == "dexauth-console" and cfg["clientSecretEnv"] == "DEXAUTH_CONSOLE_CLIENT_SECRET"
    assert cfg["audienceClientId"] == "kubernetes" and cfg["kubectlClientId"] == "kubectl"
    assert cfg["cliClientId"] == "authctl"
    assert cfg["dexGrpc"] == {"address": f"127.0.0.1:{ports['dex_grpc']}",
                              "caFile": "/etc/dexauth/account/grpc/ca.crt",
                              "certFile": "/etc/dexauth/account/grpc/tls.crt",
                              "keyFile": "/etc/dexauth/account/grpc/tls.key"}
    assert cfg["dexCaFile"] == "/etc/dexauth/account/dex-ca/ca.crt"
    assert cfg["namespace"] == NS
    assert cfg["session"] == {"idleMinutes": 30, "absoluteMinutes": 720}
    assert cfg["users"] == {"bcryptCost": 10, "passwordMinLength": 12}  # the lab's cost


def test_console_client_secret_is_in_the_client_secrets_secret_and_the_pod_environment_only(deployed):
    secret = console_secret(deployed)
    assert len(secret) >= 32
    # The account process got it from its environment (secretKeyRef), as Dex did.
    pid = deployed.pod_pid(POD)
    assert pid, f"{POD} does not run"
    assert f"DEXAUTH_CONSOLE_CLIENT_SECRET={secret}".encode() in open(f"/proc/{pid}/environ", "rb").read()
    # Nowhere else: not in Salt's returns, logs or job cache, pod files, chart objects or values.
    objects = deployed.kubectl("get", "deployments,configmaps,ingresses,services", "-A", "-o", "yaml").stdout
    assert_no_secrets([secret], [deployed.root / "logs", deployed.root / "var", deployed.root / "authctl.yaml",
                                 deployed.root / "pillar"],
                      texts={"cluster objects": objects},
                      skip=[deployed.root / "var" / "etcd"])


def test_grpc_client_certificate_is_mounted_into_the_account_pod_only(deployed):
    deployments = kube_json(deployed, "get", "deployments", "-A")["items"]
    mounting = [d["metadata"]["name"] for d in deployments
                if any(v.get("secret", {}).get("secretName") == "dex-grpc-client"
                       for v in d["spec"]["template"]["spec"].get("volumes", []))]
    assert mounting == [NAME]
    # And the account pod gets only the CA of Dex's HTTPS Secret, never Dex's key.
    volumes = {v["name"]: v for v in kube_json(deployed, "-n", NS, "get", "deployment", NAME)
               ["spec"]["template"]["spec"]["volumes"]}
    assert volumes["dex-ca"]["secret"]["items"] == [{"key": "ca.crt", "path": "ca.crt"}]


def test_rerun_changes_nothing_and_restarts_neither_pod(deployed):
    before = {n: deployed.pod_pid(n) for n in ("deploy-dexauth-dex", POD)}
    ok, states, _ = dexlab.orchestrate(deployed)
    assert ok, dexlab.failures(states)
    assert dexlab.changed_states(states) == []
    assert {n: deployed.pod_pid(n) for n in before} == before


def test_deleted_account_deployment_is_restored_by_a_rerun(deployed):
    r = deployed.kubectl("-n", NS, "delete", "deployment", NAME, "--wait=true")
    assert r.returncode == 0, r.stderr
    wait_until(lambda: deployed.pod_pid(POD) is None, what="account pod stopped")
    ok, states, _ = dexlab.orchestrate(deployed)
    assert ok, dexlab.failures(states)
    assert "Dex chart is deployed" in dexlab.changed_states(states)
    assert health(deployed) == 200


def test_config_change_rolls_the_account_pod_and_the_state_waits_for_it(deployed):
    old = deployed.pod_pid(POD)
    dexlab.set_overrides(deployed, {"dexauth": {"account": {"session_idle_minutes": 5}}})
    try:
        ok, states, _ = dexlab.orchestrate(deployed)
        assert ok, dexlab.failures(states)
        assert deployed.pod_pid(POD) not in (None, old)
        assert service_yaml(deployed)["session"]["idleMinutes"] == 5
        assert health(deployed) == 200  # rolled out before the state returned
    finally:
        dexlab.set_overrides(deployed, {})
        assert dexlab.orchestrate(deployed)[0]


def test_main_job_prints_the_console_first_and_records_it(deployed):
    r = subprocess.run([sys.executable, str(REPO / "lab" / "main_job.py"), "--root", str(deployed.root)],
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    # The final printout opens with it, before the banner and every other line.
    assert f"\nOpen the console: {console_url(deployed)}\n=====" in r.stdout, r.stdout[-2000:]
    assert r.stdout.index("Open the console:") < r.stdout.index("The lab is up")
    summary = json.loads((deployed.root / "summary.json").read_text())
    assert summary["console_url"] == console_url(deployed)


def test_disabled_account_service_leaves_dex_alone(deployed):
    dexlab.set_overrides(deployed, {"dexauth": {"account": {"enabled": False}}})
    try:
        ok, states, _ = dexlab.orchestrate(deployed)
        assert ok, dexlab.failures(states)
        assert deployed.kubectl("-n", NS, "get", "deployment", NAME).returncode != 0
        wait_until(lambda: deployed.pod_pid(POD) is None, what="account pod stopped")
        clients = {c["id"]: c for c in dex_config(deployed)["staticClients"]}
        assert "dexauth-console" not in clients
        assert "dexauth-console" not in clients["kubernetes"]["trustedPeers"]
        wait_until(lambda: dexlab.superadmin_token(deployed), what="login with the account service disabled")
    finally:
        dexlab.set_overrides(deployed, {})
        ok, states, _ = dexlab.orchestrate(deployed)
        assert ok, dexlab.failures(states)
    assert health(deployed) == 200


def test_removal_removes_the_account_service_and_keeps_its_client_secret(deployed):
    secret = console_secret(deployed)
    ok, states, _ = dexlab.orchestrate(deployed, "dexauth.orchestrate.remove")
    assert ok, dexlab.failures(states)
    wait_until(lambda: deployed.pod_pid(POD) is None, what="account pod stopped")
    for args in (["-n", NS, "get", "deployment,service,serviceaccount,configmap,ingress,role,rolebinding", NAME],
                 ["get", "clusterrole,clusterrolebinding", NAME],
                 ["-n", NS, "get", "secret", "dex-account-tls"]):
        r = deployed.kubectl(*args)
        assert r.returncode != 0 and "NotFound" in r.stderr, (args, r.stdout)
    # The per-cluster client secret is user data: only a purge removes it.
    assert console_secret(deployed) == secret
    ok, states, _ = dexlab.orchestrate(deployed)
    assert ok, dexlab.failures(states)
    assert console_secret(deployed) == secret
    assert health(deployed) == 200
