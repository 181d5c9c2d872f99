"""End to end: single sign-on between admin UIs and Grafana's contract, on the real lab with a real
nginx (Debian's) as the ingress controller doing auth_request to the account service, and real
headless Chromium.

nginx is the admin host's one origin: it serves the console (<console path>, proxied to the account
service over verified HTTPS) and the admin UIs, so the console's session cookie is theirs too, and
pillar dexauth:account:public_url points at it (Dex sends the console's logins back there). The UIs
are stand-ins that show the headers they receive; one reads the generated grafana.ini as Grafana's
auth proxy does. Grafana's generic OAuth is checked as a contract: its Dex client, its Secret, a
browser login with PKCE that returns a code, and the generated JMESPath role expression evaluated on
ID tokens of each role with the `jmespath` library."""
import base64
import hashlib
import json
import secrets
import tempfile
import urllib.parse
from pathlib import Path

import jmespath
import pytest
import yaml

import dexlab
from support import TestCA, assert_no_secrets, free_port
from support.browser import Browser
from support.sso import IDENTITY_HEADERS, GrafanaAuthProxyUi, HeaderEchoUi, Nginx, cleanup

NS = "dexauth"
UI_NS = "sso-uis"
CONSOLE = "/account"
ROLES = {"cluster-admin": "Admin", "solution-admin": "Editor", "read-only": "Viewer"}
SECRETS = []


def admin_uis(with_oauth=True):
    uis = [
        {"name": "ui-a", "path": "/ui-a", "namespace": UI_NS, "service": {"name": "ui-a", "port": 8080},
         "mode": "forward-auth"},
        {"name": "grafana", "path": "/grafana", "namespace": UI_NS, "service": {"name": "grafana", "port": 3000},
         "mode": "forward-auth", "app": "grafana"},
    ]
    if with_oauth:
        uis.append({"name": "grafana-oauth", "path": "/grafana-oauth", "namespace": UI_NS,
                    "service": {"name": "grafana-oauth", "port": 3000}, "mode": "oidc", "app": "grafana"})
    return uis


def overrides(nginx_port, with_oauth=True):
    return {"dexauth": {"account": {"public_url": f"https://127.0.0.1:{nginx_port}{CONSOLE}",
                                    "trusted_proxies": ["127.0.0.1"]},
                        "admin_uis": admin_uis(with_oauth)}}


def kube_json(lab, *args):
    r = lab.kubectl(*args, "-o", "json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def secret_data(lab, ns, name):
    return {k: base64.b64decode(v).decode() for k, v in kube_json(lab, "-n", ns, "get", "secret", name)["data"].items()}


def dex_clients(lab):
    return {c["id"]: c for c in dexlab.dex_config(lab, NS)["staticClients"]}


def new_password():
    pw = f"Sso-{secrets.token_hex(6)}-Kq"
    SECRETS.append(pw)
    return pw


def add_user(lab, email, role=None):
    """A user of ``role`` (None: no role) who has changed the one-time password: (email, password)."""
    first, chosen = new_password(), new_password()
    r = lab.authctl("user", "add", email, *(["--role", role] if role else []), "--break-glass", "--password-stdin",
                    stdin=first + "\n")
    assert r.returncode == 0, r.stderr
    # Straight to the account service: authctl trusts the cluster's CA, not the admin host's test CA.
    direct = lab.root / "authctl-direct.yaml"
    if not direct.exists():
        cfg = yaml.safe_load((lab.root / "authctl.yaml").read_text())
        cfg["account"] = {"url": f"https://127.0.0.1:{lab.ports['account_https']}{CONSOLE}"}
        direct.write_text(yaml.safe_dump(cfg))
    r = lab.authctl("passwd", "--email", email, "--password-stdin", stdin=f"{first}\n{chosen}\n",
                    env={"AUTHCTL_HOME": str(lab.root / f"home-{email}"), "AUTHCTL_CONFIG": str(direct)})
    assert r.returncode == 0, r.stderr
    return email, chosen


class Site:
    """The admin host (nginx), its UIs and the users of each role."""

    def __init__(self, lab, nginx, ui_a, grafana, oauth_ui, nginx_ca, users):
        self.lab, self.nginx, self.ui_a, self.grafana, self.oauth_ui = lab, nginx, ui_a, grafana, oauth_ui
        self.nginx_ca, self.users = nginx_ca, users

    def browser(self, name):
        return Browser(ca_files=[dexlab.ca_file(self.lab), self.nginx_ca], name=f"sso-{name}")

    def get(self, path, cookie=None, headers=None):
        """A request by hand (no browser, no redirect followed): (status, Location, body)."""
        headers = dict(headers or {})
        if cookie:
            headers["Cookie"] = cookie
        return dexlab.raw_request(self.nginx.url + path, self.nginx_ca, headers=headers)


@pytest.fixture(scope="module")
def site(lab):
    nginx_port = free_port()
    lab.kubectl("create", "namespace", UI_NS)
    dexlab.set_overrides(lab, overrides(nginx_port))
    ok, states, _ = dexlab.orchestrate(lab)
    assert ok, dexlab.failures(states)
    grafana_ini = kube_json(lab, "-n", UI_NS, "get", "configmap", "dexauth-grafana-grafana")["data"]["grafana.ini"]
    tmp = Path(tempfile.mkdtemp(prefix="sso-", dir=lab.root))  # removed with the lab
    ui_a = grafana = oauth_ui = nginx = None
    try:
        ui_a = HeaderEchoUi("ui-a")
        grafana = GrafanaAuthProxyUi("grafana", grafana_ini)
        oauth_ui = HeaderEchoUi("grafana-oauth")
        ca = TestCA(tmp, "admin-host")
        nginx = Nginx(lab.ports["account_https"], dexlab.ca_file(lab), f"dex-account.{NS}.svc", CONSOLE,
                      [("/ui-a", ui_a.port, True), ("/grafana", grafana.port, True),
                       ("/grafana-oauth", oauth_ui.port, False)], ca, port=nginx_port)
        users = {role: add_user(lab, f"sso-{role}@lab.local", role) for role in ROLES}
        users[None] = add_user(lab, "sso-norole@lab.local")
        yield Site(lab, nginx, ui_a, grafana, oauth_ui, ca.cert_path, users)
    finally:
        cleanup(nginx, ui_a, grafana, oauth_ui)
        # The lab is shared with the modules after this one: back to its own console URL, no admin UIs.
        dexlab.set_overrides(lab, {})
        ok, states, _ = dexlab.orchestrate(lab)
        assert ok, dexlab.failures(states)


def log_in_at(b, url, email, password):
    """Opens ``url`` on the admin host, which sends the browser to Dex's form; logs in there."""
    b.open(url)
    b.wait_for(lambda: b.find("input[name=login]"), what="Dex's login form")
    b.fill({"login": email, "password": password})
    b.submit("login")
    b.wait_for(lambda: b.url.startswith(url.split("?")[0]), what=f"back on {url}")


def headers_shown(b):
    """The headers the UI received, once its page shows (a refusal or error page instead fails with its text)."""
    return json.loads(b.wait_for(lambda: b.find("#headers"), what="the UI's page")[0].text)


@pytest.mark.parametrize("role", list(ROLES))
def test_one_login_opens_every_admin_ui_with_the_role_of_the_user(site, role):
    email, password = site.users[role]
    with site.browser(role) as b:
        log_in_at(b, site.nginx.url + "/ui-a/", email, password)
        seen = headers_shown(b)
        assert seen["X-Auth-Request-User"] == email and seen["X-Auth-Request-Email"] == email
        assert seen["X-Auth-Request-Role"] == role and seen["X-Auth-Request-Grafana-Role"] == ROLES[role]
        b.screenshot(f"sso-ui-a-{role}")
        # The second UI: no password form, the same person, Grafana's role from the auth proxy headers.
        b.open(site.nginx.url + "/grafana/")
        b.wait_for(lambda: b.find("#user") or b.find("input[name=login]"), what="Grafana's page")
        assert not b.find("input[name=login]"), "single sign-on: no second password form"
        assert b.find("#user")[0].text == email and b.find("#role")[0].text == ROLES[role]
        b.screenshot(f"sso-grafana-{role}")


def test_a_person_without_a_role_gets_a_refusal_page(site):
    email, password = site.users[None]
    before = len(site.ui_a.requests)
    with site.browser("norole") as b:
        b.open(site.nginx.url + "/ui-a/")
        b.wait_for(lambda: b.find("input[name=login]"), what="Dex's login form")
        b.fill({"login": email, "password": password})
        b.submit("login")
        b.wait_for(lambda: "Not allowed" in b.text(), what="the refusal page")
        assert "hold no role" in b.text()
        b.screenshot("sso-refused")
        b.open(site.nginx.url + "/grafana/")
        b.wait_for(lambda: "Not allowed" in b.text(), what="the refusal page of the second UI")
    assert len(site.ui_a.requests) == before, "the UI never saw the person"


def test_logout_on_the_console_ends_the_session_of_every_ui(site):
    email, password = site.users["read-only"]
    with site.browser("logout") as b:
        log_in_at(b, site.nginx.url + "/grafana/", email, password)
        assert b.find("#user")[0].text == email
        b.open(site.nginx.url + CONSOLE + "/")
        b.driver.find_element("css selector", "form[action$='/logout'] button").click()
        b.wait_for(lambda: "Logged out" in b.text(), what="the logout page")
        for path in ("/ui-a/", "/grafana/"):
            b.open(site.nginx.url + path)
            b.wait_for(lambda: b.find("input[name=login]"), what=f"Dex's login form again for {path}")


def test_identity_headers_sent_by_a_client_and_the_session_cookie_never_reach_a_ui(site):
    email, password = site.users["solution-admin"]
    with site.browser("forged") as b:
        log_in_at(b, site.nginx.url + "/ui-a/", email, password)
        session = next(c["value"] for c in b.driver.get_cookies() if c["name"] == "dexauth_console")
    SECRETS.append(session)
    forged = {h: "admin@lab.local" if h.endswith(("User", "Email")) else "Admin" for h in IDENTITY_HEADERS}
    forged["X-Auth-Request-Groups"] = "system:masters"
    forged["X-WEBAUTH-USER"] = "admin"
    # Without a session: the login, and the UI sees nothing.
    before = len(site.ui_a.requests)
    status, location, _ = site.get("/ui-a/x", headers=forged)
    assert status == 302 and location.endswith(f"{CONSOLE}/login?return=/ui-a/x"), (status, location)
    assert len(site.ui_a.requests) == before
    # With one: the UI gets the person's identity, not the client's; the session cookie is gone, others stay.
    for path, ui in (("/ui-a/y", site.ui_a), ("/grafana/y", site.grafana)):
        status, _, body = site.get(path, cookie=f"theme=dark; dexauth_console={session}; lang=en", headers=forged)
        assert status == 200, body
        seen = ui.requests[-1]
        assert seen["X-Auth-Request-User"] == email and seen["X-Auth-Request-Role"] == "solution-admin"
        assert seen["X-Auth-Request-Grafana-Role"] == "Editor" and "X-Auth-Request-Groups" not in seen, seen
        assert "dexauth_console" not in seen.get("Cookie", "") and seen["Cookie"] == "theme=dark; lang=en", seen
    # Other headers pass untouched (urllib sends it as X-webauth-user): Grafana reads only X-Auth-Request-User.
    passed = {k.lower(): v for k, v in site.grafana.requests[-1].items()}
    assert passed.get("x-webauth-user") == "admin" and site.grafana.page("127.0.0.1", {"X-WEBAUTH-USER": "admin"})[0] == 401


def pkce_login(site, b, client_id, redirect_uri, email, password):
    """Dex's authorization-code flow with PKCE (S256) in the browser: the code Dex returns."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    state = secrets.token_urlsafe(12)
    issuer = dexlab.pillar(site.lab)["issuer"]
    query = urllib.parse.urlencode({"client_id": client_id, "redirect_uri": redirect_uri, "response_type": "code",
                                    "scope": "openid email profile groups federated:id", "state": state,
                                    "code_challenge": challenge, "code_challenge_method": "S256"})
    b.open(f"{issuer}/auth?{query}")
    b.wait_for(lambda: b.find("input[name=login]"), what="Dex's login form")
    b.fill({"login": email, "password": password})
    b.submit("login")
    b.wait_for(lambda: b.url.startswith(redirect_uri), what="Grafana's callback")
    params = urllib.parse.parse_qs(urllib.parse.urlparse(b.url).query)
    assert params["state"] == [state]
    return params["code"][0], verifier


def grafana_oauth_settings(lab):
    import configparser
    data = secret_data(lab, UI_NS, "dexauth-grafana-oauth-oidc")
    ini = configparser.ConfigParser(interpolation=None)
    ini.read_string(data["grafana.ini"])
    return data, ini["auth.generic_oauth"]


def test_grafana_generic_oauth_is_a_dex_client_with_pkce_and_a_strict_role_expression(site):
    lab = site.lab
    data, oauth = grafana_oauth_settings(lab)
    SECRETS.append(data["client-secret"])
    client_id = "admin-ui-grafana-oauth"
    redirect = f"{site.nginx.url}/grafana-oauth/login/generic_oauth"
    assert data["client-id"] == client_id and data["issuer"] == dexlab.pillar(lab)["issuer"]
    assert data["ca.crt"] == dexlab.ca_file(lab).read_text()
    assert data["client-secret"] == secret_data(lab, NS, "dex-client-secrets")[client_id]
    assert dex_clients(lab)[client_id]["redirectURIs"] == [redirect]
    assert oauth["use_pkce"] == "true" and oauth["role_attribute_strict"] == "true"
    assert oauth["tls_client_ca"].endswith("/ca.crt") and oauth["tls_skip_verify_insecure"] == "false"
    assert oauth["client_secret"].startswith("$__file{") and data["client-secret"] not in data["grafana.ini"]
    # The role expression lists the holders of each role: dexauth.roles (as its schedule does) regenerates it.
    # (Its run, not a queued one: salt-call's queue=True returns before the run, and an expression read
    # then is the one of an earlier run, from before the fixture's last users had their roles.)
    dexlab.apply_roles_state(lab)
    _, oauth = grafana_oauth_settings(lab)
    expression = oauth["role_attribute_path"]
    email, password = site.users["read-only"]
    with site.browser("oauth") as b:
        code, verifier = pkce_login(site, b, client_id, redirect, email, password)
        b.screenshot("sso-generic-oauth-callback")
    status, body = dexlab.token_request(lab, {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect,
                                       "client_id": client_id, "client_secret": data["client-secret"],
                                       "code_verifier": verifier})
    assert status == 200, body
    SECRETS.append(body["id_token"])
    claims = dexlab.claims(body["id_token"])
    assert claims.get("federated_claims", {}).get("connector_id") == "local", claims
    assert jmespath.search(expression, claims) == "Viewer", expression
    status, _ = dexlab.token_request(lab, {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect,
                                    "client_id": client_id, "client_secret": data["client-secret"],
                                    "code_verifier": "wrong"})
    assert status != 200, "a code is redeemed once, and only with its verifier"
    for role, (email, password) in site.users.items():
        status, body = dexlab.password_grant(lab, email, password, audience=False)
        assert status == 200, body
        SECRETS.append(body["id_token"])
        assert jmespath.search(expression, dexlab.claims(body["id_token"])) == (ROLES[role] if role else ""), role


def test_a_rerun_changes_nothing_and_a_removed_ui_loses_its_client_secret_and_ingress(site):
    lab = site.lab
    ok, states, _ = dexlab.orchestrate(lab)
    assert ok, dexlab.failures(states)
    assert dexlab.changed_states(states) == []
    dexlab.set_overrides(lab, overrides(site.nginx.port, with_oauth=False))
    ok, states, _ = dexlab.orchestrate(lab)
    assert ok, dexlab.failures(states)
    assert lab.kubectl("-n", UI_NS, "get", "secret", "dexauth-grafana-oauth-oidc").returncode != 0
    assert lab.kubectl("-n", UI_NS, "get", "ingress", "dexauth-grafana-oauth").returncode != 0
    assert "admin-ui-grafana-oauth" not in secret_data(lab, NS, "dex-client-secrets")
    assert "admin-ui-grafana-oauth" not in dex_clients(lab)
    ingress = kube_json(lab, "-n", UI_NS, "get", "ingress", "dexauth-ui-a")
    notes = ingress["metadata"]["annotations"]
    assert notes["nginx.ingress.kubernetes.io/auth-url"] == f"https://dex-account.{NS}.svc.cluster.local:" \
        f"{lab.ports['account_https']}{CONSOLE}/auth/verify"
    assert "dexauth_console" in notes["nginx.ingress.kubernetes.io/configuration-snippet"]
    ok, states, _ = dexlab.orchestrate(lab)
    assert ok and dexlab.changed_states(states) == [], dexlab.failures(states)


def test_no_password_or_token_in_the_logs_of_nginx_and_the_account_service(site):
    assert SECRETS
    logs = [site.nginx.root / "access.log", site.nginx.root / "error.log",
            *site.lab.pod_logs("deploy-dexauth-dex-account")]
    assert_no_secrets(SECRETS, paths=[p for p in logs if p.exists()])
