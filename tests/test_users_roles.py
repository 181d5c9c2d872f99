"""End to end, Iteration 4: local users and the three roles, with real tokens against kube-apiserver."""
import json
import os

import pytest

import dexlab
from support import assert_no_secrets, wait_until

PW = {  # test users' passwords (policy-compliant); never passed on a command line
    "ops@example.com": "Orbit-Lantern-4411",
    "dev@example.com": "Quartz-Meadow-9032",
    "viewer@example.com": "Copper-Harbor-7265",
}
CHANGED = {email: pw + "-new" for email, pw in PW.items()}


@pytest.fixture(scope="module")
def admin(lab):
    """Deployed lab, super-admin's password changed, operator logged in as the super-admin."""
    ok, states, _ = dexlab.orchestrate(lab)
    assert ok, json.dumps(states)[-2000:]
    home = lab.root / "operator-home"
    env = {"AUTHCTL_HOME": str(home)}
    r = lab.authctl("login", "--email", "admin@lab.local", "--password-stdin",
                    stdin=dexlab.superadmin_password(lab) + "\n", env=env)
    assert r.returncode == 0, r.stderr
    lab.env = env
    for ns in ("solution-a", "other"):
        lab.kubectl("create", "namespace", ns)
    lab.kubectl("label", "namespace", "solution-a", "dexauth.io/solution=true", "--overwrite")
    return lab


def ctl(lab, *args, stdin=None, env=None):
    return lab.authctl(*args, stdin=stdin, env={**lab.env, **(env or {})})


def token(lab, email, password):
    status, body = dexlab.password_grant(lab, email, password)
    assert status == 200, body
    return body["id_token"]


def can(lab, tok, *args):
    r = lab.kubectl(*args, token=tok)
    return r.returncode == 0


@pytest.fixture(scope="module")
def users(admin):
    roles = {"ops@example.com": "cluster-admin", "dev@example.com": "solution-admin",
             "viewer@example.com": "read-only"}
    for email, role in roles.items():
        r = ctl(admin, "user", "add", email, "--role", role, "--password-stdin", stdin=PW[email] + "\n")
        assert r.returncode == 0, r.stderr
    return admin


def test_new_user_has_no_access_until_it_changes_its_password(users):
    tok = token(users, "viewer@example.com", PW["viewer@example.com"])
    assert not can(users, tok, "get", "pods", "-n", "default")
    r = users.authctl("passwd", "--email", "viewer@example.com", "--password-stdin",
                      stdin=f"{PW['viewer@example.com']}\n{CHANGED['viewer@example.com']}\n")
    assert r.returncode == 0, r.stderr
    tok = token(users, "viewer@example.com", CHANGED["viewer@example.com"])
    wait_until(lambda: can(users, tok, "get", "pods", "-n", "default"), what="read-only applies")
    status, _ = dexlab.password_grant(users, "viewer@example.com", PW["viewer@example.com"])
    assert status != 200, "the old password must fail"


@pytest.fixture(scope="module")
def active(users):
    for email in ("ops@example.com", "dev@example.com"):
        r = users.authctl("passwd", "--email", email, "--password-stdin", stdin=f"{PW[email]}\n{CHANGED[email]}\n")
        assert r.returncode == 0, r.stderr
    if dexlab.password_grant(users, "viewer@example.com", CHANGED["viewer@example.com"])[0] != 200:
        users.authctl("passwd", "--email", "viewer@example.com", "--password-stdin",
                      stdin=f"{PW['viewer@example.com']}\n{CHANGED['viewer@example.com']}\n")
    return users


def test_cluster_admin_can_create_a_cluster_role_binding(active):
    tok = token(active, "ops@example.com", CHANGED["ops@example.com"])
    assert can(active, tok, "create", "clusterrolebinding", "ops-test", "--clusterrole=view", "--user=nobody")


def test_solution_admin_deploys_in_solution_namespaces_only(active):
    tok = token(active, "dev@example.com", CHANGED["dev@example.com"])
    wait_until(lambda: can(active, tok, "create", "deployment", "web", "--image=registry.invalid/web:1",
                           "-n", "solution-a"), what="solution admin deploys")
    assert can(active, tok, "get", "secrets", "-n", "solution-a")
    assert not can(active, tok, "get", "secrets", "-n", "kube-system")
    assert not can(active, tok, "get", "secrets", "-n", "dexauth")
    assert not can(active, tok, "get", "secret", "dex-grpc-client", "-n", "dexauth")
    assert not can(active, tok, "create", "deployment", "web", "--image=x", "-n", "other")
    assert not can(active, tok, "create", "rolebinding", "esc", "--clusterrole=cluster-admin",
                   "--user=oidc:dev@example.com", "-n", "solution-a")
    assert not can(active, tok, "get", "pods", "-n", "default", "--as=oidc:ops@example.com")
    assert not can(active, tok, "get", "nodes")
    assert not can(active, tok, "label", "namespace", "solution-a", "pod-security.kubernetes.io/enforce-")


def test_new_solution_namespace_is_covered(active):
    active.kubectl("create", "namespace", "solution-b")
    active.kubectl("label", "namespace", "solution-b", "dexauth.io/solution=true")
    tok = token(active, "dev@example.com", CHANGED["dev@example.com"])
    # Every dexauth:roles:reconcile_seconds (60 s), or later when a state run holds the minion's lock.
    wait_until(lambda: can(active, tok, "create", "configmap", "c1", "-n", "solution-b"), timeout=180,
               what="the scheduled reconcile covers the new namespace")


def test_read_only_reads_but_never_writes_nor_reads_secrets(active):
    tok = token(active, "viewer@example.com", CHANGED["viewer@example.com"])
    assert can(active, tok, "get", "pods", "-A")
    assert not can(active, tok, "create", "configmap", "x", "-n", "default")
    assert not can(active, tok, "get", "secrets", "-n", "default")


def test_user_list_shows_roles_and_state(active):
    r = ctl(active, "user", "list", "-o", "json")
    assert r.returncode == 0, r.stderr
    rows = {row["email"]: row for row in json.loads(r.stdout)}
    assert rows["dev@example.com"]["roles"] == "solution-admin"
    assert rows["dev@example.com"]["mustChange"] is False
    assert rows["admin@lab.local"]["roles"] == "cluster-admin"


def test_read_only_operator_cannot_add_users_and_nothing_changes(active):
    env = {"AUTHCTL_HOME": str(active.root / "viewer-home")}
    r = active.authctl("login", "--email", "viewer@example.com", "--password-stdin",
                       stdin=CHANGED["viewer@example.com"] + "\n", env=env)
    assert r.returncode == 0, r.stderr
    r = active.authctl("user", "add", "eve@example.com", "--role", "cluster-admin", "--password-stdin",
                       stdin="Velvet-Thunder-5521\n", env=env)
    assert r.returncode != 0
    assert "not allowed" in r.stderr
    assert dexlab.password_grant(active, "eve@example.com", "Velvet-Thunder-5521")[0] != 200
    assert "eve@example.com" not in ctl(active, "user", "list").stdout


@pytest.mark.parametrize("args, stdin, message", [
    (["user", "add", "not-an-email"], "Velvet-Thunder-5521\n", "not a valid email"),
    (["user", "add", "dev@example.com"], "Velvet-Thunder-5521\n", "already exists"),
    (["user", "add", "weak@example.com"], "short\n", "too short"),
    (["user", "add", "weak2@example.com"], "password1234\n", "common"),
    (["user", "add", "x@example.com", "--role", "superuser"], "Velvet-Thunder-5521\n", "unknown role"),
    (["user", "delete", "ghost@example.com"], None, "no user"),
    (["role", "grant", "ghost@example.com", "read-only"], None, "no user"),
])
def test_bad_input_is_refused_clearly(active, args, stdin, message):
    r = ctl(active, *args, *(["--password-stdin"] if stdin else []), stdin=stdin)
    assert r.returncode != 0
    assert message in r.stderr, r.stderr
    assert "Exception" not in r.stderr


def test_unreachable_dex_or_apiserver_and_expired_login_are_explained(active, tmp_path):
    import yaml
    cfg = yaml.safe_load((active.root / "authctl.yaml").read_text())
    bad_dex = dict(cfg, dex={**cfg["dex"], "grpcAddress": "127.0.0.1:1"})
    (tmp_path / "bad-dex.yaml").write_text(yaml.safe_dump(bad_dex))
    # Root's direct path reaches Dex's gRPC API itself.
    r = ctl(active, "user", "list", "--break-glass", "--config", str(tmp_path / "bad-dex.yaml"))
    assert r.returncode != 0 and "Dex" in r.stderr and "unreachable" in r.stderr, r.stderr
    # Everyone else goes through the account service.
    bad_service = dict(cfg, account={"url": "https://127.0.0.1:1/account"})
    (tmp_path / "bad-service.yaml").write_text(yaml.safe_dump(bad_service))
    r = ctl(active, "user", "list", "--config", str(tmp_path / "bad-service.yaml"))
    assert r.returncode != 0 and "cannot reach the account service at https://127.0.0.1:1/account" in r.stderr, r.stderr
    # A session whose ID token has run out and whose refresh token Dex no longer honours.
    home = tmp_path / "expired"
    r = active.authctl("login", "--email", "admin@lab.local", "--password-stdin",
                       stdin=dexlab.superadmin_password(active) + "\n", env={"AUTHCTL_HOME": str(home)})
    assert r.returncode == 0, r.stderr
    [session] = home.glob("*.json")
    entry = json.loads(session.read_text())
    session.write_text(json.dumps({**entry, "refreshAt": 0, "refreshToken": "revoked-or-forged"}))
    r = active.authctl("user", "list", env={"AUTHCTL_HOME": str(home)})
    assert r.returncode == 7 and "expired" in r.stderr and "authctl login" in r.stderr, r.stderr


def test_admin_reset_requires_a_new_change(active):
    email = "viewer@example.com"
    r = ctl(active, "user", "passwd", email, "--password-stdin", stdin="Granite-Window-3388\n")
    assert r.returncode == 0, r.stderr
    tok = token(active, email, "Granite-Window-3388")
    wait_until(lambda: not can(active, tok, "get", "pods", "-n", "default"), what="roles suspended")
    r = active.authctl("passwd", "--email", email, "--password-stdin",
                       stdin=f"Granite-Window-3388\n{CHANGED[email]}\n")
    assert r.returncode == 0, r.stderr


def test_users_survive_dex_restart_and_orchestration_rerun(active):
    pid = active.pod_pid("deploy-dexauth-dex")
    os.killpg(pid, 9)
    active.wait_pod_pid_change("deploy-dexauth-dex", pid)
    wait_until(lambda: token(active, "dev@example.com", CHANGED["dev@example.com"]), what="login after Dex restart")
    ok, states, _ = dexlab.orchestrate(active)
    assert ok
    tok = token(active, "dev@example.com", CHANGED["dev@example.com"])
    assert can(active, tok, "get", "deployments", "-n", "solution-a")
    rows = {row["email"]: row for row in json.loads(ctl(active, "user", "list", "-o", "json").stdout)}
    assert rows["dev@example.com"]["roles"] == "solution-admin" and not rows["dev@example.com"]["mustChange"]


def test_users_survive_chart_upgrade_and_removal_then_redeploy(active):
    def dev_can_read():
        tok = token(active, "dev@example.com", CHANGED["dev@example.com"])
        return can(active, tok, "get", "deployments", "-n", "solution-a")

    dexlab.set_overrides(active, {"dexauth": {"dex": {"id_token_ttl": "2h"}}})
    try:
        old = active.pod_pid("deploy-dexauth-dex")
        ok, states, _ = dexlab.orchestrate(active)
        assert ok and "Dex chart is deployed" in dexlab.changed_states(states)  # a chart upgrade
        active.wait_pod_pid_change("deploy-dexauth-dex", old)
        wait_until(dev_can_read, what="role after the chart upgrade")
    finally:
        dexlab.set_overrides(active, {})
    assert dexlab.orchestrate(active, "dexauth.orchestrate.remove")[0]
    assert dexlab.orchestrate(active)[0]
    wait_until(dev_can_read, what="role after removal and redeploy")
    rows = {row["email"]: row for row in json.loads(ctl(active, "user", "list", "-o", "json").stdout)}
    assert rows["dev@example.com"]["roles"] == "solution-admin"


def test_no_password_in_logs_or_salt_job_cache(active):
    assert_no_secrets(list(PW.values()) + list(CHANGED.values()),
                      [active.root / "logs", active.root / "var" / "salt"])


def test_changes_are_audited_without_secrets(active):
    r = active.kubectl("get", "events", "-n", "dexauth", "-o", "json")
    events = [e for e in json.loads(r.stdout)["items"] if e.get("source", {}).get("component") == "authctl"]
    messages = " ".join(e["message"] for e in events)
    assert "admin@lab.local created user dev@example.com" in messages
    for pw in list(PW.values()) + list(CHANGED.values()):
        assert pw not in r.stdout


def test_deleted_user_cannot_log_in_and_its_token_is_refused(active):
    email = "ops@example.com"
    tok = token(active, email, CHANGED[email])
    assert can(active, tok, "get", "namespaces")
    r = ctl(active, "user", "delete", email)
    assert r.returncode == 0, r.stderr
    assert dexlab.password_grant(active, email, CHANGED[email])[0] != 200
    r = active.kubectl("get", "namespaces", token=tok)
    assert r.returncode != 0 and "Forbidden" in r.stderr
