"""Helpers for tests against a lab with Dex deployed: logins, tokens, orchestration."""
import base64
import contextlib
import json
import os
import shutil
import ssl
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lab"))
import main_job  # noqa: E402
import statelock  # noqa: E402
from support import Slapd, TestCA, login_page, wait_until  # noqa: E402

CLI_REDIRECT = "http://127.0.0.1:5555/callback"


def pillar(lab):
    return yaml.safe_load((lab.root / "pillar" / "lab.sls").read_text())["dexauth"]


def ca_file(lab):
    return Path(main_job.authctl_config(lab.lab)["dex"]["caFile"])


def dex_config_secret(lab, ns="dexauth", deployment="dex"):
    """The name of the config Secret Dex's Deployment mounts (its name ends with a digest of the config)."""
    r = lab.kubectl("-n", ns, "get", "deployment", deployment, "-o",
                    "jsonpath={.spec.template.spec.volumes[?(@.name=='config')].secret.secretName}")
    assert r.returncode == 0 and r.stdout, r.stderr
    return r.stdout


def dex_config(lab, ns="dexauth"):
    """Dex's config.yaml, as the Secret its Deployment mounts holds it."""
    r = lab.kubectl("-n", ns, "get", "secret", dex_config_secret(lab, ns), "-o", "jsonpath={.data.config\\.yaml}")
    assert r.returncode == 0, r.stderr
    return yaml.safe_load(base64.b64decode(r.stdout))


def password_grant(lab, email, password, audience=True):
    """Returns (status, body dict) of Dex's token endpoint."""
    scope = "openid email groups profile federated:id" + (" audience:server:client_id:kubernetes" if audience else "")
    return token_request(lab, {"grant_type": "password", "client_id": "authctl", "username": email,
                               "password": password, "scope": scope})


def token_request(lab, form):
    """POSTs ``form`` to Dex's token endpoint: (status, body dict)."""
    ctx = ssl.create_default_context(cafile=str(ca_file(lab)))
    req = urllib.request.Request(pillar(lab)["issuer"] + "/token", data=urllib.parse.urlencode(form).encode(),
                                 method="POST")
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def raw_request(url, ca, method="GET", data=None, headers=None):
    """One HTTPS request by hand, redirects not followed: (status, Location, body)."""
    ctx = ssl.create_default_context(cafile=str(ca))
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *a, **k):
            return None
    opener = urllib.request.build_opener(NoRedirect, urllib.request.HTTPSHandler(context=ctx))
    try:
        with opener.open(req, timeout=30) as r:
            return r.status, r.headers.get("Location"), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Location"), e.read().decode()


def initial_password(lab):
    return main_job.superadmin_password_file(lab.lab).read_text().strip()


def superadmin_password(lab):
    """The super-admin's current password: the bootstrap one must be changed before use."""
    current = lab.root / "superadmin-password.current"
    if not current.exists():
        new = "Rotated-Key-" + os.urandom(6).hex()
        r = lab.authctl("passwd", "--email", pillar(lab)["superadmin"]["email"], "--password-stdin",
                        stdin=f"{initial_password(lab)}\n{new}\n")
        assert r.returncode == 0, r.stderr
        record_superadmin_password(lab, new)
    return current.read_text().strip()


def record_superadmin_password(lab, password, *, one_time=False):
    """Keeps the session's record of the super-admin's password true the moment a test changes
    it, so that a test failing half-way never leaves the later modules a password Dex refuses
    (401 "Invalid username or password"). A one-time password (a reset: must be changed) takes
    the bootstrap password's place and forgets the current one."""
    current = lab.root / "superadmin-password.current"
    target = main_job.superadmin_password_file(lab.lab) if one_time else current
    target.write_text(password)
    target.chmod(0o600)
    if one_time:
        current.unlink(missing_ok=True)


def reset_superadmin(lab):
    """`authctl admin reset --break-glass`: the super-admin gets a one-time password again (the
    output's second line), recorded here as the password to change first. Returns (result, password)."""
    r = lab.authctl("admin", "reset", "--break-glass")
    assert r.returncode == 0, r.stderr
    password = r.stdout.splitlines()[1].strip()
    record_superadmin_password(lab, password, one_time=True)
    return r, password


def superadmin_token(lab, **kw):
    status, body = password_grant(lab, pillar(lab)["superadmin"]["email"], superadmin_password(lab), **kw)
    assert status == 200, body
    return body["id_token"]


def claims(token):
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def orchestrate(lab, name="dexauth.orchestrate.deploy", *extra):
    return main_job.run_orchestration(lab.lab, name, extra)


def failures(states):
    """What failed in an orchestration, down to the minions' states: ID, comment (for assertion messages)."""
    out = []
    for sid, s in states.items():
        if not isinstance(s, dict) or s.get("result"):
            continue
        out.append(f"{s.get('__id__', sid)}: {s.get('comment')}")
        ret = (s.get("changes") or {}).get("ret") if isinstance(s.get("changes"), dict) else None
        for minion, minion_states in (ret or {}).items():
            if isinstance(minion_states, dict):
                out += [f"  {minion} {v.get('__id__')}: {v.get('comment')}" for v in minion_states.values()
                        if isinstance(v, dict) and not v.get("result")]
    return "\n".join(out) or json.dumps(states)[-3000:]


def changed_states(states):
    """IDs of states (and nested salt.state sub-states) that reported changes."""
    out = []
    for s in states.values():
        if not isinstance(s, dict):
            continue
        ret = (s.get("changes") or {}).get("ret") if isinstance(s.get("changes"), dict) else None
        if isinstance(ret, dict):
            for minion_states in ret.values():
                if isinstance(minion_states, dict):
                    out += [v.get("__id__") for v in minion_states.values() if isinstance(v, dict) and v.get("changes")]
        elif s.get("changes"):
            out.append(s.get("__id__"))
    return out


ROLES_MANAGED = "Roles and role bindings match the stored assignments"


def apply_roles_state(lab):
    """What the roles schedule runs, run now: the dexauth.roles state, once no other state run (e.g.
    a scheduled one) holds the minion's state lock. Every state of it must succeed (salt-call's
    exit code does not say). Returns the roles_managed result. (Salt 3008's queue=True returns at
    once with "Job queued", before the run: so this waits for the lock itself.)"""
    ran = {}

    def applied():
        r = lab.salt_call("state.apply", "dexauth.roles")
        try:
            states = json.loads(r.stdout)["local"]
        except (ValueError, KeyError):
            return False
        if statelock.held(states):
            return False  # another state run holds the lock: try again once it ended
        ran.update(r=r, states=states)
        return True
    wait_until(applied, timeout=300, what="the roles state applied after any state run in progress")
    r, states = ran["r"], ran["states"]
    assert r.returncode == 0, r.stdout + r.stderr
    assert isinstance(states, dict), r.stdout[-2000:]
    failed = [f"{s.get('__id__')}: {s.get('comment')}" for s in states.values()
              if isinstance(s, dict) and s.get("result") is not True]
    assert not failed, failed
    managed = [s for s in states.values() if isinstance(s, dict) and s.get("__id__") == ROLES_MANAGED]
    assert managed, r.stdout[-3000:]
    return managed[0]


def set_overrides(lab, overrides):
    """Writes the lab's pillar override file (the test's way to change pillar)."""
    (lab.root / "pillar" / "lab_overrides.sls").write_text(yaml.safe_dump(overrides or {}))


@contextlib.contextmanager
def ldap_idp(lab, name="corp", display_name="Corp directory"):
    """A slapd (alice in developers and ops, bob, carol) added as IdP ``name`` with `authctl idp add
    ldap`, once Dex offers it on its login page; removed, and slapd stopped, at the end."""
    root = Path(tempfile.mkdtemp(prefix="dxi-", dir="/tmp"))
    slapd = None
    try:
        ca = TestCA(root, "directory")
        slapd = Slapd.start(root, ca)
        r = lab.authctl("idp", "add", "ldap", name, "--display-name", display_name, "--host", "127.0.0.1",
                        "--port", str(slapd.ldaps_port), "--ca-file", str(ca.cert_path), "--bind-dn", slapd.bind_dn,
                        "--bind-password-stdin", "--user-base-dn", slapd.users_dn, "--group-base-dn",
                        slapd.groups_dn, "--test-user", "alice", "--break-glass", stdin=slapd.bind_password + "\n")
        assert r.returncode == 0, r.stdout + r.stderr
        wait_until(lambda: name in login_page(pillar(lab)["issuer"], str(ca_file(lab)), "authctl",
                                              CLI_REDIRECT).get("connectors", []),
                   timeout=90, what=f"Dex offering the {name} connector")
        yield slapd
    finally:
        lab.authctl("idp", "remove", name, "--break-glass")
        if slapd is not None:
            slapd.close()
        shutil.rmtree(root, ignore_errors=True)
