"""End to end: Dex's login pages wear the chart's theme (charts/dex/web) with the product name and
colour from pillar, in a real headless Chromium against the lab's Dex, as a user sees them.

Screenshots: build/screenshots/login-page.png (the password form), login-error.png (a wrong
password), login-choice.png (local accounts and a directory); docs/images/login.png is the first.
"""
import contextlib
import http.server
import threading
import urllib.parse
import zipfile
from pathlib import Path

import pytest
import yaml

import dexlab
from support import free_port, login_page, wait_until
from support.browser import Browser
from support.browser_flow import https_session

REPO = Path(__file__).resolve().parent.parent
THEME = REPO / "charts" / "dex" / "web" / "themes" / "dexauth"
JAR = REPO / "java-ext" / "target" / "authctl.jar"
PRODUCT = "Acme test cluster"
COLOR, COLOR_RGB = "#0b7a75", "rgb(11, 122, 117)"


# --------------------------------------------------------------------------- helpers

class Application:
    """The application a login returns to: a loopback redirect URI that answers every request."""

    def __init__(self):
        self.port = free_port()
        self.paths = []
        app = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                app.paths.append(self.path)
                body = b"<!DOCTYPE html><title>Application</title><p>Signed in.</p>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def redirect_uri(self):
        return f"http://127.0.0.1:{self.port}/callback"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def issuer(lab):
    return dexlab.pillar(lab)["issuer"]


def authorize_url(lab, app):
    """What kubectl (public client, loopback redirect) opens in the browser to log in."""
    query = {"client_id": "kubectl", "redirect_uri": app.redirect_uri, "response_type": "code",
             "scope": "openid email", "state": "theme-test"}
    return issuer(lab) + "/auth?" + urllib.parse.urlencode(query)


def browser(lab):
    b = Browser(ca_files=[str(dexlab.ca_file(lab))], name="login-theme")
    b.driver.set_window_size(1100, 760)
    return b


def css(b, selector, prop):
    return b.driver.execute_script(
        "return getComputedStyle(document.querySelector(arguments[0])).getPropertyValue(arguments[1]);",
        selector, prop)


def shows_password_form(b):
    return bool(b.find("form input[name=login]") and b.find("form input[name=password]"))


def sign_in(b, login, password):
    b.fill({"login": login, "password": password})
    b.submit("password")


# --------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def env(lab):
    """Deployed lab branded through pillar (product name and colour); the pillar override file is
    restored, and Dex redeployed, at the end."""
    overrides = lab.root / "pillar" / "lab_overrides.sls"
    original = overrides.read_text() if overrides.exists() else None
    branded = yaml.safe_load(original or "") or {}
    branded.setdefault("dexauth", {})["branding"] = {"product_name": PRODUCT, "primary_color": COLOR}
    dexlab.set_overrides(lab, branded)
    app = Application()
    try:
        ok, states, _ = dexlab.orchestrate(lab)
        assert ok, dexlab.failures(states)
        wait_until(lambda: login_page(issuer(lab), str(dexlab.ca_file(lab)), "kubectl", app.redirect_uri),
                   timeout=60, what="Dex's login page")
        lab.app = app
        yield lab
    finally:
        app.close()
        if original is None:
            overrides.unlink(missing_ok=True)
        else:
            overrides.write_text(original)
        ok, states, _ = dexlab.orchestrate(lab)
        assert ok, dexlab.failures(states)


@pytest.fixture(scope="module")
def directory(env):
    """slapd as IdP "corp" (display name "Corp directory")."""
    with dexlab.ldap_idp(env) as slapd:
        yield slapd


# --------------------------------------------------------------------------- tests

def test_without_idps_the_product_s_password_form_comes_first_in_its_theme(env):
    with browser(env) as b:
        b.open(authorize_url(env, env.app))
        b.wait_for(lambda: shows_password_form(b), what="the password form")
        assert not b.find(".choice"), "no account choice without an IdP"
        assert b.title == PRODUCT
        assert [e.text for e in b.find(".page-header .brand-name")] == [PRODUCT]
        assert b.driver.find_element("css selector", "label[for=login]").text == "Email Address"
        assert b.driver.find_element("css selector", "label[for=password]").text == "Password"
        # The browser applied the theme's stylesheet, in the pillar's colour.
        assert css(b, "#submit-login", "background-color") == COLOR_RGB
        assert css(b, ".card", "border-top-left-radius") == "8px"
        logo = b.driver.execute_script("var i = document.querySelector('.brand-logo');"
                                       " return i.complete && i.naturalWidth;")
        assert logo, "the theme's logo did not load"
        b.screenshot("login-page")

    # One stylesheet: what Dex serves is the chart's file, which the console's jar also carries.
    with contextlib.ExitStack() as stack:
        resp = https_session(stack, dexlab.ca_file(env)).get(issuer(env) + "/theme/styles.css", timeout=30)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("text/css")
    assert resp.content == (THEME / "styles.css").read_bytes()
    with zipfile.ZipFile(JAR) as jar:
        assert jar.read("dexauth/account/static/styles.css") == resp.content
        assert jar.read("dexauth/account/static/logo.svg") == (THEME / "logo.svg").read_bytes()


def test_a_wrong_password_is_told_in_the_form_and_the_right_one_returns_to_the_application(env):
    email = dexlab.pillar(env)["superadmin"]["email"]
    password = dexlab.superadmin_password(env)
    with browser(env) as b:
        b.open(authorize_url(env, env.app))
        b.wait_for(lambda: shows_password_form(b), what="the password form")
        sign_in(b, email, password + "-wrong")

        error = b.find("form #login-error")
        assert error and error[0].is_displayed(), b.text()
        assert error[0].get_attribute("role") == "alert"
        assert "Wrong email address or password." in error[0].text
        assert b.driver.find_element("name", "login").get_attribute("value") == email
        assert b.driver.find_element("name", "password").get_attribute("aria-invalid") == "true"
        b.screenshot("login-error")

        sign_in(b, email, password)
        b.wait_for(lambda: b.url.startswith(env.app.redirect_uri), what="the redirect to the application")
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(b.url).query)
        assert query["state"] == ["theme-test"] and query["code"][0]
        assert "Signed in." in b.text()


def test_with_a_directory_the_login_page_offers_local_accounts_and_the_directory(env, directory):
    alice = directory.users["alice"]
    with browser(env) as b:
        b.open(authorize_url(env, env.app))
        b.wait_for(lambda: b.find(".choice"), what="the account choice")
        assert b.title == PRODUCT
        choices = [(a.get_attribute("data-connector"), a.find_element("css selector", ".choice-name").text)
                   for a in b.find("a.choice")]
        assert choices == [("local", "Local account"), ("corp", "Corp directory")]
        b.screenshot("login-choice")

        b.click_link("Corp directory")
        assert shows_password_form(b)
        assert [text for text, _ in b.links() if text == "Use another account type"], b.links()
        sign_in(b, "alice", alice["password"])
        b.wait_for(lambda: b.url.startswith(env.app.redirect_uri), what="the redirect to the application")
