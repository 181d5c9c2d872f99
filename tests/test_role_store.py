"""End to end, issue 13 items 2 and 5: groups are per IdP, and the role store can be neither
poisoned nor raced (real slapd directories, real Dex tokens, real kube-apiserver RBAC).
"""
import contextlib
import json
import os
from concurrent.futures import ThreadPoolExecutor


import dexlab
from support import decode_jwt_claims, free_port, login_via_browser_flow, wait_until
from test_hardening import CHANGED, DEV, VIEWER, bindings_naming, change_password, ctl, lab_up, token  # noqa: F401

NS = "dexauth"
GRANTS = "dexauth-group-roles"
SCOPES = ("openid", "email", "groups", "profile", "federated:id", "audience:server:client_id:kubernetes")
ROLE_OF_BINDING = {"dexauth:role:cluster-admin": "cluster-admin", "dexauth:role:read-only": "read-only",
                   "dexauth:role:solution-admin-cluster": "solution-admin"}


def directory_token(lab, connector, slapd, user="alice"):
    body = login_via_browser_flow(dexlab.pillar(lab)["issuer"], [str(dexlab.ca_file(lab))], "authctl",
                                  dexlab.CLI_REDIRECT, user, slapd.users[user]["password"],
                                  connector_id=connector, scopes=SCOPES)
    return body["id_token"]


def can_list_pods(lab, tok):
    return lab.kubectl("get", "pods", "-n", NS, token=tok).returncode == 0


def whoami(lab, tok):
    r = lab.kubectl("auth", "whoami", "-o", "json", token=tok)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)["status"]["userInfo"]


@contextlib.contextmanager
def schedule_paused(lab):
    """The minion's scheduled reconcile held back, so that the test's own runs are the ones that act."""
    r = lab.salt_call("schedule.disable")
    assert r.returncode == 0 and json.loads(r.stdout)["local"]["result"], r.stdout + r.stderr
    try:
        yield
    finally:
        lab.salt_call("schedule.enable")


def stored_grants(lab):
    r = lab.kubectl("-n", NS, "get", "configmap", GRANTS, "-o", "json")
    return json.loads(r.stdout).get("data", {}) if r.returncode == 0 else {}


# ------------------------------------------------------------------ item 2: groups are per IdP

def test_a_group_grant_reaches_only_the_group_of_its_idp(lab_up):
    """Two directories, each with a group named ops: a grant for corp's ops never reaches partner's."""
    lab = lab_up
    with dexlab.ldap_idp(lab, "corp", "Corp directory") as corp, \
            dexlab.ldap_idp(lab, "partner", "Partner directory") as partner:
        from_corp, from_partner = directory_token(lab, "corp", corp), directory_token(lab, "partner", partner)
        assert "ops" in decode_jwt_claims(from_partner)["groups"]
        assert "oidc:corp:ops" in whoami(lab, from_corp)["groups"]
        assert "oidc:partner:ops" in whoami(lab, from_partner)["groups"]
        assert not can_list_pods(lab, from_corp), "corp's user holds a role before the grant (left by another test?)"

        r = ctl(lab, "role", "grant", "--group", "ops", "read-only")
        assert r.returncode == 2 and "--idp" in r.stderr, r.stdout + r.stderr  # the IdP must be named
        r = ctl(lab, "role", "grant", "--group", "ops", "--idp", "corp", "read-only")
        assert r.returncode == 0, r.stdout + r.stderr
        assert "group ops of IdP corp" in r.stdout
        wait_until(lambda: can_list_pods(lab, from_corp), timeout=30, what="read-only through corp's ops")
        assert not can_list_pods(lab, from_partner), "corp's grant reached partner's group of the same name"

        r = ctl(lab, "role", "revoke", "--group", "ops", "--idp", "corp", "read-only")
        assert r.returncode == 0, r.stdout + r.stderr
        wait_until(lambda: not can_list_pods(lab, from_corp), timeout=30, what="corp's ops revoked")


def test_gitlab_and_github_without_a_restriction_are_refused_unless_any_account_is_allowed(lab_up):
    lab = lab_up
    base = f"https://127.0.0.1:{free_port()}"
    for args, option in ((["gitlab", "open-gitlab", "--base-url", base], "--group"),
                         (["github", "open-github"], "--org")):
        r = ctl(lab, "idp", "add", *args, "--client-id", "k8s", "--client-secret-stdin", "--force", "--no-apply",
                stdin="client-secret\n")
        assert r.returncode == 2, r.stdout + r.stderr
        assert option in r.stderr and "--allow-any-account" in r.stderr, r.stderr
        assert args[1] not in ctl(lab, "idp", "list").stdout  # nothing saved
    r = ctl(lab, "idp", "add", "gitlab", "open-gitlab", "--base-url", base, "--client-id", "k8s",
            "--client-secret-stdin", "--force", "--no-apply", "--allow-any-account", stdin="client-secret\n")
    assert r.returncode == 0, r.stdout + r.stderr
    assert ctl(lab, "idp", "remove", "open-gitlab", "--no-apply").returncode == 0


def test_group_grants_stored_without_idp_are_migrated_once_by_the_states(lab_up):
    """A grant of an earlier release (no IdP) goes to the directory IdPs, never to a GitLab; once."""
    lab = lab_up
    with dexlab.ldap_idp(lab, "corp", "Corp directory") as corp:
        r = ctl(lab, "idp", "add", "gitlab", "somegitlab", "--base-url", f"https://127.0.0.1:{free_port()}",
                "--client-id", "k8s", "--client-secret-stdin", "--force", "--no-apply", "--allow-any-account",
                stdin="client-secret\n")
        assert r.returncode == 0, r.stdout + r.stderr
        try:
            legacy = {"apiVersion": "v1", "kind": "ConfigMap",
                      "metadata": {"name": GRANTS, "namespace": NS,
                                   "labels": {"app.kubernetes.io/managed-by": "dexauth"}},
                      "data": {"grants.json": json.dumps({"ops": ["read-only"]})}}
            path = lab.root / "legacy-grants.json"
            path.write_text(json.dumps(legacy))
            with schedule_paused(lab):
                assert lab.kubectl("replace", "--force", "-f", str(path)).returncode == 0
                first = dexlab.apply_roles_state(lab)
            assert "corp" in json.dumps(first["changes"]) and "somegitlab" in first["comment"], first
            data = stored_grants(lab)
            assert "grants.json" not in data
            assert json.loads(data["idp-grants.json"]) == {"corp": {"ops": ["read-only"]}}
            alice = directory_token(lab, "corp", corp)
            wait_until(lambda: can_list_pods(lab, alice), timeout=30, what="the migrated grant in force")

            second = dexlab.apply_roles_state(lab)
            assert second["changes"] == {}, second
        finally:
            ctl(lab, "role", "revoke", "--group", "ops", "--idp", "corp", "read-only")
            ctl(lab, "idp", "remove", "somegitlab", "--no-apply")


# ------------------------------------------------------------------ item 5: the role store

def record(email, roles, name, must_change="false"):
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": NS, "labels": {"dexauth.io/user": "true"}},
            "data": {"email": email, "username": email.split("@")[0], "roles": roles,
                     "mustChangePassword": must_change, "createdBy": "x", "createdAt": "2026-01-01T00:00:00Z"}}


def warning_events(lab):
    r = lab.kubectl("-n", NS, "get", "events", "--field-selector", "type=Warning", "-o", "json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)["items"]


def test_empty_and_forged_user_records_are_skipped_with_a_warning_and_others_still_reconcile(lab_up):
    lab = lab_up
    viewer = token(lab, VIEWER, CHANGED[VIEWER])
    bad = {"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": {"name": "dexauth-user-empty", "namespace": NS, "labels": {"dexauth.io/user": "true"}}},
        # The viewer's email under another name: a forged record making the viewer Cluster Admin.
        record(VIEWER, "cluster-admin", "dexauth-user-forged"),
        record("root@harden.test", "root", "dexauth-user-badrole"),
    ]}
    path = lab.root / "poison.json"
    path.write_text(json.dumps(bad))
    assert lab.kubectl("apply", "-f", str(path)).returncode == 0
    try:
        dev = token(lab, DEV, CHANGED[DEV])
        assert not can_list_pods(lab, dev)
        r = ctl(lab, "role", "grant", DEV, "read-only")
        assert r.returncode == 0, r.stdout + r.stderr
        wait_until(lambda: can_list_pods(lab, dev), timeout=30,
                   what="the developer's new role, beside the bad records")
        state = dexlab.apply_roles_state(lab)
        assert "dexauth-user-forged" in state["comment"], state
        assert lab.kubectl("get", "secrets", "-n", NS, token=viewer).returncode != 0, "the forged record counted"
        assert "oidc:" + VIEWER not in json.dumps(
            json.loads(lab.kubectl("get", "clusterrolebinding", "dexauth:role:cluster-admin", "-o", "json").stdout))
        skipped = {e["involvedObject"]["name"]: e["message"] for e in warning_events(lab)
                   if e["reason"] == "InvalidUserRecord"}
        assert set(skipped) >= {"dexauth-user-empty", "dexauth-user-forged", "dexauth-user-badrole"}, skipped
        assert "does not match" in skipped["dexauth-user-forged"] and "root" in skipped["dexauth-user-badrole"]
        r = ctl(lab, "user", "list", "-o", "json")
        assert r.returncode == 0, r.stderr
        emails = [row["email"] for row in json.loads(r.stdout)]
        assert DEV in emails and emails.count(VIEWER) == 1 and "root@harden.test" not in emails
    finally:
        lab.kubectl("-n", NS, "delete", "configmap", "dexauth-user-empty", "dexauth-user-forged",
                    "dexauth-user-badrole")
        ctl(lab, "role", "revoke", DEV, "read-only")


def bound_roles(lab):
    """email -> roles, as the dexauth bindings actually grant them."""
    out = {}
    for b in json.loads(lab.kubectl("get", "clusterrolebindings", "-l", "app.kubernetes.io/managed-by=dexauth",
                                    "-o", "json").stdout)["items"]:
        role = ROLE_OF_BINDING.get(b["metadata"]["name"])
        for s in b.get("subjects") or []:
            if role and s["kind"] == "User":
                out.setdefault(s["name"].removeprefix("oidc:"), set()).add(role)
    return out


def stored_users(lab):
    r = ctl(lab, "user", "list", "-o", "json")
    assert r.returncode == 0, r.stderr
    return {row["email"]: row for row in json.loads(r.stdout) if row["createdAt"]}


def test_parallel_grants_revokes_and_resets_lose_nothing_and_bindings_follow_the_store(lab_up):
    lab = lab_up
    users = {f"race{i}@harden.test": f"Saffron-Glacier-{4100 + i}" for i in range(3)}
    start = {"race0@harden.test": "read-only", "race1@harden.test": "read-only",
             "race2@harden.test": "cluster-admin"}
    for email, password in users.items():
        r = ctl(lab, "user", "add", email, "--role", start[email], "--password-stdin", stdin=password + "\n")
        assert r.returncode == 0, r.stderr
        change_password(lab, email, password, password + "-new")
    runs = (
        # race0: read-only revoked, solution-admin and cluster-admin granted
        [["role", "revoke", "race0@harden.test", "read-only"]] * 3
        + [["role", "grant", "race0@harden.test", "solution-admin"]] * 2
        + [["role", "grant", "race0@harden.test", "cluster-admin"]] * 2
        # race1: its password reset (must change: no binding at all) while roles change
        + [["user", "passwd", "race1@harden.test", "--password-stdin"]] * 3
        + [["role", "grant", "race1@harden.test", "solution-admin"]] * 2
        + [["role", "revoke", "race1@harden.test", "read-only"]] * 2
        # race2: cluster-admin revoked, read-only granted
        + [["role", "revoke", "race2@harden.test", "cluster-admin"]] * 3
        + [["role", "grant", "race2@harden.test", "read-only"]] * 3
    )
    assert len(runs) == 20

    def run(args):
        stdin = "Reset-Harbor-" + os.urandom(4).hex() + "\n" if "passwd" in args else None
        return ctl(lab, *args, stdin=stdin)

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(run, runs))
    failed = [(args, r.stdout + r.stderr) for args, r in zip(runs, results) if r.returncode != 0]
    assert not failed, failed

    stored = stored_users(lab)
    assert stored["race0@harden.test"]["roles"] == "cluster-admin,solution-admin"
    assert stored["race1@harden.test"]["roles"] == "solution-admin"
    assert stored["race1@harden.test"]["mustChange"] is True, "a reset's must-change was lost"
    assert stored["race2@harden.test"]["roles"] == "read-only"
    want = {email: set(row["roles"].split(",")) - {""} for email, row in stored.items() if not row["mustChange"]}
    want = {email: roles for email, roles in want.items() if roles}
    assert bound_roles(lab) == want
    assert bindings_naming(lab, "oidc:race1@harden.test") == []
    for email in users:
        ctl(lab, "user", "delete", email)


def test_a_revoke_whose_binding_removal_failed_shows_as_drift_and_the_next_reconcile_removes_it(lab_up):
    lab = lab_up
    viewer = token(lab, VIEWER, CHANGED[VIEWER])
    assert can_list_pods(lab, viewer)
    name = "dexauth-test-keep-read-only"
    policy = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
              "metadata": {"name": name},
              "spec": {"failurePolicy": "Fail",
                       "matchConstraints": {"resourceRules": [{"apiGroups": ["rbac.authorization.k8s.io"],
                                                               "apiVersions": ["v1"],
                                                               "operations": ["UPDATE", "DELETE"],
                                                               "resources": ["clusterrolebindings"]}]},
                       "matchConditions": [{"name": "read-only", "expression":
                                            "oldObject.metadata.name == 'dexauth:role:read-only'"}],
                       "validations": [{"message": "injected failure", "expression": "false"}]}}
    binding = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding",
               "metadata": {"name": name}, "spec": {"policyName": name, "validationActions": ["Deny"]}}
    path = lab.root / "keep-read-only.json"
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": [policy, binding]}))
    assert lab.kubectl("apply", "-f", str(path)).returncode == 0
    try:
        wait_until(lambda: "injected failure" in lab.kubectl(  # a new value each time: never a no-op update
            "label", "--overwrite", "clusterrolebinding", "dexauth:role:read-only", "probe=" + os.urandom(4).hex()
        ).stderr, timeout=60, what="the injected admission policy in force")
        r = ctl(lab, "role", "revoke", VIEWER, "read-only")
        assert r.returncode != 0 and "injected failure" in r.stderr, r.stdout + r.stderr
        assert "next reconcile" in r.stderr, r.stderr
        assert can_list_pods(lab, viewer)  # the binding is still there...
        r = ctl(lab, "user", "list")
        assert r.returncode == 0, r.stderr
        line = next(x for x in r.stdout.splitlines() if x.startswith(VIEWER))
        assert "DRIFT" in line and "read-only" in line, r.stdout  # ...and the operator is told
    finally:
        lab.kubectl("delete", "validatingadmissionpolicybinding,validatingadmissionpolicy", name)
    dexlab.apply_roles_state(lab)  # the next (scheduled) reconcile
    wait_until(lambda: not can_list_pods(lab, viewer), timeout=30, what="the revoked binding removed")
    line = next(x for x in ctl(lab, "user", "list").stdout.splitlines() if x.startswith(VIEWER))
    assert "DRIFT" not in line
    assert ctl(lab, "role", "grant", VIEWER, "read-only").returncode == 0
