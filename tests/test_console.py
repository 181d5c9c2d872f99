"""End to end: the web console and the JSON API of the account service, on the real lab (Salt,
kube-apiserver, Dex, the account service run from its Deployment) with real headless Chromium.

What a user sees: the themed Dex page, the forced first-access change, the user admin pages of a
Cluster Admin, a Read Only user's lists without controls, refusals of forged requests, logout,
`authctl` from a machine that has only the issuer, the CA and the console's URL; and no password
or token in the service's log, in Events or in any page."""
import json
import os
import urllib.parse

import pytest
import yaml

import dexlab
from support import assert_no_secrets, wait_until
from support.browser import Browser

NS = "dexauth"
ACCOUNT_POD = "deploy-dexauth-dex-account"
SOLUTION_NS = "console-shop"

# Everything secret this module typed or received, and the pages it saw: the last test scans for them.
SECRETS = []
PAGES = {}


@pytest.fixture(scope="module")
def console(lab):
    ok, states, _ = dexlab.orchestrate(lab)
    assert ok, dexlab.failures(states)
    lab.kubectl("create", "namespace", SOLUTION_NS)
    lab.kubectl("label", "namespace", SOLUTION_NS, "dexauth.io/solution=true", "--overwrite")
    return lab


def console_url(lab):
    return yaml.safe_load((lab.root / "authctl.yaml").read_text())["account"]["url"]


def admin_email(lab):
    return dexlab.pillar(lab)["superadmin"]["email"]


def new_password(tag):
    # Never the tag itself: tags are users' names, and a password holding the email's name part is refused.
    pw = f"Orbit-{os.urandom(5).hex()}-{len(tag)}Q"
    SECRETS.append(pw)
    return pw


def browser(lab):
    b = Browser(ca_files=[dexlab.ca_file(lab)], name="console")
    b.driver.set_window_size(1280, 900)
    return b


def keep(b, name, secret_page=False):
    """Screenshot of the page (build/screenshots/console-<name>.png); its source is scanned for
    secrets later, except the one page meant to show a one-time password."""
    b.screenshot(f"console-{name}")
    if not secret_page:
        PAGES[name] = b.driver.page_source


def log_in(b, lab, email, password, start="/"):
    """Opens the console, which sends the browser to Dex's page; logs in there."""
    b.open(console_url(lab) + start)
    b.wait_for(lambda: b.find("input[name=login]"), what="Dex's login form")
    b.fill({"login": email, "password": password})
    b.submit("login")
    b.wait_for(lambda: b.url.startswith(console_url(lab)), what="back on the console")


def csrf(b):
    return b.find("input[name=csrf]")[0].get_attribute("value")


def raw(lab, method, path, cookie=None, form=None, headers=None):
    """A hand-made request (no browser): (status, Location, body)."""
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    headers = dict(headers or {})
    if cookie:
        headers["Cookie"] = f"dexauth_console={cookie}"
    return dexlab.raw_request(console_url(lab) + path, dexlab.ca_file(lab), method, data, headers)


def session_cookie(b):
    return next(c["value"] for c in b.driver.get_cookies() if c["name"] == "dexauth_console")


def token_of(lab, email, password):
    status, body = dexlab.password_grant(lab, email, password)
    assert status == 200, body
    SECRETS.append(body["id_token"])
    return body["id_token"]


def can(lab, token, *args):
    r = lab.kubectl("auth", "can-i", *args, token=token)
    return r.stdout.strip() == "yes"


def test_the_superadmin_is_forced_to_change_the_one_time_password_then_reaches_the_user_list(console):
    lab = console
    email = admin_email(lab)
    one_time = new_password("bootstrap")
    # A must-change super-admin with a one-time password, as the bootstrap leaves it.
    r = lab.authctl("user", "passwd", email, "--break-glass", "--password-stdin", stdin=one_time + "\n")
    assert r.returncode == 0, r.stderr
    dexlab.record_superadmin_password(lab, one_time, one_time=True)
    chosen = new_password("admin")
    with browser(lab) as b:
        b.open(console_url(lab) + "/users")
        b.wait_for(lambda: b.find("input[name=login]"), what="Dex's themed login page")
        assert "Sign in" in b.text() and b.find("link[href$='theme/styles.css']"), b.text()
        keep(b, "01-login")
        b.fill({"login": email, "password": one_time})
        b.submit("login")
        b.wait_for(lambda: b.url.endswith("/account/password"), what="the forced password form")
        assert "Choose a new password" in b.text() and "Users" not in [t for t, _ in b.links()]
        keep(b, "02-forced-change")
        b.open(console_url(lab) + "/users")  # nothing else is reachable before the change
        b.wait_for(lambda: b.url.endswith("/account/password"), what="still the password form")
        b.fill({"current": "not-the-password", "new": chosen, "again": chosen})
        b.submit("current")
        assert "current password is wrong" in b.text(), b.text()
        keep(b, "03-wrong-current-password")
        b.fill({"current": one_time, "new": chosen, "again": chosen})
        b.submit("current")
        b.wait_for(lambda: "Your password was changed" in b.text(), what="the console after the change")
        dexlab.record_superadmin_password(lab, chosen)
        assert "Cluster Admin" in b.text()
        keep(b, "04-my-account")
        b.click_link("Users")
        assert email in [r.text for r in b.find("#users td a")]
        keep(b, "05-users")
    status, body = dexlab.password_grant(lab, email, one_time)
    assert status in (400, 401), f"the one-time password still logs in: {status} {body}"
    assert can(lab, token_of(lab, email, chosen), "create", "clusterrolebindings"), "the roles apply at once"


def test_a_cluster_admin_creates_a_user_who_changes_the_password_and_sees_only_their_account(console):
    lab = console
    with browser(lab) as b:
        log_in(b, lab, admin_email(lab), dexlab.superadmin_password(lab), start="/users")
        b.fill({"email": "shop-admin@lab.local", "username": "Shop Admin"})
        b.driver.find_element("css selector", "input[name=role][value=solution-admin]").click()
        b.submit("email")
        b.wait_for(lambda: b.find("#one-time-password"), what="the one-time password, shown once")
        one_time = b.find("#one-time-password")[0].text.strip()
        SECRETS.append(one_time)
        keep(b, "06-user-created", secret_page=True)
        b.click_link("Done")
        assert "must change password" in b.text() and "Solution Admin" in b.text()
        keep(b, "07-user")
    chosen = new_password("shop")
    with browser(lab) as b:
        log_in(b, lab, "shop-admin@lab.local", one_time)
        b.wait_for(lambda: b.url.endswith("/account/password"), what="the forced change")
        b.fill({"current": one_time, "new": chosen, "again": chosen})
        b.submit("current")
        b.wait_for(lambda: "Your password was changed" in b.text(), what="their account")
        links = [t for t, _ in b.links()]
        assert "Users" not in links and "Group roles" not in links, links
        assert "Solution Admin" in b.find("#me-roles")[0].text
        keep(b, "08-solution-admin-account")
        b.open(console_url(lab) + "/users")
        assert "Not allowed" in b.text(), b.text()
    token = token_of(lab, "shop-admin@lab.local", chosen)
    assert wait_until(lambda: can(lab, token, "create", "deployments", "-n", SOLUTION_NS), 60,
                      "the Solution Admin binding in the solution namespace")
    assert not can(lab, token, "create", "deployments", "-n", "default")


@pytest.fixture(scope="module")
def reader(console):
    """A Read Only user made with the CLI through the account service (as the logged-in admin)."""
    lab = console
    first, chosen = new_password("reader"), new_password("reader")
    admin = {"AUTHCTL_HOME": str(lab.root / "console-admin-home")}
    r = lab.authctl("login", "--email", admin_email(lab), "--password-stdin", stdin=dexlab.superadmin_password(lab) + "\n",
                    env=admin)
    assert r.returncode == 0, r.stderr
    r = lab.authctl("user", "add", "reader@lab.local", "--role", "read-only", "--password-stdin", stdin=first + "\n",
                    env=admin)
    assert r.returncode == 0, r.stderr
    r = lab.authctl("passwd", "--email", "reader@lab.local", "--password-stdin", stdin=f"{first}\n{chosen}\n",
                    env={"AUTHCTL_HOME": str(lab.root / "reader-home")})
    assert r.returncode == 0, r.stderr
    return "reader@lab.local", chosen


def test_read_only_sees_lists_without_controls_and_forged_posts_are_refused(console, reader):
    lab = console
    email, password = reader
    with browser(lab) as b:
        log_in(b, lab, email, password, start="/users")
        assert email in b.text() and admin_email(lab) in b.text()
        assert not b.find("#add-user") and not b.find("input[name=email]"), "no add form for Read Only"
        keep(b, "09-read-only-users")
        b.open(console_url(lab) + "/users/" + admin_email(lab))
        assert not b.find("form[action$='/reset']") and "Delete" not in b.text()
        keep(b, "10-read-only-user")
        cookie, token = session_cookie(b), csrf(b)
        # A hand-made POST with the valid session and its CSRF token: Kubernetes refuses it.
        status, _, body = raw(lab, "POST", "/users", cookie, {"csrf": token, "email": "forged@lab.local",
                                                                "role": "cluster-admin"})
        assert status == 403 and "not allowed" in body.lower(), (status, body[:300])
        r = lab.authctl("user", "show", "forged@lab.local", "--break-glass")
        assert r.returncode == 5, "the forged user must not exist"
        # Without the CSRF token, or from another origin: refused before anything is tried.
        status, _, body = raw(lab, "POST", f"/users/{admin_email(lab)}/delete", cookie, {})
        assert status == 403 and "Request refused" in body
        status, _, _ = raw(lab, "POST", f"/users/{admin_email(lab)}/delete", cookie, {"csrf": token},
                           headers={"Origin": "https://evil.example"})
        assert status == 403
        # An unknown session goes to the login; so does the old one after logout.
        status, location, _ = raw(lab, "GET", "/users", "not-a-session")
        assert status in (302, 303) and "/login" in location
        b.driver.find_element("css selector", "form[action$='/logout'] button").click()
        b.wait_for(lambda: "Logged out" in b.text(), what="the logout page")
        assert "no logout endpoint" in b.text()
        keep(b, "11-logged-out")
        status, location, _ = raw(lab, "GET", "/users", cookie)
        assert status in (302, 303) and "/login" in location, "logout ended the session"


def test_authctl_without_root_from_a_copy_that_knows_only_the_issuer_ca_and_console(console, tmp_path):
    lab = console
    cfg = yaml.safe_load((lab.root / "authctl.yaml").read_text())
    ca = tmp_path / "ca.crt"
    ca.write_bytes(dexlab.ca_file(lab).read_bytes())
    workstation = tmp_path / "authctl.yaml"
    workstation.write_text(yaml.safe_dump({"dex": {"issuer": cfg["dex"]["issuer"], "caFile": str(ca)},
                                           "account": {"url": cfg["account"]["url"]}}))
    env = {"AUTHCTL_CONFIG": str(workstation), "AUTHCTL_HOME": str(tmp_path / "home")}
    r = lab.authctl("login", "--email", admin_email(lab), "--password-stdin", stdin=dexlab.superadmin_password(lab) + "\n",
                    env=env)
    assert r.returncode == 0, r.stderr
    first, chosen = new_password("remote"), new_password("remote")
    r = lab.authctl("user", "add", "remote@lab.local", "--role", "read-only", "--password-stdin", stdin=first + "\n",
                    env=env)
    assert r.returncode == 0, r.stderr
    r = lab.authctl("user", "list", "-o", "json", env=env)
    assert r.returncode == 0 and "remote@lab.local" in {u["email"] for u in json.loads(r.stdout)}, r.stderr
    env_user = {**env, "AUTHCTL_HOME": str(tmp_path / "remote-home")}
    r = lab.authctl("passwd", "--email", "remote@lab.local", "--password-stdin", stdin=f"{first}\n{chosen}\n",
                    env=env_user)
    assert r.returncode == 0, r.stderr
    assert can(lab, token_of(lab, "remote@lab.local", chosen), "list", "pods", "-A")
    # The remote user is Read Only: the service refuses what Kubernetes refuses them (exit 6).
    r = lab.authctl("user", "add", "nope@lab.local", "--password-stdin", stdin=new_password("nope") + "\n",
                    env=env_user)
    assert r.returncode == 6, (r.returncode, r.stderr)


def test_no_password_or_token_in_the_service_log_events_or_pages(console):
    lab = console
    assert SECRETS and PAGES, "the flows above ran and left something to scan"
    events = lab.kubectl("get", "events", "-A", "-o", "yaml").stdout
    logs = lab.pod_logs(ACCOUNT_POD)
    assert logs, f"no log of {ACCOUNT_POD} under {lab.root / 'logs'}: the service's log would go unscanned"
    assert_no_secrets(SECRETS, paths=logs,
                      texts=[("events", events)] + [(f"page {k}", v) for k, v in PAGES.items()])
