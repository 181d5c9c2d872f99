"""End to end, Iteration 2: upstream IdPs from `authctl idp` (real slapd, Samba AD DC, a second Dex)."""
import json
import os

import pytest

import dexlab
from support import LoginFailed, SambaAD, Slapd, TestCA, UpstreamDex, assert_no_secrets, decode_jwt_claims, \
    free_port, login_page, login_via_browser_flow, wait_until
from support.secret_scan import process_command_lines

CLI_REDIRECT = "http://127.0.0.1:5555/callback"
SCOPES = ("openid", "email", "groups", "profile", "federated:id", "audience:server:client_id:kubernetes")
UPSTREAM_SECRET = "upstream-client-" + os.urandom(8).hex()


@pytest.fixture(scope="module")
def env(lab, tmp_path_factory):
    """Deployed lab with no IdP, an OpenLDAP server and a test CA Dex does not know yet."""
    ok, states, _ = dexlab.orchestrate(lab)
    assert ok, json.dumps(states)[-2000:]
    # Right after Dex creates its CRDs, kube-apiserver answers 429 for a few seconds.
    wait_until(lambda: login_page(issuer(lab), str(dexlab.ca_file(lab)), "authctl", CLI_REDIRECT),
               timeout=60, what="Dex's login page")
    root = tmp_path_factory.mktemp("idp")
    ca = TestCA(root, "directory")
    slapd = Slapd.start(root, ca)
    lab.idp_root, lab.idp_ca, lab.slapd = root, ca, slapd
    yield lab
    # The grant test_ldap_user_logs_in… made: later files on this lab log corp's alice in too.
    lab.authctl("role", "revoke", "--group", "developers", "--idp", "corp", "read-only", "--break-glass")
    for name in ("corp", "ad-upn", "ad-sam", "upstream"):
        lab.authctl("idp", "remove", name, "--break-glass")
    slapd.close()


def idp(lab, *args, stdin=None):
    return lab.authctl("idp", *args, "--break-glass", stdin=stdin)


def ldap_args(lab, *, name="corp", host="127.0.0.1", port=None, ca_file=None, base=None):
    s = lab.slapd
    return ["add", "ldap", name, "--display-name", "Corp directory", "--host", host,
            "--port", str(port or s.ldaps_port), "--ca-file", str(ca_file or lab.idp_ca.cert_path),
            "--bind-dn", s.bind_dn, "--bind-password-stdin", "--user-base-dn", base or s.users_dn,
            "--group-base-dn", s.groups_dn, "--test-user", "alice"]


def issuer(lab):
    return dexlab.pillar(lab)["issuer"]


def browser_login(lab, connector, user, password, extra_ca=None):
    cas = [str(dexlab.ca_file(lab))] + ([str(extra_ca)] if extra_ca else [])
    body = login_via_browser_flow(issuer(lab), cas, "authctl", CLI_REDIRECT, user, password,
                                  connector_id=connector, scopes=SCOPES)
    return body["id_token"]


def pillar_text(lab):
    return (lab.root / "pillar" / "dexauth_idps.sls").read_text()


def idp_secrets(lab):
    r = lab.kubectl("-n", "dexauth", "get", "secrets", "-l", "dexauth.io/idp", "-o", "name")
    assert r.returncode == 0, r.stderr
    return sorted(r.stdout.split())


def test_without_idps_the_login_page_goes_straight_to_local_users(env):
    page = login_page(issuer(env), str(dexlab.ca_file(env)), "authctl", CLI_REDIRECT)
    assert page == {"direct": True, "connector": "local"}


@pytest.mark.parametrize("case, expect", [
    ("wrong bind password", "invalid credentials"),
    ("untrusted certificate", "not signed by a trusted CA"),
    ("wrong base DN", "does not exist"),
    ("unreachable host", "refused"),
])
def test_failed_checks_name_their_cause_and_apply_nothing(env, case, expect):
    s = env.slapd
    before_pillar, before_secrets = pillar_text(env), idp_secrets(env)
    password = s.bind_password
    kw = {}
    if case == "wrong bind password":
        password = "not-the-bind-password"
    elif case == "untrusted certificate":
        kw["ca_file"] = TestCA(env.idp_root, "stranger").cert_path
    elif case == "wrong base DN":
        kw["base"] = "ou=nobody,dc=example,dc=org"
    else:
        kw["port"] = free_port()
    r = idp(env, *ldap_args(env, **kw), stdin=password + "\n")
    assert r.returncode == 10, r.stdout + r.stderr
    assert expect in r.stdout, r.stdout
    assert "fix:" in r.stdout and "nothing was saved" in r.stderr
    assert pillar_text(env) == before_pillar
    assert idp_secrets(env) == before_secrets


def test_ldap_user_logs_in_with_directory_groups_and_gets_the_group_role(env):
    s = env.slapd
    r = idp(env, *ldap_args(env), stdin=s.bind_password + "\n")
    assert r.returncode == 0, r.stdout + r.stderr
    # The check shows the user's groups and the Kubernetes identity before anything is applied.
    assert "developers, ops" in r.stdout and "oidc:corp:" + s.users["alice"]["email"] in r.stdout
    assert "bootstrap: ok   Dex chart is deployed, changed" in r.stdout

    page = login_page(issuer(env), str(dexlab.ca_file(env)), "authctl", CLI_REDIRECT)
    assert page == {"direct": False, "connectors": ["local", "corp"]}  # the themed page lists local users first

    alice = browser_login(env, "corp", "alice", s.users["alice"]["password"])
    claims = decode_jwt_claims(alice)
    assert claims["email"] == s.users["alice"]["email"]
    assert sorted(claims["groups"]) == ["developers", "ops"]

    # Before any grant, the directory user has no rights; a group grant gives the role.
    assert env.kubectl("get", "pods", "-n", "dexauth", token=alice).returncode != 0
    r = env.authctl("role", "grant", "--group", "developers", "--idp", "corp", "read-only", "--break-glass")
    assert r.returncode == 0, r.stderr
    wait_until(lambda: env.kubectl("get", "pods", "-n", "dexauth", token=alice).returncode == 0,
               timeout=30, what="read-only through group developers")
    denied = env.kubectl("create", "configmap", "x", "-n", "dexauth", token=alice)
    assert denied.returncode != 0 and "forbidden" in denied.stderr.lower()
    carol = browser_login(env, "corp", "carol", s.users["carol"]["password"])
    assert env.kubectl("get", "pods", "-n", "dexauth", token=carol).returncode != 0

    with pytest.raises(LoginFailed):
        browser_login(env, "corp", "alice", "wrong-password")


def test_a_directory_user_claiming_a_local_email_does_not_get_its_rights(env):
    """The super-admin is local; a directory entry with the same email maps to oidc:corp:<email>."""
    env.slapd.add_user("mallory", "Mallory-Pass-" + os.urandom(4).hex(), email="admin@lab.local")
    token = browser_login(env, "corp", "mallory", env.slapd.users["mallory"]["password"])
    assert decode_jwt_claims(token)["email"] == "admin@lab.local"
    who = env.kubectl("auth", "whoami", "-o", "jsonpath={.status.userInfo.username}", token=token)
    assert who.returncode == 0 and who.stdout == "oidc:corp:admin@lab.local", who.stdout + who.stderr
    denied = env.kubectl("get", "secrets", "-A", token=token)
    assert denied.returncode != 0 and "forbidden" in denied.stderr.lower()
    # A token that does not name its connector is refused outright.
    cas = [str(dexlab.ca_file(env))]
    bare = login_via_browser_flow(issuer(env), cas, "authctl", CLI_REDIRECT, "mallory",
                                  env.slapd.users["mallory"]["password"], connector_id="corp",
                                  scopes=[s for s in SCOPES if s != "federated:id"])["id_token"]
    refused = env.kubectl("auth", "whoami", token=bare)
    assert refused.returncode != 0 and "unauthorized" in refused.stderr.lower()


def test_idp_test_of_the_saved_idp_uses_the_stored_secret(env):
    r = idp(env, "test", "corp", "--user", "bob")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "ok   Bind" in r.stdout and "oidc:corp:developers" in r.stdout
    r = idp(env, "test", "corp", "--user", "nobody")
    assert r.returncode == 10 and "no entry matches" in r.stdout
    r = idp(env, "show", "corp")
    assert r.returncode == 0 and "********" in r.stdout and env.slapd.bind_password not in r.stdout
    assert "corp" in idp(env, "list").stdout


def test_superadmin_logs_in_with_idps_configured_and_ldap_down(env):
    status, _ = dexlab.password_grant(env, "admin@lab.local", dexlab.superadmin_password(env))
    assert status == 200
    env.slapd.stop()
    try:
        status, _ = dexlab.password_grant(env, "admin@lab.local", dexlab.superadmin_password(env))
        assert status == 200
        token = browser_login(env, "local", "admin@lab.local", dexlab.superadmin_password(env))
        assert decode_jwt_claims(token)["email"] == "admin@lab.local"
        with pytest.raises(LoginFailed):
            browser_login(env, "corp", "alice", env.slapd.users["alice"]["password"])
        r = idp(env, "test", "corp")
        assert r.returncode == 10 and "FAIL TCP" in r.stdout
    finally:
        env.slapd.start_again()
    browser_login(env, "corp", "alice", env.slapd.users["alice"]["password"])


def test_idp_and_secret_survive_a_rerun_and_a_chart_upgrade(env):
    secret_before = env.kubectl("-n", "dexauth", "get", "secret", "dexauth-idp-corp", "-o",
                                "jsonpath={.metadata.uid}").stdout
    ok, states, _ = dexlab.orchestrate(env)
    assert ok and dexlab.changed_states(states) == []
    dexlab.set_overrides(env, {"dexauth": {"dex": {"id_token_ttl": "2h"}}})  # new values: a helm upgrade
    try:
        ok, states, _ = dexlab.orchestrate(env)
        assert ok and "Dex chart is deployed" in dexlab.changed_states(states)
        browser_login(env, "corp", "bob", env.slapd.users["bob"]["password"])
    finally:
        dexlab.set_overrides(env, {})
        assert dexlab.orchestrate(env)[0]
    assert "corp" in pillar_text(env)
    assert env.kubectl("-n", "dexauth", "get", "secret", "dexauth-idp-corp", "-o",
                       "jsonpath={.metadata.uid}").stdout == secret_before


def test_rotating_the_bind_password_with_replace_restarts_dex_with_the_new_secret(env):
    s = env.slapd
    new = "rotated-" + os.urandom(6).hex()
    old_pid = env.pod_pid("deploy-dexauth-dex")
    s.modify(f"dn: {s.bind_dn}\nchangetype: modify\nreplace: userPassword\nuserPassword: {new}\n")
    s.bind_password = new
    with pytest.raises(LoginFailed):  # Dex still binds with the old password
        browser_login(env, "corp", "alice", s.users["alice"]["password"])
    r = idp(env, *ldap_args(env), "--replace", stdin=new + "\n")
    assert r.returncode == 0, r.stdout + r.stderr
    assert env.pod_pid("deploy-dexauth-dex") != old_pid
    browser_login(env, "corp", "alice", s.users["alice"]["password"])


def test_only_cluster_admins_manage_idps(env):
    first, second = "Quartz-Lantern-5521", "Copper-Harbor-8134"
    r = env.authctl("user", "add", "viewer@idp.test", "--role", "read-only", "--password-stdin", "--break-glass",
                    stdin=first + "\n")
    assert r.returncode == 0, r.stderr
    assert env.authctl("passwd", "--email", "viewer@idp.test", "--password-stdin",
                       stdin=f"{first}\n{second}\n").returncode == 0
    home = {"AUTHCTL_HOME": str(env.idp_root / "viewer-home")}
    r = env.authctl("login", "--email", "viewer@idp.test", "--password-stdin", stdin=second + "\n", env=home)
    assert r.returncode == 0, r.stderr
    before = pillar_text(env)
    args = [a for a in ldap_args(env, name="viewer-idp") if a != "--test-user" and a != "alice"]
    r = env.authctl("idp", *args, stdin=env.slapd.bind_password + "\n", env=home)
    assert r.returncode == 6, r.stdout + r.stderr
    assert "managed by Cluster Admins" in r.stderr
    assert pillar_text(env) == before and "dexauth-idp-viewer-idp" not in " ".join(idp_secrets(env))
    env.authctl("user", "delete", "viewer@idp.test", "--break-glass")


def test_gitlab_idp_is_offered_on_the_login_page(env):
    r = idp(env, "add", "gitlab", "gitlab", "--base-url", f"https://127.0.0.1:{free_port()}", "--client-id", "k8s",
            "--allow-any-account", "--client-secret-stdin", stdin="gitlab-secret-" + os.urandom(4).hex() + "\n")
    assert r.returncode == 10 and "FAIL TCP" in r.stdout  # not reachable from here: refused without --force
    r = idp(env, "add", "gitlab", "gitlab", "--base-url", f"https://127.0.0.1:{free_port()}", "--client-id", "k8s",
            "--allow-any-account", "--client-secret-stdin", "--force", "--display-name", "GitLab", stdin="gitlab-secret\n")
    assert r.returncode == 0, r.stdout + r.stderr
    page = login_page(issuer(env), str(dexlab.ca_file(env)), "authctl", CLI_REDIRECT)
    assert "gitlab" in page["connectors"]
    assert "********" in idp(env, "show", "gitlab").stdout
    assert idp(env, "remove", "gitlab").returncode == 0


def test_active_directory_nested_groups_by_upn_and_by_sam_account_name(env):
    ad = SambaAD.start(env.idp_root, env.idp_ca)
    try:
        common = ["--domain", ad.domain, "--host", "127.0.0.1", "--ca-file", str(env.idp_ca.cert_path),
                  "--bind-dn", ad.bind_dn, "--bind-password-stdin"]
        dave = ad.users["dave"]
        r = idp(env, "add", "ad", "ad-upn", *common, "--test-user", dave["upn"], "--no-apply",
                stdin=ad.bind_password + "\n")
        assert r.returncode == 0, r.stdout + r.stderr
        assert "k8s-all" in r.stdout and "k8s-devs" in r.stdout  # nested membership found by the check
        r = idp(env, "add", "ad", "ad-sam", *common, "--login-attribute", "sAMAccountName", "--test-user", "dave",
                stdin=ad.bind_password + "\n")
        assert r.returncode == 0, r.stdout + r.stderr

        for connector, login in (("ad-upn", dave["upn"]), ("ad-sam", "dave")):
            claims = decode_jwt_claims(browser_login(env, connector, login, dave["password"]))
            assert claims["email"] == dave["upn"].lower() or claims["email"] == dave["upn"]
            assert {"k8s-devs", "k8s-all"} <= set(claims["groups"]), claims
        erin = ad.users["erin"]
        claims = decode_jwt_claims(browser_login(env, "ad-sam", "erin", erin["password"]))
        assert "k8s-all" in claims["groups"] and "k8s-devs" not in claims["groups"]
    finally:
        for name in ("ad-upn", "ad-sam"):
            idp(env, "remove", name, "--no-apply")
        ad.close()


def test_upstream_oidc_provider_logs_users_in(env):
    callback = issuer(env) + "/callback"
    upstream = UpstreamDex.start(env.idp_root, TestCA(env.idp_root, "upstream"), "lab-dex", UPSTREAM_SECRET, callback)
    try:
        r = idp(env, "add", "oidc", "upstream", "--issuer", upstream.issuer, "--client-id", "lab-dex",
                "--ca-file", str(upstream.ca_file), "--client-secret-stdin", stdin=UPSTREAM_SECRET + "\n")
        assert r.returncode == 0, r.stdout + r.stderr
        assert "ok   Discovery" in r.stdout
        frank = upstream.users["frank"]
        token = browser_login(env, "upstream", frank["email"], frank["password"], extra_ca=upstream.ca_file)
        assert decode_jwt_claims(token)["email"] == frank["email"]
    finally:
        upstream.close()


def test_no_bind_password_or_client_secret_in_salt_logs_job_cache_or_argument_lists(env):
    # etcd is where Kubernetes keeps Secrets, which is where these belong.
    assert_no_secrets([env.slapd.bind_password, UPSTREAM_SECRET],
                      [env.root / "logs", env.root / "var", env.root / "var" / "salt", env.root / "pillar"],
                      process_command_lines(), skip=[env.root / "var" / "etcd"])


def test_remove_leaves_no_secret_and_the_login_page_direct_again(env):
    for name in ("upstream", "corp"):
        r = idp(env, "remove", name)
        assert r.returncode == 0, r.stdout + r.stderr
    assert idp_secrets(env) == []
    assert "corp" not in pillar_text(env)
    page = login_page(issuer(env), str(dexlab.ca_file(env)), "authctl", CLI_REDIRECT)
    assert page == {"direct": True, "connector": "local"}
    r = idp(env, "remove", "corp")
    assert r.returncode == 5 and "no IdP named corp" in r.stderr
