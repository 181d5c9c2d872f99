"""End to end, Iteration 1: the Dex orchestration on a real lab (real Salt, kube-apiserver, Dex)."""
import json
import socket
import ssl
import time

import pytest

import dexlab
from support import assert_no_secrets, wait_until


@pytest.fixture(scope="module")
def deployed(lab):
    ok, states, _ = dexlab.orchestrate(lab)
    assert ok, json.dumps(states, indent=1)[-3000:]
    return lab


def test_superadmin_must_change_the_bootstrap_password_first(deployed):
    if (deployed.root / "superadmin-password.current").exists():
        # An earlier file of this stream changed it: the break-glass reset gives a one-time
        # password again, which must be changed first just the same.
        dexlab.reset_superadmin(deployed)
    status, body = dexlab.password_grant(deployed, "admin@lab.local", dexlab.initial_password(deployed))
    assert status == 200, body  # Dex accepts it, but it grants nothing yet
    r = deployed.kubectl("get", "namespaces", token=body["id_token"])
    assert r.returncode != 0 and "Forbidden" in r.stderr
    dexlab.superadmin_password(deployed)  # authctl passwd
    assert deployed.kubectl("get", "namespaces", token=dexlab.superadmin_token(deployed)).returncode == 0


def test_superadmin_token_lists_namespaces_with_kubectl(deployed):
    token = dexlab.superadmin_token(deployed)
    c = dexlab.claims(token)
    assert c["iss"] == dexlab.pillar(deployed)["issuer"]
    assert "kubernetes" in c["aud"]
    r = deployed.kubectl("get", "namespaces", "-o", "name", token=token)
    assert r.returncode == 0, r.stderr
    assert "namespace/dexauth" in r.stdout.split()


def test_authctl_token_command_gives_a_working_token(deployed):
    r = deployed.authctl("token", "--email", "admin@lab.local", "--password-stdin",
                         stdin=dexlab.superadmin_password(deployed) + "\n")
    assert r.returncode == 0, r.stderr
    assert deployed.kubectl("auth", "whoami", "-o", "json", token=r.stdout.strip()).returncode == 0


def test_wrong_password_is_refused_by_dex(deployed):
    status, body = dexlab.password_grant(deployed, "admin@lab.local", "not-the-password")
    assert status in (400, 401), body
    assert "id_token" not in body


def test_token_without_apiserver_audience_is_refused(deployed):
    token = dexlab.superadmin_token(deployed, audience=False)
    assert "kubernetes" not in dexlab.claims(token)["aud"]
    r = deployed.kubectl("get", "namespaces", token=token)
    assert r.returncode != 0 and "Unauthorized" in r.stderr


def test_token_signed_by_another_issuer_is_refused(deployed):
    real = dexlab.claims(dexlab.superadmin_token(deployed))
    forged = _forge_token({**real, "iss": "https://127.0.0.1:1/not-dex"})
    assert "Unauthorized" in deployed.kubectl("get", "namespaces", token=forged).stderr
    # Same claims and issuer as Dex, but signed with a key that is not Dex's.
    forged_same_iss = _forge_token(real)
    assert "Unauthorized" in deployed.kubectl("get", "namespaces", token=forged_same_iss).stderr


def _forge_token(claims):
    import base64
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    enc = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=")  # noqa: E731
    signing_input = enc({"alg": "RS256", "kid": "forged"}) + b"." + enc(claims)
    sig = key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    return (signing_input + b"." + base64.urlsafe_b64encode(sig).rstrip(b"=")).decode()


def test_grpc_api_refuses_a_client_without_certificate(deployed):
    port, certs = deployed.ports["dex_grpc"], dexlab.ca_file(deployed).parent
    assert _grpc_answers(port, certs, with_client_cert=True), "control: with the client certificate it works"
    assert not _grpc_answers(port, certs, with_client_cert=False)


def _grpc_answers(port, certs, with_client_cert):
    """True when Dex's gRPC port completes mutual TLS and answers the HTTP/2 preface with SETTINGS."""
    ctx = ssl.create_default_context(cafile=str(certs / "ca.crt"))
    ctx.set_alpn_protocols(["h2"])
    if with_client_cert:
        ctx.load_cert_chain(str(certs / "authctl-client.crt"), str(certs / "authctl-client.key"))
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
            with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                tls.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")
                frame = tls.recv(9)
                return len(frame) == 9 and frame[3] == 0x04
    except (ssl.SSLError, ConnectionError, OSError):
        return False


def test_rerun_changes_nothing_and_restarts_nothing(deployed):
    before = {n: deployed.pod_pid(n) for n in ("kube-apiserver", "deploy-dexauth-dex")}
    ok, states, _ = dexlab.orchestrate(deployed)
    assert ok
    assert dexlab.changed_states(states) == []
    assert {n: deployed.pod_pid(n) for n in before} == before
    dexlab.superadmin_token(deployed)  # the password still works


def test_test_mode_reports_no_changes_when_in_sync(deployed):
    ok, states, _ = dexlab.orchestrate(deployed, "dexauth.orchestrate.deploy", "test=True")
    assert ok
    assert dexlab.changed_states(states) == []


def test_deleted_dex_deployment_is_restored_by_a_rerun(deployed):
    r = deployed.kubectl("-n", "dexauth", "delete", "deployment", "dex", "--wait=true")
    assert r.returncode == 0, r.stderr
    wait_until(lambda: deployed.pod_pid("deploy-dexauth-dex") is None, what="Dex stopped")
    ok, states, _ = dexlab.orchestrate(deployed)
    assert ok
    assert "Dex chart is deployed" in dexlab.changed_states(states)
    wait_until(lambda: dexlab.superadmin_token(deployed), what="super-admin login after restore")


@pytest.mark.parametrize("override, key", [
    ({"dexauth": {"certificates": {"ip_sans": ["127.0.0.1", "10.0.0.300"]}}}, "dexauth:certificates:ip_sans[1]"),
    ({"dexauth": {"issuer": ""}}, "dexauth:issuer"),
    ({"dexauth": {"issuer": "http://127.0.0.1:5556/oidc"}}, "dexauth:issuer"),
])
def test_pillar_error_fails_early_naming_the_key_and_changes_nothing(deployed, override, key):
    certs = dexlab.ca_file(deployed).parent
    before = {f.name: f.stat().st_mtime_ns for f in certs.iterdir()}
    state = deployed.kubectl("-n", "dexauth", "get", "configmap", "dexauth-chart-state", "-o",
                             "jsonpath={.data.checksum}").stdout
    dexlab.set_overrides(deployed, override)
    try:
        ok, states, _ = dexlab.orchestrate(deployed)
    finally:
        dexlab.set_overrides(deployed, {})
    assert not ok
    failed = [s for s in states.values() if isinstance(s, dict) and s.get("result") is False]
    assert failed and failed[0]["__id__"] == "The dexauth pillar is valid"
    assert key in failed[0]["comment"]
    assert {f.name: f.stat().st_mtime_ns for f in certs.iterdir()} == before
    assert deployed.kubectl("-n", "dexauth", "get", "configmap", "dexauth-chart-state", "-o",
                            "jsonpath={.data.checksum}").stdout == state


def test_password_never_in_salt_returns_logs_or_job_cache(deployed):
    # <lab>/var/salt links to Salt's own state (job cache included).
    assert_no_secrets([dexlab.initial_password(deployed), dexlab.superadmin_password(deployed)],
                      [deployed.root / "logs", deployed.root / "var", deployed.root / "var" / "salt"])


def test_expired_token_is_refused(deployed):
    dexlab.set_overrides(deployed, {"dexauth": {"dex": {"id_token_ttl": "3s"}}})
    try:
        old_pid = deployed.pod_pid("deploy-dexauth-dex")
        ok, states, _ = dexlab.orchestrate(deployed)
        assert ok
        deployed.wait_pod_pid_change("deploy-dexauth-dex", old_pid)  # config change rolled Dex
        token = None

        def login():
            nonlocal token
            token = dexlab.superadmin_token(deployed)
            return True
        wait_until(login, what="login after the config change")
        assert deployed.kubectl("get", "namespaces", token=token).returncode == 0
        # kube-apiserver caches a successful authentication for 10 s: wait past both.
        time.sleep(max(0, dexlab.claims(token)["exp"] - time.time()) + 12)
        r = deployed.kubectl("get", "namespaces", token=token)
        assert r.returncode != 0 and "Unauthorized" in r.stderr
    finally:
        dexlab.set_overrides(deployed, {})
        assert dexlab.orchestrate(deployed)[0]


def test_removal_keeps_users_and_redeploy_restores_login(deployed):
    """The removal stops kube-apiserver trusting Dex by rewriting its authentication file (re-read,
    no restart); the redeployment trusts Dex again the same way."""
    token = dexlab.superadmin_token(deployed)
    assert token and deployed.kubectl("get", "ns", token=token).returncode == 0
    apiserver = deployed.pod_pid("kube-apiserver")
    manifest = (deployed.lab.manifests / "kube-apiserver.yaml").read_text()
    ok, states, _ = dexlab.orchestrate(deployed, "dexauth.orchestrate.remove")
    assert ok, dexlab.failures(states)
    wait_until(lambda: deployed.pod_pid("deploy-dexauth-dex") is None, what="Dex stopped")
    # A token Dex issued before is refused at once (past kube-apiserver's 10 s cache of a success).
    wait_until(lambda: "Unauthorized" in deployed.kubectl("get", "ns", token=token).stderr, timeout=60,
               what="the super-admin's token refused after the removal")
    assert (deployed.lab.manifests / "kube-apiserver.yaml").read_text() == manifest
    authn = deployed.root / "etc" / "kubernetes" / "dexauth" / "authentication-config.yaml"
    assert "jwt: []" in authn.read_text() and "certificateAuthority" not in authn.read_text()
    assert deployed.kubectl("-n", "dexauth", "get", "secret", "dex-https-tls").returncode != 0
    # User data stays: Dex's password objects and the client secrets.
    assert "admin" in deployed.kubectl("-n", "dexauth", "get", "passwords.dex.coreos.com", "-o", "yaml").stdout
    assert deployed.kubectl("-n", "dexauth", "get", "secret", "dex-client-secrets").returncode == 0
    ok, states, _ = dexlab.orchestrate(deployed)
    assert ok, states
    wait_until(lambda: dexlab.superadmin_token(deployed), what="super-admin login after redeploy")
    token = dexlab.superadmin_token(deployed)
    wait_until(lambda: deployed.kubectl("get", "ns", token=token).returncode == 0, what="kubectl after redeploy")
    assert deployed.pod_pid("kube-apiserver") == apiserver, "kube-apiserver restarted for the removal or redeploy"


def test_release_named_without_dex_deploys_logs_in_and_reruns_quietly(deployed):
    """Pillar dexauth:chart:release `auth`: the chart names its objects auth-dex, and the engine
    waits for and checks those (not objects named `auth` the chart never creates)."""
    ok, states, _ = dexlab.orchestrate(deployed, "dexauth.orchestrate.remove")
    assert ok, dexlab.failures(states)
    wait_until(lambda: deployed.pod_pid("deploy-dexauth-dex") is None, what="Dex stopped")
    dexlab.set_overrides(deployed, {"dexauth": {"chart": {"release": "auth"}}})
    try:
        ok, states, _ = dexlab.orchestrate(deployed)
        assert ok, json.dumps(states, indent=1)[-3000:]
        r = deployed.kubectl("-n", "dexauth", "get", "deployment,service", "-l", "app.kubernetes.io/instance=auth",
                             "-o", "name")
        assert sorted(r.stdout.split()) == ["deployment.apps/auth-dex", "deployment.apps/auth-dex-account",
                                            "service/auth-dex", "service/auth-dex-account"], r.stdout + r.stderr
        wait_until(lambda: dexlab.superadmin_token(deployed), what="super-admin login through release auth")
        ok, states, _ = dexlab.orchestrate(deployed)
        assert ok, states
        assert dexlab.changed_states(states) == []
    finally:
        ok, states, _ = dexlab.orchestrate(deployed, "dexauth.orchestrate.remove")
        dexlab.set_overrides(deployed, {})
        assert ok, states
        wait_until(lambda: deployed.pod_pid("deploy-dexauth-auth-dex") is None, what="Dex of release auth stopped")
        wait_until(lambda: deployed.pod_pid("deploy-dexauth-auth-dex-account") is None,
                   what="account service of release auth stopped")
        assert dexlab.orchestrate(deployed)[0]
