"""End to end: `kubectl` login from a workstation, through `authctl kubeconfig` and the exec plugin
`authctl credential` (real kubectl, real Dex, real slapd, a real pseudo-terminal, headless Chromium).

Each test is what a user does and sees: a kubeconfig, a password prompt in the terminal, silent
reuse and refresh of the cached token, a new login after a password change, the device and
browser flows. ID tokens live 40 s here (pillar override for this module), so expiry and refresh
happen during the tests; tests wait for the cached token's own refresh time, never a fixed delay.
"""
import base64
import json
import os
import re
import stat
import subprocess
import time
import urllib.parse
from datetime import datetime
from pathlib import Path

import pytest
import yaml

import dexlab
from support import cache_dir, find_secrets, login_page, wait_until
from support.browser import Browser, complete_dex_login
from support.terminal import Pty

REPO = Path(__file__).resolve().parent.parent
AUTHCTL = REPO / "bin" / "authctl"
TTL = "40s"
SCOPES = {"openid", "email", "profile", "groups", "offline_access", "federated:id",
          "audience:server:client_id:kubernetes"}
EXEC_API = "client.authentication.k8s.io/v1"
NON_INTERACTIVE = json.dumps({"apiVersion": EXEC_API, "kind": "ExecCredential", "spec": {"interactive": False}})
EMAIL = "workstation@example.com"
_tag = os.urandom(3).hex()
PW_FIRST, PW, PW_CHANGED = (f"Lantern-{_tag}-Quartz-41", f"Harbor-{_tag}-Copper-72", f"Meadow-{_tag}-Orbit-93")
CURRENT = {"password": PW}  # the local user's password now
PROMPT = r"Password for " + re.escape(EMAIL) + r": "
LISTED = r"No resources found|^NAME\s"  # what `kubectl get pods` prints when it got through

# What the tests saw, for the secret scan at the end of the module.
SEEN = {"passwords": {PW_FIRST, PW, PW_CHANGED}, "tokens": set(), "transcripts": [], "kubeconfigs": [],
        "homes": [], "cmdlines": []}


# --------------------------------------------------------------------------- helpers

def deep_merge(base, extra):
    out = dict(base or {})
    for k, v in extra.items():
        out[k] = deep_merge(out.get(k), v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def kubectl_bin(lab):
    return lab.lab.tools["KUBECTL_BIN"]


def issuer(lab):
    return dexlab.pillar(lab)["issuer"]


def ws_env(home, **extra):
    """A workstation user's environment: its own HOME (so ~/.kube), no lab configuration, no
    browser to open. DEXAUTH_CACHE keeps bin/authctl's class-data archives in the shared cache."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("KUBECONFIG", "AUTHCTL_CONFIG", "AUTHCTL_HOME", "KUBERNETES_EXEC_INFO", "BROWSER")}
    env.update(HOME=str(home), BROWSER="true", DEXAUTH_CACHE=str(cache_dir()),
               AUTHCTL_HOME=str(Path(home) / ".config" / "authctl"))  # `authctl logout` removes its login there
    env.update(extra)
    return env


def run(argv, env, timeout=120, record=True):
    """A command without a terminal (stdin /dev/null, a new session: /dev/tty cannot be opened),
    as in a script or CI."""
    r = subprocess.run([str(a) for a in argv], stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env,
                       timeout=timeout, start_new_session=True)
    if record:
        SEEN["transcripts"].append((f"stderr of {argv[:3]}", r.stderr))
    return r


def authctl_ws(home, *args, **kw):
    """authctl as a workstation user runs it."""
    return run([AUTHCTL, *args], ws_env(home, **kw.pop("env", {})), **kw)


def new_home(tmp_path_factory, name):
    home = tmp_path_factory.mktemp(f"home-{name}")
    SEEN["homes"].append(home)
    return home


def make_kubeconfig(lab, home, *args, name="kubeconfig"):
    out = Path(home) / name
    r = authctl_ws(home, "kubeconfig", "--config", lab.root / "authctl.yaml", *args, "--output", out)
    assert r.returncode == 0, r.stdout + r.stderr
    SEEN["kubeconfigs"].append(out)
    return out


def user_of(kubeconfig):
    cfg = yaml.safe_load(Path(kubeconfig).read_text())
    ctx = next(c["context"] for c in cfg["contexts"] if c["name"] == cfg["current-context"])
    return next(u["user"] for u in cfg["users"] if u["name"] == ctx["user"])


def exec_argv(kubeconfig):
    ex = user_of(kubeconfig)["exec"]
    return [ex["command"], *ex.get("args", [])]


def cache_dir_of(home):
    return Path(home) / ".kube" / "cache" / "dexauth"


def read_cache(home):
    """(path, entry) of the only cached login under HOME; records its tokens for the scan."""
    d = cache_dir_of(home)
    files = sorted(d.glob("*.json")) if d.is_dir() else []
    if not files and (Path.home() / ".kube" / "cache" / "dexauth").is_dir():
        pytest.fail(f"no cached login in {d}, but {Path.home() / '.kube/cache/dexauth'} exists: authctl does not "
                    "take ~ from $HOME (the JVM's user.home comes from the password database)")
    assert len(files) == 1, f"expected one cached login in {d}, found {files}"
    entry = json.loads(files[0].read_text())
    for k in ("idToken", "refreshToken"):
        if entry.get(k):
            SEEN["tokens"].add(entry[k])
    return files[0], entry


def refresh_at(entry):
    """When the cached ID token stops being handed out: exp - min(60 s, a quarter of its life)."""
    exp = entry["expiresAt"]
    iat = dexlab.claims(entry["idToken"])["iat"]
    return exp - min(60, max(0, exp - iat) // 4)


def wait_until_refresh_due(entry):
    due = refresh_at(entry)
    wait_until(lambda: time.time() >= due + 0.5, timeout=max(0.0, due - time.time()) + 30,
               what="the cached ID token's refresh time")


def pty_kubectl(lab, home, kubeconfig, *args, env=None):
    argv = [kubectl_bin(lab), "--kubeconfig", kubeconfig, *(args or ("get", "pods", "-n", "default"))]
    return Pty(argv, env=ws_env(home, **(env or {})))


def finish(t, timeout=120):
    code = t.wait(timeout)
    SEEN["transcripts"].append((f"terminal of {t.argv[:4]}", t.transcript))
    return code


def descendants_cmdlines(pid):
    """Command lines of a process's descendants, as `ps` shows them to every user."""
    children = {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            stat_line = Path(f"/proc/{p}/stat").read_text()
            ppid = int(stat_line.rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(p))
    out, todo = [], list(children.get(pid, []))
    while todo:
        p = todo.pop()
        try:
            out.append(Path(f"/proc/{p}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"))
        except OSError:
            pass
        todo += children.get(p, [])
    return out


def login_with_password(lab, home, kubeconfig, password=None):
    """kubectl in a terminal, no valid token: one password prompt, then the listing."""
    with pty_kubectl(lab, home, kubeconfig) as t:
        t.expect(PROMPT, timeout=120)
        SEEN["cmdlines"] += descendants_cmdlines(t.pid)  # the plugin is waiting for the password now
        t.send_secret(password or CURRENT["password"])
        t.expect(LISTED, timeout=60)
        code = finish(t)
    assert code == 0, t.transcript
    assert len(re.findall(PROMPT, t.transcript)) == 1, t.transcript
    return t.transcript


def kubectl_silently(lab, home, kubeconfig):
    """kubectl in a terminal that must get through without asking anything."""
    with pty_kubectl(lab, home, kubeconfig) as t:
        i, _ = t.expect_any([PROMPT, r"Email: ", LISTED], timeout=120)
        if i != 2:
            t.kill()
        code = finish(t)
    assert i == 2, f"kubectl asked for credentials although a valid or refreshable token is cached:\n{t.transcript}"
    assert code == 0, t.transcript
    return t.transcript


def pem_blocks(text):
    return [" ".join(b.split()) for b in
            re.findall(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", text, re.S)]


# --------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def env(lab):
    """Deployed lab whose ID tokens live 40 s, and a local user (read-only) that has changed its
    one-time password. The pillar override file is restored, and Dex redeployed, at the end."""
    overrides = lab.root / "pillar" / "lab_overrides.sls"
    original = overrides.read_text() if overrides.exists() else None
    dexlab.set_overrides(lab, deep_merge(yaml.safe_load(original or "") or {},
                                         {"dexauth": {"dex": {"id_token_ttl": TTL}}}))
    try:
        ok, states, _ = dexlab.orchestrate(lab)
        assert ok, json.dumps(states)[-2000:]
        wait_until(lambda: login_page(issuer(lab), str(dexlab.ca_file(lab)), "authctl",
                                      "http://127.0.0.1:5555/callback"), timeout=60, what="Dex's login page")
        r = lab.authctl("user", "add", EMAIL, "--role", "read-only", "--password-stdin", "--break-glass",
                        stdin=PW_FIRST + "\n")
        assert r.returncode == 0, r.stdout + r.stderr
        r = lab.authctl("passwd", "--email", EMAIL, "--password-stdin", stdin=f"{PW_FIRST}\n{PW}\n")
        assert r.returncode == 0, r.stdout + r.stderr

        def ready():  # the override reached Dex, and the role reached the user
            status, body = dexlab.password_grant(lab, EMAIL, PW)
            c = dexlab.claims(body["id_token"])
            return c["exp"] - c["iat"] == 40 and lab.kubectl("get", "pods", "-n", "default",
                                                            token=body["id_token"]).returncode == 0
        wait_until(ready, timeout=120, what="40 s ID tokens and the read-only role for " + EMAIL)
        yield lab
    finally:
        lab.authctl("user", "delete", EMAIL, "--break-glass")
        if original is None:
            overrides.unlink(missing_ok=True)
        else:
            overrides.write_text(original)
        ok, states, _ = dexlab.orchestrate(lab)
        assert ok, json.dumps(states)[-2000:]


@pytest.fixture(scope="module")
def ldap(env):
    """slapd (alice in developers and ops) as IdP "corp"; group developers has Read Only."""
    with dexlab.ldap_idp(env) as slapd:
        SEEN["passwords"] |= {u["password"] for u in slapd.users.values()} | {slapd.bind_password}
        try:
            r = env.authctl("role", "grant", "--group", "developers", "--idp", "corp", "read-only", "--break-glass")
            assert r.returncode == 0, r.stdout + r.stderr
            yield slapd
        finally:
            env.authctl("role", "revoke", "--group", "developers", "--idp", "corp", "read-only", "--break-glass")


# --------------------------------------------------------------------------- tests

def test_kubeconfig_from_the_config_alone_runs_the_plugin_and_holds_no_secret(env, tmp_path_factory):
    home = new_home(tmp_path_factory, "kubeconfig")
    r = authctl_ws(home, "kubeconfig", "--config", env.root / "authctl.yaml")
    assert r.returncode == 0, r.stdout + r.stderr
    cfg = yaml.safe_load(r.stdout)
    assert cfg["apiVersion"] == "v1" and cfg["kind"] == "Config", r.stdout
    ctx = next(c["context"] for c in cfg["contexts"] if c["name"] == cfg["current-context"])
    cluster = next(c["cluster"] for c in cfg["clusters"] if c["name"] == ctx["cluster"])
    user = next(u["user"] for u in cfg["users"] if u["name"] == ctx["user"])

    assert cluster["server"] == env.summary["apiserver_url"]
    ca = base64.b64decode(cluster["certificate-authority-data"]).decode()
    assert pem_blocks(ca) and pem_blocks(ca) == pem_blocks((env.lab.pki / "ca.crt").read_text())
    assert "certificate-authority" not in cluster and not cluster.get("insecure-skip-tls-verify")

    # Nothing secret: only the exec plugin, which logs in when kubectl needs a token.
    assert set(user) == {"exec"}, user
    ex = user["exec"]
    assert ex["apiVersion"] == EXEC_API and ex["interactiveMode"] == "IfAvailable" and ex.get("installHint")
    command = Path(ex["command"])
    assert command.is_absolute() and command.name == "authctl" and os.access(command, os.X_OK), ex["command"]
    args = ex["args"]
    assert args[0] == "credential", args
    opts = dict(zip(args[1::2], args[2::2]))
    assert len(args) == 1 + 2 * len(opts), f"options without values: {args}"
    assert opts["--issuer"] == issuer(env)
    dex_ca = base64.b64decode(opts["--issuer-ca-data"]).decode()
    assert pem_blocks(dex_ca) == pem_blocks(dexlab.ca_file(env).read_text())
    assert opts["--client-id"] == "kubectl"
    scopes = opts["--scopes"].split(",")
    assert set(scopes) == SCOPES and len(scopes) == len(SCOPES), scopes
    assert "--username" not in opts and "--login" not in opts
    text = r.stdout.lower()
    for word in ("token:", "password", "client-key-data", "auth-provider", "refresh"):
        assert word not in text, f"{word!r} in the kubeconfig:\n{r.stdout}"

    # --output: the same kubeconfig, in a file only its owner reads.
    out = home / "out" / "kubeconfig"
    out.parent.mkdir()
    r2 = authctl_ws(home, "kubeconfig", "--config", env.root / "authctl.yaml", "--username", EMAIL, "--login",
                    "password", "--output", out)
    assert r2.returncode == 0, r2.stdout + r2.stderr
    SEEN["kubeconfigs"].append(out)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    args2 = user_of(out)["exec"]["args"]
    opts2 = dict(zip(args2[1::2], args2[2::2]))
    assert opts2["--username"] == EMAIL and opts2["--login"] == "password"
    assert {k: v for k, v in opts2.items() if k not in ("--username", "--login")} == opts

    # --merge: into $KUBECONFIG, keeping what is there. (Set explicitly: should ~ not follow $HOME,
    # the machine's own ~/.kube/config is left alone.)
    kube = home / ".kube"
    kube.mkdir()
    (kube / "config").write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "other",
        "clusters": [{"name": "other", "cluster": {"server": "https://other.invalid:6443"}}],
        "users": [{"name": "other", "user": {"username": "x"}}],
        "contexts": [{"name": "other", "context": {"cluster": "other", "user": "other"}}]}))
    r3 = authctl_ws(home, "kubeconfig", "--config", env.root / "authctl.yaml", "--merge",
                    env={"KUBECONFIG": str(kube / "config")})
    assert r3.returncode == 0, r3.stdout + r3.stderr
    merged = yaml.safe_load((kube / "config").read_text())
    SEEN["kubeconfigs"].append(kube / "config")
    assert {c["name"] for c in merged["contexts"]} >= {"other", cfg["current-context"]}
    assert merged["current-context"] == cfg["current-context"]
    assert stat.S_IMODE((kube / "config").stat().st_mode) == 0o600
    r4 = run([kubectl_bin(env), "config", "view", "--minify", "-o", "jsonpath={.clusters[0].cluster.server}"],
             ws_env(home, KUBECONFIG=str(kube / "config")))
    assert r4.returncode == 0 and r4.stdout == env.summary["apiserver_url"], r4.stdout + r4.stderr


def test_local_user_logs_in_once_then_reuses_refreshes_and_logs_in_again_after_a_password_change(
        env, tmp_path_factory):
    home = new_home(tmp_path_factory, "local")
    kc = make_kubeconfig(env, home, "--username", EMAIL, "--login", "password")

    login_with_password(env, home, kc)
    path, first = read_cache(home)
    claims = dexlab.claims(first["idToken"])
    assert claims["email"] == EMAIL and claims["exp"] - claims["iat"] == 40
    assert first["expiresAt"] == claims["exp"] and first.get("refreshToken")
    mtime = path.stat().st_mtime_ns

    # Two more calls while the token is good: no prompt, no Dex round trip, the cache untouched.
    kubectl_silently(env, home, kc)
    kubectl_silently(env, home, kc)
    if time.time() >= refresh_at(first):
        pytest.fail("the two calls outlasted the token's use window (30 s of a 40 s token): cannot tell reuse "
                    "from refresh on a machine this slow")
    _, again = read_cache(home)
    assert again["idToken"] == first["idToken"]
    assert path.stat().st_mtime_ns == mtime, "the cache file was rewritten although its token was still good"

    # Past the margin: refreshed silently.
    wait_until_refresh_due(first)
    kubectl_silently(env, home, kc)
    _, refreshed = read_cache(home)
    assert refreshed["idToken"] != first["idToken"]
    assert dexlab.claims(refreshed["idToken"])["iat"] > claims["iat"]
    assert dexlab.claims(refreshed["idToken"])["email"] == EMAIL

    # A password change revokes the refresh token: once the ID token is due, a new login.
    r = env.authctl("passwd", "--email", EMAIL, "--password-stdin", stdin=f"{PW}\n{PW_CHANGED}\n")
    assert r.returncode == 0, r.stdout + r.stderr
    CURRENT["password"] = PW_CHANGED
    wait_until_refresh_due(refreshed)
    with pty_kubectl(env, home, kc) as t:
        t.expect(r"log in again", timeout=120)
        t.expect(PROMPT, timeout=60)
        t.send_secret(PW_CHANGED)
        t.expect(LISTED, timeout=60)
        code = finish(t)
    assert code == 0, t.transcript
    assert len(re.findall(PROMPT, t.transcript)) == 1, t.transcript
    _, relogged = read_cache(home)
    assert relogged["idToken"] != refreshed["idToken"]


def test_parallel_plugin_calls_share_one_refresh(env, tmp_path_factory):
    home = new_home(tmp_path_factory, "parallel")
    kc = make_kubeconfig(env, home, "--username", EMAIL, "--login", "password")
    login_with_password(env, home, kc)
    _, first = read_cache(home)
    wait_until_refresh_due(first)

    # As kubectl runs the plugin: no terminal, KUBERNETES_EXEC_INFO says not interactive.
    argv = [str(a) for a in exec_argv(kc)]
    pe = ws_env(home, KUBERNETES_EXEC_INFO=NON_INTERACTIVE)
    procs = [subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=pe, start_new_session=True) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    for p, (out, err) in zip(procs, outs):
        SEEN["transcripts"].append(("stderr of a parallel authctl credential", err))
        assert p.returncode == 0, f"exit {p.returncode}\nstdout: {out}\nstderr: {err}"
    creds = [json.loads(out) for out, _ in outs]
    for c in creds:
        assert c["apiVersion"] == EXEC_API and c["kind"] == "ExecCredential", c
        assert c["status"]["token"] and c["status"]["expirationTimestamp"]
    tokens = {c["status"]["token"] for c in creds}
    assert len(tokens) == 1, "the two calls refreshed separately"
    token = tokens.pop()
    SEEN["tokens"].add(token)
    assert token != first["idToken"]
    _, cached = read_cache(home)
    assert cached["idToken"] == token
    stamp = creds[0]["status"]["expirationTimestamp"]
    assert datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() == dexlab.claims(token)["exp"], stamp

    # Two kubectl calls at once, past the next refresh time: both get through.
    wait_until_refresh_due(cached)
    procs = [subprocess.Popen([kubectl_bin(env), "--kubeconfig", str(kc), "get", "pods", "-n", "default"],
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=ws_env(home), start_new_session=True) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    for p, (out, err) in zip(procs, outs):
        SEEN["transcripts"].append(("stderr of a parallel kubectl", err))
        assert p.returncode == 0, f"exit {p.returncode}\nstdout: {out}\nstderr: {err}"
    _, after = read_cache(home)
    assert after["idToken"] != cached["idToken"]


def test_without_a_terminal_and_without_a_token_kubectl_fails_at_once_with_a_hint(env, tmp_path_factory):
    home = new_home(tmp_path_factory, "no-tty")
    kc = make_kubeconfig(env, home)
    r = run([kubectl_bin(env), "--kubeconfig", kc, "get", "ns"], ws_env(home), timeout=30)
    assert r.returncode != 0, r.stdout
    assert "no valid token" in r.stderr, r.stderr
    assert "authctl credential" in r.stderr or "terminal" in r.stderr, r.stderr
    assert "exit code 7" in r.stderr, r.stderr  # kubectl names the plugin's status
    # The plugin alone, as kubectl runs it when it has no terminal.
    r = run(exec_argv(kc), ws_env(home, KUBERNETES_EXEC_INFO=NON_INTERACTIVE), timeout=30)
    assert r.returncode == 7, r.stdout + r.stderr
    assert "no valid token" in r.stderr and r.stdout.strip() == "", r.stdout + r.stderr
    # Run by hand in a script (no KUBERNETES_EXEC_INFO): no /dev/tty to open, so not interactive either.
    r = run(exec_argv(kc), ws_env(home), timeout=30)
    assert r.returncode == 7 and "no valid token" in r.stderr, r.stdout + r.stderr
    assert not list(cache_dir_of(home).glob("*.json"))


def test_ldap_user_logs_in_with_the_device_flow_then_the_browser_flow(env, ldap, tmp_path_factory):
    alice = ldap.users["alice"]
    home = new_home(tmp_path_factory, "alice")
    dex_ca = [str(dexlab.ca_file(env))]

    # Device flow: the terminal shows a URL and a code; the user completes it in a browser.
    kc = make_kubeconfig(env, home, "--login", "device")
    with Browser(ca_files=dex_ca) as b, pty_kubectl(env, home, kc) as t:
        m = t.expect(r"To log in, open (\S+) and enter the code (\S+)", timeout=120)
        uri, code = m.group(1), m.group(2)
        complete = t.expect(r"\(or open (\S+)\)", timeout=30).group(1)
        SEEN["cmdlines"] += descendants_cmdlines(t.pid)
        assert uri.startswith(issuer(env) + "/device"), uri
        assert urllib.parse.parse_qs(urllib.parse.urlsplit(complete).query).get("user_code") == [code], complete
        result = complete_dex_login(b, complete, "corp", "alice", alice["password"], shots="kubectl-device")
        assert result.kind == "device", result
        t.expect(LISTED, timeout=60)
        assert finish(t) == 0, t.transcript
    _, entry = read_cache(home)
    assert dexlab.claims(entry["idToken"])["email"] == alice["email"]

    r = authctl_ws(home, "whoami", "--kubeconfig", kc)
    print("authctl whoami (device flow):\n" + r.stdout + r.stderr)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = dict(line.split(":", 1) for line in r.stdout.splitlines() if ":" in line and not line.startswith(" "))
    assert lines.get("username", "").strip() == "oidc:corp:" + alice["email"], r.stdout
    groups = {g.strip() for g in lines.get("groups", "").split(",")}
    assert {"oidc:corp:developers", "oidc:corp:ops"} <= groups, r.stdout

    # Logout forgets every cached login.
    r = authctl_ws(home, "logout")
    print("authctl logout:\n" + r.stdout + r.stderr)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip(), "logout must say what it removed"
    assert not list(cache_dir_of(home).glob("*.json"))
    r = run([kubectl_bin(env), "--kubeconfig", kc, "get", "pods", "-n", "default"], ws_env(home), timeout=30)
    assert r.returncode != 0 and "no valid token" in r.stderr, r.stderr

    # Browser flow: a loopback redirect; BROWSER=true opens nothing, the user opens the printed URL.
    kc2 = make_kubeconfig(env, home, "--login", "browser", name="kubeconfig-browser")
    with Browser(ca_files=dex_ca) as b, pty_kubectl(env, home, kc2) as t:
        url = t.expect(r"Open this URL in a browser to log in:\s*\n\s*(\S+)", timeout=120).group(1)
        SEEN["cmdlines"] += descendants_cmdlines(t.pid)
        u = urllib.parse.urlsplit(url)
        q = urllib.parse.parse_qs(u.query)
        assert url.startswith(issuer(env) + "/auth"), url
        assert q["client_id"] == ["kubectl"] and re.fullmatch(r"http://127\.0\.0\.1:\d+/callback",
                                                             q["redirect_uri"][0]), url
        result = complete_dex_login(b, url, "corp", "alice", alice["password"], shots="kubectl-browser")
        assert result.kind == "callback", result
        t.expect(LISTED, timeout=60)
        assert finish(t) == 0, t.transcript
    r = authctl_ws(home, "whoami", "--kubeconfig", kc2)
    print("authctl whoami (browser flow):\n" + r.stdout + r.stderr)
    assert r.returncode == 0 and "oidc:corp:" + alice["email"] in r.stdout, r.stdout + r.stderr
    read_cache(home)


def test_no_token_or_password_in_files_arguments_terminals_or_dex_logs(env):
    assert SEEN["tokens"], "no token was seen: the tests before this one did not run"
    secrets = {s for s in SEEN["tokens"] | SEEN["passwords"] if s}
    hits = []

    cached = []
    for home in SEEN["homes"]:
        d = cache_dir_of(home)
        if not d.exists():
            continue
        assert stat.S_IMODE(d.stat().st_mode) == 0o700, f"{d} has mode {oct(d.stat().st_mode)}"
        for f in d.iterdir():
            assert stat.S_IMODE(f.stat().st_mode) == 0o600, f"{f} has mode {oct(f.stat().st_mode)}"
            if f.suffix == ".json":
                cached.append(f)
    # The token cache holds tokens by design: only passwords are out of place there.
    hits += [f"{f}: a password" for f in find_secrets(SEEN["passwords"], cached)]

    assert SEEN["kubeconfigs"]
    hits += [f"kubeconfig {kc}" for kc in find_secrets(secrets, SEEN["kubeconfigs"])]

    assert SEEN["cmdlines"] and any(" credential " in c for c in SEEN["cmdlines"]), SEEN["cmdlines"]
    assert SEEN["transcripts"]
    hits += find_secrets(secrets, texts=[(f"command line {c[:200]}", c) for c in SEEN["cmdlines"]]
                         + SEEN["transcripts"])

    logs = env.root / "logs"  # kubelet's pods/dexauth_dex-.../dex/0.log
    dex_logs = [p for p in logs.rglob("*") if p.is_file() and "dex" in str(p.relative_to(logs)).lower()]
    assert dex_logs, f"no Dex log file found under {env.root / 'logs'}: nothing was scanned"
    hits += [f"Dex log {p}" for p in find_secrets(secrets, dex_logs)]  # fails if the logs are empty
    assert hits == [], hits
