"""End to end, issue 13: what an attacker or a careless operator tries, refused or repaired.

Solution namespaces never system ones (3), no secret-derived value readable (4), the super-admin
never lost (7), pillar values keep their type and a Dex that does not start fails the state (8),
bad input refused first (10), partial work never silent (11).
"""
import base64
import hashlib
import json
import os
import re
import stat
import subprocess

import pytest
import yaml

import dexlab
from support import free_port, login_page, wait_until
from labfixture import REPO
from support.terminal import Pty

NS = "dexauth"
SOLUTION_BINDING = "dexauth:role:solution-admin"
DEV, VIEWER, GONE = "dev@harden.test", "viewer@harden.test", "gone@harden.test"
FIRST = {DEV: "Orbit-Lantern-4411", VIEWER: "Copper-Harbor-7265", GONE: "Quartz-Meadow-9032"}
CHANGED = {email: pw + "-new" for email, pw in FIRST.items()}


def ctl(lab, *args, stdin=None):
    return lab.authctl(*args, "--break-glass", stdin=stdin)


def change_password(lab, email, old, new):
    r = ctl(lab, "passwd", "--email", email, "--password-stdin", stdin=f"{old}\n{new}\n")
    assert r.returncode == 0, r.stdout + r.stderr


def token(lab, email, password):
    status, body = dexlab.password_grant(lab, email, password)
    assert status == 200, body
    return body["id_token"]


def kubectl_json(lab, *args, token=None):
    r = lab.kubectl(*args, "-o", "json", token=token)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


@pytest.fixture(scope="module")
def lab_up(lab):
    ok, states, _ = dexlab.orchestrate(lab)
    assert ok, dexlab.failures(states)
    superadmin = dexlab.pillar(lab)["superadmin"]["email"]
    if not (lab.root / "superadmin-password.current").exists():
        new = "Rotated-Key-" + os.urandom(6).hex()
        change_password(lab, superadmin, dexlab.initial_password(lab), new)
        dexlab.record_superadmin_password(lab, new)
    for email, role in ((DEV, "solution-admin"), (VIEWER, "read-only"), (GONE, "solution-admin")):
        r = ctl(lab, "user", "add", email, "--role", role, "--password-stdin", stdin=FIRST[email] + "\n")
        if r.returncode != 0 and "already exists" in r.stdout + r.stderr:
            continue  # another module of this session's lab (which imports this fixture) made it
        assert r.returncode == 0, r.stderr
        change_password(lab, email, FIRST[email], CHANGED[email])
    return lab


# ------------------------------------------------------------------ item 10: bad input refused first

@pytest.mark.parametrize("args, stdin, message", [
    (["user", "add", "a" * 290 + "@example.com", "--password-stdin"], "Velvet-Thunder-5521\n",
     "at most 150 characters"),
    (["user", "add", "b" * 70 + "@example.com", "--password-stdin"], "Velvet-Thunder-5521\n", "64 before the @"),
    (["role", "grant", "--group", "system:masters", "cluster-admin"], None, "'system:' and 'oidc:' prefixes"),
    (["role", "grant", "--group", "oidc:ops", "read-only"], None, "are reserved"),
    (["idp", "add", "gitlab", "kube-system", "--client-id", "k8s", "--client-secret-stdin", "--force"],
     "secret\n", "looks like a Kubernetes or dexauth name"),
    (["idp", "add", "github", "system", "--client-id", "k8s", "--client-secret-stdin", "--force", "--org", "o"],
     "secret\n", "looks like a Kubernetes or dexauth name"),
])
def test_bad_input_is_refused_by_dexauth_first_and_says_what_is_allowed(lab_up, args, stdin, message):
    r = ctl(lab_up, *args, stdin=stdin)
    assert r.returncode == 2, r.stdout + r.stderr
    assert message in r.stderr, r.stderr
    assert "gRPC" not in r.stderr and "Unprocessable" not in r.stderr and "Exception" not in r.stderr
    grants = lab_up.kubectl("-n", NS, "get", "configmap", "dexauth-group-roles", "-o", "json").stdout
    assert "system:" not in grants and "oidc:ops" not in grants


# ------------------------------------------------------------------ item 3: solution namespaces

def bindings_naming(lab, subject):
    out = []
    for kind in ("rolebindings", "clusterrolebindings"):
        for b in kubectl_json(lab, "get", kind, "-A")["items"]:
            if any(s.get("name") == subject for s in b.get("subjects") or []):
                out.append(f"{kind}/{b['metadata'].get('namespace', '')}/{b['metadata']['name']}")
    return out


def solution_binding(lab, ns):
    r = lab.kubectl("-n", ns, "get", "rolebinding", SOLUTION_BINDING, "-o", "json")
    return json.loads(r.stdout) if r.returncode == 0 else None


def test_system_and_denied_namespaces_never_become_solution_namespaces_and_stale_bindings_go(lab_up):
    lab = lab_up
    for ns in ("sol-x", "denied-one"):
        lab.kubectl("create", "namespace", ns)
    # A binding an earlier release made in kube-system (it labelled it as its own).
    leftover = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                "metadata": {"name": SOLUTION_BINDING, "namespace": "kube-system",
                             "labels": {"app.kubernetes.io/managed-by": "dexauth"}},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                            "name": "dexauth:solution-admin"},
                "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "oidc:" + DEV}]}
    path = lab.root / "leftover-binding.json"
    path.write_text(json.dumps(leftover))
    assert lab.kubectl("apply", "-f", str(path)).returncode == 0
    for ns in ("sol-x", "kube-system", "default", NS, "denied-one"):
        assert lab.kubectl("label", "namespace", ns, "dexauth.io/solution=true", "--overwrite").returncode == 0
    dexlab.set_overrides(lab, {"dexauth": {"roles": {"denied_namespaces": ["denied-*"]}}})
    try:
        ok, states, _ = dexlab.orchestrate(lab)
        assert ok, dexlab.failures(states)
    finally:
        dexlab.set_overrides(lab, {})

    assert solution_binding(lab, "sol-x") is not None
    for ns in ("kube-system", "default", NS, "denied-one"):
        assert solution_binding(lab, ns) is None, f"Solution Admins got a RoleBinding in {ns}"
    labels = kubectl_json(lab, "get", "namespace", "kube-system")["metadata"].get("labels", {})
    assert "pod-security.kubernetes.io/enforce" not in labels, "Pod Security forced on kube-system"
    events = kubectl_json(lab, "-n", NS, "get", "events", "--field-selector", "reason=SolutionNamespaceRefused")
    refused = {e["metadata"]["annotations"]["dexauth.io/namespace"]: e for e in events["items"]}
    assert {"kube-system", "default", NS, "denied-one"} <= set(refused), refused.keys()
    assert all(e["type"] == "Warning" for e in refused.values())
    assert "denied_namespaces" in refused["denied-one"]["message"]
    dev = token(lab, DEV, CHANGED[DEV])
    assert lab.kubectl("-n", "sol-x", "create", "configmap", "c1", token=dev).returncode == 0
    for ns in ("kube-system", "default", NS):
        assert lab.kubectl("-n", ns, "create", "configmap", "c1", token=dev).returncode != 0, ns
    assert lab.kubectl("-n", "kube-system", "get", "secrets", token=dev).returncode != 0

    # The label removed, then a user deleted: each reconcile removes what no longer follows.
    assert "oidc:" + GONE in json.dumps(solution_binding(lab, "sol-x"))
    assert lab.kubectl("label", "namespace", "sol-x", "dexauth.io/solution-").returncode == 0
    r = ctl(lab, "user", "delete", GONE)
    assert r.returncode == 0, r.stderr
    assert solution_binding(lab, "sol-x") is None, "the RoleBinding stayed after the label was removed"
    assert bindings_naming(lab, "oidc:" + GONE) == []
    assert lab.kubectl("-n", "sol-x", "create", "configmap", "c2", token=dev).returncode != 0
    for ns in ("kube-system", "default", NS, "denied-one"):
        lab.kubectl("label", "namespace", ns, "dexauth.io/solution-")


# ------------------------------------------------------------------ item 4: nothing secret-derived readable

def digests(secret_values):
    """Every common digest of every secret value (raw and base64), and the IdP secrets' former checksum."""
    out = set()
    for raw in secret_values:
        for form in (raw, base64.b64encode(raw)):
            for algo in ("md5", "sha1", "sha256", "sha512"):
                out.add(hashlib.new(algo, form).hexdigest())
    return out


def strings(node):
    if isinstance(node, dict):
        for k, v in node.items():
            yield str(k)
            yield from strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from strings(v)
    elif node is not None:
        yield str(node)


def test_read_only_reads_no_value_derived_from_any_secret_in_the_auth_namespace(lab_up):
    lab = lab_up
    r = ctl(lab, "idp", "add", "gitlab", "corp-gitlab", "--base-url", f"https://127.0.0.1:{free_port()}",
            "--client-id", "k8s", "--client-secret-stdin", "--force", "--group", "corp",
            stdin="Gitlab-Secret-" + os.urandom(4).hex() + "\n")
    assert r.returncode == 0, r.stdout + r.stderr
    try:
        secrets = kubectl_json(lab, "-n", NS, "get", "secrets")["items"]
        values = [base64.b64decode(v) for s in secrets for v in (s.get("data") or {}).values()]
        known = digests(values)
        # The former checksum: sha256 over "ENV=<base64>\n" of each IdP Secret, in key order.
        idp_data = {}
        for s in secrets:
            if "dexauth.io/idp" in (s["metadata"].get("labels") or {}):
                idp_data.update(s["data"])
        known.add(hashlib.sha256("".join(f"{k}={v}\n" for k, v in sorted(idp_data.items())).encode()).hexdigest())
        assert idp_data, "no IdP Secret to look for"

        viewer = token(lab, VIEWER, CHANGED[VIEWER])
        r = lab.kubectl("api-resources", "--namespaced=true", "--verbs=list", "-o", "name")
        assert r.returncode == 0, r.stderr
        read = {}
        for resource in r.stdout.split():
            got = lab.kubectl("-n", NS, "get", resource, "-o", "json", token=viewer)
            if got.returncode == 0:
                read[resource] = json.loads(got.stdout)
        assert "deployments.apps" in read and read["deployments.apps"]["items"], "Read Only should read Deployments"
        assert "secrets" not in read
        seen = {v for doc in read.values() for v in strings(doc)}
        leaks = {v for v in seen if v.lower() in known}
        assert not leaks, f"Read Only reads secret-derived values: {leaks}"
        assert not any(raw.decode(errors="ignore") in v for v in seen for raw in values if len(raw) >= 8)
        annotations = read["deployments.apps"]["items"][0]["spec"]["template"]["metadata"]["annotations"]
        assert re.fullmatch(r"[0-9a-f]{64}", annotations["checksum/idp-secrets"])
    finally:
        ctl(lab, "idp", "remove", "corp-gitlab")


# ------------------------------------------------------------------ item 8: pillar values keep their type

def dex_config(lab):
    return dexlab.dex_config(lab, NS)


def test_numeric_looking_client_ids_reach_dex_as_text(lab_up):
    lab = lab_up
    added = []
    try:
        # One Dex rollout for both: the first is only saved, the second applies them together.
        for kind, name, client_id, extra in (("github", "gh-numeric", "12345", ["--org", "acme", "--no-apply"]),
                                             ("gitlab", "gl-clock", "12:30", ["--group", "ops", "--base-url",
                                                                             f"https://127.0.0.1:{free_port()}"])):
            r = ctl(lab, "idp", "add", kind, name, "--client-id", client_id, "--client-secret-stdin", "--force",
                    *extra, stdin="client-secret-" + os.urandom(4).hex() + "\n")
            added.append(name)
            assert r.returncode == 0, r.stdout + r.stderr
        pillar = yaml.safe_load((lab.root / "pillar" / "dexauth_idps.sls").read_text())["dexauth"]["idps"]
        assert pillar["gh-numeric"]["config"]["clientID"] == "12345"
        assert pillar["gl-clock"]["config"]["clientID"] == "12:30"
        connectors = {c["id"]: c for c in dex_config(lab)["connectors"]}
        assert connectors["gh-numeric"]["config"]["clientID"] == "12345"
        assert connectors["gl-clock"]["config"]["clientID"] == "12:30"
        page = login_page(dexlab.pillar(lab)["issuer"], str(dexlab.ca_file(lab)), "authctl", dexlab.CLI_REDIRECT)
        assert {"gh-numeric", "gl-clock"} <= set(page["connectors"])
    finally:
        for name in added:
            ctl(lab, "idp", "remove", name, *(["--no-apply"] if name != added[-1] else []))


def test_an_unquoted_number_in_hand_written_pillar_is_refused_naming_the_key(lab_up):
    lab = lab_up
    (lab.root / "pillar" / "lab_overrides.sls").write_text(
        "dexauth:\n  idps:\n    hand:\n      type: gitlab\n      display_name: Hand\n"
        "      config:\n        clientID: 0x1A\n")
    try:
        ok, states, _ = dexlab.orchestrate(lab)
        assert not ok
        assert "dexauth:idps:hand:config:clientID" in dexlab.failures(states)
        assert "quotes" in dexlab.failures(states)
    finally:
        dexlab.set_overrides(lab, {})


def test_dex_failing_to_start_fails_the_state_with_dexs_reason_until_fixed(lab_up):
    lab = lab_up
    # Valid for dexauth, fatal for Dex: a boolean setting given as text.
    r = lab.kubectl("-n", NS, "create", "secret", "generic", "dexauth-idp-broken",
                    "--from-literal=DEXAUTH_IDP_BROKEN=x")
    assert r.returncode == 0, r.stderr
    (lab.root / "pillar" / "lab_overrides.sls").write_text(
        "dexauth:\n  idps:\n    broken:\n      type: gitlab\n      display_name: Broken\n"
        "      config:\n        clientID: k8s\n        useLoginAsID: maybe\n")
    try:
        for _ in range(2):  # the failed apply recorded nothing: the next one fails too
            ok, states, _ = dexlab.orchestrate(lab)
            assert not ok, "Dex does not start, yet the apply succeeded"
            text = dexlab.failures(states)
            assert "fails to start" in text and "useLoginAsID" in text, text
    finally:
        dexlab.set_overrides(lab, {})
        lab.kubectl("-n", NS, "delete", "secret", "dexauth-idp-broken")
    ok, states, _ = dexlab.orchestrate(lab)
    assert ok, dexlab.failures(states)
    assert token(lab, DEV, CHANGED[DEV])


# ------------------------------------------------------------------ item 11: partial work never silent

def record_name(email):
    return "dexauth-user-" + hashlib.sha256(email.lower().encode()).hexdigest()[:20]


def test_user_delete_removes_a_user_known_only_to_dex(lab_up):
    lab = lab_up
    email = "dex-only@harden.test"
    r = ctl(lab, "user", "add", email, "--password-stdin", stdin="Velvet-Thunder-5521\n")
    assert r.returncode == 0, r.stderr
    assert lab.kubectl("-n", NS, "delete", "configmap", record_name(email)).returncode == 0
    rows = {row["email"]: row for row in json.loads(ctl(lab, "user", "list", "-o", "json").stdout)}
    assert rows[email]["drift"] == "no dexauth metadata"
    r = ctl(lab, "user", "delete", email)
    assert r.returncode == 0, r.stderr
    assert email not in ctl(lab, "user", "list").stdout
    assert dexlab.password_grant(lab, email, "Velvet-Thunder-5521")[0] != 200


def import_users(lab, prefix, count, env, during):
    """Runs `authctl user import` of ``count`` new users through the account service and calls
    ``during()`` once 40 of them are created. Returns (emails, {email: one-time password written},
    created count from the report, exit code, output)."""
    emails = [f"{prefix}{i:03d}@import.test" for i in range(count)]
    csv = lab.root / f"{prefix}.csv"
    csv.write_text("email,username,roles\n" + "".join(f"{e},{e.split('@')[0]},read-only\n" for e in emails))
    out_file = lab.root / f"{prefix}-1.out"
    run = subprocess.Popen([str(REPO / "bin" / "authctl"), "user", "import", str(csv), "--passwords-out",
                            str(out_file)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           env={**os.environ, "AUTHCTL_CONFIG": str(lab.root / "authctl.yaml"), **env})
    try:
        wait_until(lambda: out_file.exists() and out_file.read_text().count("\n") >= 40 or run.poll() is not None,
                   timeout=300, what="40 users imported")
        assert run.poll() is None, "the import ended before Dex could be interrupted"
        during()
        out, err = run.communicate(timeout=600)
    finally:
        if run.poll() is None:
            run.kill()
    assert stat.S_IMODE(out_file.stat().st_mode) == 0o600
    written = dict(line.split(",", 1) for line in out_file.read_text().splitlines())
    report = re.search(r"created (\d+), skipped (\d+), failed (\d+)", out)
    assert report, out + err
    assert int(report.group(1)) == len(written), out + err
    assert (run.returncode == 0) == (len(written) == count), f"exit {run.returncode}:\n{out}{err}"
    # Exactly the users the file names have a record: none created silently, none missing.
    names = set(lab.kubectl("-n", NS, "get", "configmap", "-o", "name").stdout.split())
    recorded = {e for e in emails if f"configmap/{record_name(e)}" in names}
    assert recorded == set(written), (sorted(recorded ^ set(written))[:10], out + err)
    return emails, written, run.returncode, out + err


def logs_in(lab, written):
    for email in list(written)[:2] + list(written)[-2:]:
        assert dexlab.password_grant(lab, email, written[email])[0] == 200, email


def test_an_import_of_300_users_with_dex_killed_midway_loses_no_one_time_password(lab_up):
    """Dex is killed (SIGKILL) while 300 users are imported through the account service: whether the
    import rides over the restart or stops, every user that exists is in the one-time-password
    file with a password that logs in, and nobody else is."""
    lab = lab_up
    env = {"AUTHCTL_HOME": str(lab.root / "home-import")}
    superadmin = dexlab.pillar(lab)["superadmin"]["email"]
    r = lab.authctl("login", "--email", superadmin, "--password-stdin", stdin=dexlab.superadmin_password(lab) + "\n",
                    env=env)
    assert r.returncode == 0, r.stderr
    dex = lab.pod_pid("deploy-dexauth-dex")
    _, written, code, output = import_users(lab, "killed", 300, env, lambda: os.kill(dex, 9))
    lab.wait_pod_pid_change("deploy-dexauth-dex", dex)  # it was really killed, and came back
    wait_until(lambda: dexlab.password_grant(lab, next(iter(written)), next(iter(written.values())))[0] == 200,
               timeout=180, what="an imported user logs in once Dex is back")
    logs_in(lab, written)
    if code != 0:
        assert "Dex" in output, output  # a stop names its cause


def test_an_import_stopped_by_dex_being_down_says_so_and_the_same_import_finishes_it(lab_up):
    """Dex is down (scaled to zero) halfway through an import: the import stops with the cause and
    its counts, the file holds exactly the created users, and the same command run again once
    Dex is back creates the rest and skips the others."""
    lab = lab_up
    env = {"AUTHCTL_HOME": str(lab.root / "home-import")}
    superadmin = dexlab.pillar(lab)["superadmin"]["email"]
    r = lab.authctl("login", "--email", superadmin, "--password-stdin", stdin=dexlab.superadmin_password(lab) + "\n",
                    env=env)
    assert r.returncode == 0, r.stderr

    def scale(n):
        r = lab.kubectl("-n", NS, "scale", "deployment", "dex", f"--replicas={n}")
        assert r.returncode == 0, r.stderr
    try:
        emails, written, code, output = import_users(
            lab, "stopped", 150, env, lambda: (scale(0), wait_until(
                lambda: lab.pod_pid("deploy-dexauth-dex") is None, what="Dex stopped")))
        assert code != 0 and len(written) < len(emails), output
        assert "Dex" in output and "not attempted" in output, output
    finally:
        scale(1)
    wait_until(lambda: dexlab.password_grant(lab, next(iter(written)), next(iter(written.values())))[0] == 200,
               timeout=180, what="an imported user logs in once Dex is back")
    logs_in(lab, written)
    again = lab.root / "stopped-2.out"
    r = lab.authctl("user", "import", str(lab.root / "stopped.csv"), "--passwords-out", str(again), env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    rest = dict(line.split(",", 1) for line in again.read_text().splitlines())
    assert set(rest).isdisjoint(written) and set(rest) | set(written) <= set(emails)
    report = re.search(r"created (\d+), skipped (\d+), failed (\d+)", r.stdout)
    assert report and int(report.group(1)) + int(report.group(2)) == len(emails), r.stdout
    names = set(lab.kubectl("-n", NS, "get", "configmap", "-o", "name").stdout.split())
    assert all(f"configmap/{record_name(e)}" in names for e in set(rest) | set(written))
    logs_in(lab, rest)


def test_the_apiserver_manifest_keeps_mode_0600_when_the_states_rewrite_it(lab_up):
    lab = lab_up
    manifest = lab.lab.manifests / "kube-apiserver.yaml"
    pod = yaml.safe_load(manifest.read_text())
    command = pod["spec"]["containers"][0]["command"]
    pod["spec"]["containers"][0]["command"] = [a for a in command if not a.startswith("--authentication-config")]
    assert len(pod["spec"]["containers"][0]["command"]) < len(command)
    old_pid = lab.pod_pid("kube-apiserver")
    manifest.write_text(yaml.safe_dump(pod))
    manifest.chmod(0o600)
    # The hand edit restarts kube-apiserver (kubelet watches its manifest): the states run once it is back.
    lab.wait_pod_pid_change("kube-apiserver", old_pid)
    wait_until(lambda: lab.kube().get("/readyz", raw=True) == "ok", 120, "kube-apiserver ready after the edit")
    ok, states, _ = dexlab.orchestrate(lab)
    assert ok, dexlab.failures(states)
    assert any(a.startswith("--authentication-config") for a in
               yaml.safe_load(manifest.read_text())["spec"]["containers"][0]["command"]), "not rewritten"
    assert stat.S_IMODE(manifest.stat().st_mode) == 0o600
    assert token(lab, DEV, CHANGED[DEV])


# ------------------------------------------------------------------ item 7: the super-admin is never lost

def superadmin(lab):
    return dexlab.pillar(lab)["superadmin"]["email"]


def assert_one_time_password_works_and_must_be_changed(lab, password):
    email = superadmin(lab)
    tok = token(lab, email, password)
    wait_until(lambda: lab.kubectl("get", "namespaces", token=tok).returncode != 0,
               what="no role until the one-time password is changed")
    new = "Rotated-Key-" + os.urandom(6).hex()
    change_password(lab, email, password, new)
    dexlab.record_superadmin_password(lab, new)
    tok = token(lab, email, new)
    wait_until(lambda: lab.kubectl("get", "namespaces", token=tok).returncode == 0, what="Cluster Admin again")


def test_admin_reset_break_glass_prints_a_one_time_password(lab_up):
    lab = lab_up
    old = dexlab.superadmin_password(lab)
    r = lab.authctl("admin", "reset")
    assert r.returncode == 2 and "--break-glass" in r.stderr
    r, password = dexlab.reset_superadmin(lab)
    assert len(password) >= 20 and "shown once" in r.stdout
    assert dexlab.password_grant(lab, superadmin(lab), old)[0] != 200, "the old password must stop working"
    assert_one_time_password_works_and_must_be_changed(lab, password)


KEEP_PENDING = "test-keep-one-time-password-pending"


def inject_failure_after_dex_stored_the_super_admin(lab):
    """A ValidatingAdmissionPolicy refusing to clear the one-time-password mark of user records: the
    super-admin step fails after Dex took the new password, as any failure at that point would."""
    policy = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
              "metadata": {"name": KEEP_PENDING},
              "spec": {"failurePolicy": "Fail",
                       "matchConstraints": {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"],
                                                               "operations": ["UPDATE"],
                                                               "resources": ["configmaps"]}]},
                       "matchConditions": [{"name": "user-records",
                                            "expression": "object.metadata.name.startsWith('dexauth-user-')"}],
                       "validations": [{"message": "injected failure", "expression":
                                        "!(has(oldObject.metadata.annotations) && 'dexauth.io/one-time-password'"
                                        " in oldObject.metadata.annotations) || (has(object.metadata.annotations)"
                                        " && 'dexauth.io/one-time-password' in object.metadata.annotations)"}]}}
    binding = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding",
               "metadata": {"name": KEEP_PENDING}, "spec": {"policyName": KEEP_PENDING, "validationActions": ["Deny"]}}
    path = lab.root / "inject.json"
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": [policy, binding]}))
    assert lab.kubectl("apply", "-f", str(path)).returncode == 0
    probe = "dexauth-user-probe"
    assert lab.kubectl("-n", NS, "create", "configmap", probe).returncode == 0

    def refused():
        lab.kubectl("-n", NS, "annotate", "--overwrite", "configmap", probe, "dexauth.io/one-time-password=pending")
        return "injected failure" in lab.kubectl("-n", NS, "annotate", "configmap", probe,
                                                 "dexauth.io/one-time-password-").stderr
    wait_until(refused, timeout=60, what="the injected admission policy in force")
    lab.kubectl("-n", NS, "delete", "configmap", probe)


def test_a_failure_after_dex_stored_the_super_admin_and_a_lost_record_end_in_a_printed_one_time_password(lab_up):
    lab = lab_up
    email = superadmin(lab)
    old = dexlab.superadmin_password(lab)
    # The record lost while Dex keeps the user, and the run that repairs it fails after Dex took a password.
    assert lab.kubectl("-n", NS, "delete", "configmap", record_name(email)).returncode == 0
    inject_failure_after_dex_stored_the_super_admin(lab)
    try:
        ok, states, _ = dexlab.orchestrate(lab)
        assert not ok and "injected failure" in dexlab.failures(states), dexlab.failures(states)
    finally:
        lab.kubectl("delete", "validatingadmissionpolicybinding,validatingadmissionpolicy", KEEP_PENDING)
    assert dexlab.password_grant(lab, email, old)[0] != 200, "Dex holds a password nobody was shown"
    assert bindings_naming(lab, "oidc:" + email) == [], "a Cluster Admin binding for a password nobody knows"

    salt_run = [lab.lab.salt_bin("salt-run"), "-c", str(lab.lab.salt_conf)]
    with Pty(salt_run + ["state.orchestrate", "dexauth.orchestrate.deploy"]) as t:
        code = t.wait(timeout=900)
    assert code == 0, t.transcript[-3000:]
    m = re.search(r"password : (\S+)", t.transcript)
    assert m, "no one-time password printed:\n" + t.transcript[-3000:]
    dexlab.record_superadmin_password(lab, m.group(1), one_time=True)
    rows = {row["email"]: row for row in json.loads(ctl(lab, "user", "list", "-o", "json").stdout)}
    assert rows[email]["mustChange"] is True and rows[email]["roles"] == "cluster-admin"
    assert_one_time_password_works_and_must_be_changed(lab, m.group(1))
    # Converged: the next run prints nothing and changes nothing for the super-admin.
    ok, states, _ = dexlab.orchestrate(lab)
    assert ok, dexlab.failures(states)
    assert "The super-admin exists" not in dexlab.changed_states(states)
