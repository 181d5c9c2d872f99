"""The browser-style authorization-code flow against a Dex, over HTTPS, with ``requests``:
login_page, login_via_browser_flow, decode_jwt_claims; LoginFailed carries Dex's visible error."""
import base64
import contextlib
import json
import os
import re
import secrets
import tempfile
import urllib.parse
from html.parser import HTMLParser
from pathlib import Path

import requests

__all__ = ["LoginFailed", "login_page", "login_via_browser_flow", "decode_jwt_claims", "https_session"]


class LoginFailed(Exception):
    """The browser flow did not end with a code: carries Dex's visible error text."""

    def __init__(self, message, status=None, url=None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.url = url


class _Page(HTMLParser):
    """Forms, links and Dex's visible error texts of an HTML page."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms, self.links = [], []
        self._form = None
        self._capture = []  # stack of (tag, bucket name)
        self.texts = {"login-error": [], "heading": [], "para": [], "title": []}

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self._form = {"action": a.get("action"), "method": (a.get("method") or "get").lower(), "inputs": {}}
            self.forms.append(self._form)
        elif tag == "input" and self._form is not None and a.get("name"):
            self._form["inputs"][a["name"]] = a.get("value") or ""
        elif tag == "a" and a.get("href"):
            self.links.append(a["href"])
        bucket = None
        if a.get("id") == "login-error" or "dex-error-box" in (a.get("class") or ""):
            bucket = "login-error"
        elif tag in ("h1", "h2"):
            bucket = "heading"
        elif tag == "p":
            bucket = "para"
        elif tag == "title":
            bucket = "title"
        if bucket and tag not in ("input", "br", "img", "meta", "link"):
            self._capture.append((tag, bucket))

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        if self._capture and self._capture[-1][0] == tag:
            self._capture.pop()

    def handle_data(self, data):
        if self._capture and data.strip():
            self.texts[self._capture[-1][1]].append(" ".join(data.split()))

    def text(self, bucket):
        return " ".join(self.texts[bucket]).strip()

    def error_text(self):
        return (self.text("login-error") or ": ".join(x for x in (self.text("heading"), self.text("para")) if x)
                or self.text("title"))


def _parse(resp):
    page = _Page()
    page.feed(resp.text)
    page.close()
    return page


def _ca_bundle(ca_file, stack):
    """verify= value for requests: one CA file as is, several concatenated into a temporary bundle."""
    if isinstance(ca_file, (str, os.PathLike)):
        return str(ca_file)
    files = [Path(f) for f in ca_file]
    if len(files) == 1:
        return str(files[0])
    tmp = tempfile.NamedTemporaryFile("w", prefix="dxd-ca-", suffix=".pem", delete=False)
    stack.callback(os.unlink, tmp.name)
    with tmp:
        for f in files:
            tmp.write(f.read_text().strip() + "\n")
    return tmp.name


def https_session(stack, ca_file):
    """A requests session that trusts exactly ``ca_file``: trust_env off, because REQUESTS_CA_BUNDLE /
    CURL_CA_BUNDLE in the environment would otherwise override Session.verify (and proxies
    from the environment have no business with 127.0.0.1)."""
    s = stack.enter_context(requests.Session())
    s.trust_env = False
    s.verify = _ca_bundle(ca_file, stack)
    return s


def _same_endpoint(url, redirect_uri):
    a, b = urllib.parse.urlsplit(url), urllib.parse.urlsplit(redirect_uri)
    return (a.scheme, a.netloc, a.path) == (b.scheme, b.netloc, b.path)


def _connector_links(page, base_url):
    """{connector id: absolute URL} of the links of a Dex connector-choice page."""
    out = {}
    for href in page.links:
        url = urllib.parse.urljoin(base_url, href)  # HTMLParser unescaped it
        m = re.search(r"/auth/([^/?#]+)$", urllib.parse.urlsplit(url).path)
        if m:
            out.setdefault(urllib.parse.unquote(m.group(1)), url)
    return out


def _auth_url(issuer, client_id, redirect_uri, scopes, state, nonce=None):
    q = {"client_id": client_id, "redirect_uri": redirect_uri, "response_type": "code", "scope": " ".join(scopes),
         "state": state}
    if nonce:
        q["nonce"] = nonce
    return issuer.rstrip("/") + "/auth?" + urllib.parse.urlencode(q)


def login_page(issuer, ca_file, client_id, redirect_uri, timeout=30):
    """What Dex shows first: {"direct": True, "connector": id} when it skipped the choice screen,
    else {"direct": False, "connectors": [ids offered]}."""
    with contextlib.ExitStack() as stack:
        s = https_session(stack, ca_file)
        url = _auth_url(issuer, client_id, redirect_uri, ("openid",), secrets.token_urlsafe(8))
        resp = s.get(url, allow_redirects=False, timeout=timeout)
        issuer_path = urllib.parse.urlsplit(issuer).path.rstrip("/")
        if resp.is_redirect:
            loc = urllib.parse.urljoin(resp.url, resp.headers["Location"])
            path = urllib.parse.urlsplit(loc).path
            m = re.fullmatch(re.escape(issuer_path) + r"/auth/([^/?#]+)", path)
            if not m:
                raise LoginFailed(f"unexpected redirect from {url} to {loc}", resp.status_code, url)
            return {"direct": True, "connector": urllib.parse.unquote(m.group(1))}
        page = _parse(resp)
        if resp.status_code != 200:
            raise LoginFailed(page.error_text() or f"HTTP {resp.status_code}", resp.status_code, url)
        return {"direct": False, "connectors": list(_connector_links(page, resp.url))}


def login_via_browser_flow(issuer, ca_file, client_id, redirect_uri, username, password, connector_id=None,
                           scopes=("openid", "email", "groups", "profile"), client_secret=None, timeout=30,
                           max_steps=30):
    """The browser's authorization-code flow against Dex (and through an upstream Dex when the
    connector is an oidc one). Returns the token response (id_token, access_token, ...).

    ``ca_file``: a CA file, or a list of them (e.g. ours and the upstream Dex's). The redirect to
    ``redirect_uri`` is never fetched: the code is taken from it. Raises LoginFailed with Dex's
    visible error text (e.g. "Invalid Email Address and password.")."""
    state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    with contextlib.ExitStack() as stack:
        s = https_session(stack, ca_file)
        url, method, data = _auth_url(issuer, client_id, redirect_uri, scopes, state, nonce), "GET", None
        issuer_netloc = urllib.parse.urlsplit(issuer).netloc
        issuer_path = urllib.parse.urlsplit(issuer).path.rstrip("/")
        posted_forms = set()
        code = None
        for _ in range(max_steps):
            resp = s.request(method, url, data=data, allow_redirects=False, timeout=timeout)
            method, data = "GET", None
            if resp.is_redirect:
                loc = urllib.parse.urljoin(resp.url, resp.headers["Location"])
                if _same_endpoint(loc, redirect_uri):
                    q = urllib.parse.parse_qs(urllib.parse.urlsplit(loc).query)
                    if "error" in q:
                        raise LoginFailed(f"{q['error'][0]}: {q.get('error_description', [''])[0]}".strip(": "),
                                          resp.status_code, loc)
                    if q.get("state", [None])[0] != state:
                        raise LoginFailed(f"state mismatch in redirect {loc}", resp.status_code, loc)
                    if "code" not in q:
                        raise LoginFailed(f"no code in redirect {loc}", resp.status_code, loc)
                    code = q["code"][0]
                    break
                m = re.fullmatch(re.escape(issuer_path) + r"/auth/([^/?#]+)", urllib.parse.urlsplit(loc).path)
                if (connector_id and m and urllib.parse.urlsplit(loc).netloc == issuer_netloc
                        and urllib.parse.unquote(m.group(1)) != connector_id):
                    raise LoginFailed(f"Dex chose connector {urllib.parse.unquote(m.group(1))!r}, "
                                      f"not {connector_id!r}", resp.status_code, loc)
                url = loc
                continue
            page = _parse(resp)
            pw_forms = [f for f in page.forms if "password" in f["inputs"]]
            approval = [f for f in page.forms if f["inputs"].get("approval") == "approve"]
            if pw_forms:
                form = pw_forms[0]
                action = urllib.parse.urljoin(resp.url, form["action"] or resp.url)
                if page.text("login-error") or action in posted_forms:
                    raise LoginFailed(page.error_text() or f"login rejected (HTTP {resp.status_code})",
                                      resp.status_code, resp.url)
                posted_forms.add(action)
                inputs = dict(form["inputs"], login=username, password=password)
                url, method, data = action, "POST", inputs
                continue
            if approval:
                form = approval[0]
                url = urllib.parse.urljoin(resp.url, form["action"] or resp.url)
                method, data = "POST", dict(form["inputs"])
                continue
            links = _connector_links(page, resp.url) if resp.status_code == 200 else {}
            if links:
                at_issuer = urllib.parse.urlsplit(resp.url).netloc == issuer_netloc
                if connector_id and at_issuer:
                    if connector_id not in links:
                        raise LoginFailed(f"connector {connector_id!r} not offered (offered: {sorted(links)})",
                                          resp.status_code, resp.url)
                    url = links[connector_id]
                elif len(links) == 1:
                    url = next(iter(links.values()))
                else:
                    raise LoginFailed(f"a connector must be chosen among {sorted(links)}", resp.status_code,
                                      resp.url)
                continue
            raise LoginFailed(page.error_text() or f"unexpected page (HTTP {resp.status_code}) at {resp.url}",
                              resp.status_code, resp.url)
        if code is None:
            raise LoginFailed(f"no redirect to {redirect_uri} after {max_steps} steps", None, url)
        form = {"grant_type": "authorization_code", "client_id": client_id, "redirect_uri": redirect_uri,
                "code": code}
        if client_secret is not None:
            form["client_secret"] = client_secret
        resp = s.post(issuer.rstrip("/") + "/token", data=form, timeout=timeout)
        try:
            body = resp.json()
        except ValueError:
            body = {"error": resp.text[:500]}
        if resp.status_code != 200 or "id_token" not in body:
            raise LoginFailed(f"token exchange failed (HTTP {resp.status_code}): "
                              f"{body.get('error')} {body.get('error_description', '')}".strip(), resp.status_code,
                              issuer + "/token")
        claims = decode_jwt_claims(body["id_token"])
        if claims.get("nonce") not in (None, nonce):
            raise LoginFailed("nonce mismatch in id_token", resp.status_code, issuer + "/token")
        return body


def decode_jwt_claims(token):
    """The payload of a JWT, without any verification."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
