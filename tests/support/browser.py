"""A real headless Chromium for end-to-end tests, driven through Selenium.

Debian's ``chromium`` and ``chromium-driver`` (toolchain/apt-packages.txt); the driver's and the
browser's paths are given explicitly, so Selenium Manager never runs and nothing is downloaded.
Every Browser has a fresh profile (``--user-data-dir``) and a private HOME, both in a temporary
directory removed on close. TLS is verified: the CAs to trust go into an NSS database at
``$HOME/.pki/nssdb`` (made with ``certutil`` from libnss3-tools, trust "C,,"), which is where
Chromium on Linux reads its user trust store; no certificate error is ever ignored.

    with Browser(ca_files=[dex_ca]) as b:
        result = complete_dex_login(b, url, "corp", "alice", password, shots="device")

Screenshots go to ``<repo>/build/screenshots/<name>.png``.
"""
import contextlib
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.parse
from pathlib import Path

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from support.browser_flow import LoginFailed
from support.waiting import wait_until

__all__ = ["Browser", "complete_dex_login", "DexLoginResult", "LoginFailed", "SCREENSHOTS", "CHROMIUM_FLAGS"]

# The browser itself, not Debian's wrapper script (which adds flags of its own from /etc/chromium.d).
CHROMIUM = "/usr/lib/chromium/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CERTUTIL = "/usr/bin/certutil"
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
                  "--no-first-run", "--disable-component-update", "--disable-sync")
REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "build" / "screenshots"
# Chromium drops a request still connecting when any address of the machine changes, and shows its
# own error page (ERR_NETWORK_CHANGED). Labs of several hosts add and remove bridges and veths in the
# machine's namespace while other tests browse; a user would press Reload, and so does Browser, this
# many times at most per page load. Only requests not yet sent are dropped, so reloading (also a
# POST) repeats nothing the server saw.
NETWORK_CHANGE_RELOADS = 5
# Proxies from the environment have no business with 127.0.0.1 (Chromium on Linux honours them).
_PROXY_VARS = {"http_proxy", "https_proxy", "all_proxy", "no_proxy", "ftp_proxy"}


def _pem_blocks(text):
    return re.findall(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", text, re.S)


def _run(cmd, **kw):
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=60, **kw)
    if r.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed ({r.returncode}): {r.stdout}{r.stderr}")
    return r


def make_nssdb(home, ca_files):
    """$HOME/.pki/nssdb trusting each certificate of ``ca_files`` as a TLS server CA ("C,,")."""
    db = Path(home) / ".pki" / "nssdb"
    db.mkdir(parents=True, mode=0o700)
    _run([CERTUTIL, "-N", "-d", f"sql:{db}", "--empty-password"])
    n = 0
    for ca in ca_files:
        blocks = _pem_blocks(Path(ca).read_text())
        if not blocks:
            raise ValueError(f"no PEM certificate in {ca}")
        for block in blocks:  # certutil -A takes the first certificate of a file only
            n += 1
            one = db / f"ca-{n}.pem"
            one.write_text(block + "\n")
            _run([CERTUTIL, "-A", "-d", f"sql:{db}", "-n", f"dexauth-test-ca-{n} {Path(ca).name}", "-t", "C,,",
                  "-a", "-i", one])
            one.unlink()
    listed = _run([CERTUTIL, "-L", "-d", f"sql:{db}"]).stdout
    if listed.count("C,,") < n:
        raise RuntimeError(f"the NSS database does not list {n} trusted CAs:\n{listed}")
    return db


class Browser:
    """Headless Chromium with a private profile and HOME; a context manager (close() removes both)."""

    def __init__(self, ca_files=(), timeout=30, name="browser"):
        for path in (CHROMIUM, CHROMEDRIVER, CERTUTIL):
            if not os.access(path, os.X_OK):
                raise RuntimeError(f"{path} is missing: run `make toolchain` (toolchain/apt-packages.txt)")
        self.name = name
        self.timeout = timeout
        self.driver = None
        self.network_reloads = 0  # pages reloaded after Chromium dropped them (ERR_NETWORK_CHANGED)
        self._tmp = Path(tempfile.mkdtemp(prefix="dxb-"))
        try:
            home = self._tmp / "home"
            profile = self._tmp / "profile"
            home.mkdir(mode=0o700)
            profile.mkdir(mode=0o700)
            make_nssdb(home, ca_files)
            env = {k: v for k, v in os.environ.items() if k.lower() not in _PROXY_VARS}
            env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), XDG_CACHE_HOME=str(home / ".cache"),
                       XDG_DATA_HOME=str(home / ".local" / "share"))
            env.pop("SE_CHROMEDRIVER", None)  # the driver is ours, always
            opts = webdriver.ChromeOptions()
            opts.binary_location = CHROMIUM
            for flag in CHROMIUM_FLAGS:
                opts.add_argument(flag)
            opts.add_argument(f"--user-data-dir={profile}")
            # No driver log: at its default level chromedriver writes typed text (passwords) into it.
            service = Service(executable_path=CHROMEDRIVER, env=env, log_output=subprocess.DEVNULL)
            self.driver = webdriver.Chrome(service=service, options=opts)
            self.driver.set_page_load_timeout(timeout)
        except BaseException:
            self.close()
            raise

    # ------------------------------------------------------------------ pages
    def open(self, url):
        self.driver.get(url)
        for _ in range(NETWORK_CHANGE_RELOADS):
            if not self._reloaded_after_network_change():
                break
        return self

    def _reloaded_after_network_change(self):
        """Reloads, as a user would, when Chromium shows its error page for a request it dropped
        because the machine's network changed (never a page of ours: its URL is chrome-error://)."""
        try:
            dropped = (self.driver.execute_script("return document.URL").startswith("chrome-error://")
                       and "ERR_NETWORK_CHANGED" in self.text())
        except WebDriverException:
            return False
        if dropped:
            self.network_reloads += 1
            self.driver.refresh()
        return dropped

    @property
    def url(self):
        return self.driver.current_url

    @property
    def title(self):
        return self.driver.title

    def text(self):
        """The page's visible text."""
        try:
            return self.driver.find_element(By.TAG_NAME, "body").text
        except WebDriverException:
            return ""

    def find(self, css):
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def links(self):
        """[(visible text, absolute href)] of the page's links."""
        out = []
        for a in self.driver.find_elements(By.CSS_SELECTOR, "a[href]"):
            with contextlib.suppress(StaleElementReferenceException):
                out.append((a.text.strip(), a.get_attribute("href")))
        return out

    def wait_for(self, predicate, timeout=None, what="condition"):
        """wait_until for the page: a WebDriver error counts as "not yet", a page Chromium dropped
        on a network change is reloaded, and the failure shows where the browser is and what it shows."""
        last_look = [time.monotonic()]

        def check():
            value = predicate()
            # A dropped page stays dropped: looking once a second costs less than at every poll.
            if not value and time.monotonic() - last_look[0] >= 1:
                last_look[0] = time.monotonic()
                self._reloaded_after_network_change()
            return value
        return wait_until(check, timeout or self.timeout, what, interval=0.1, retry_on=(WebDriverException,),
                          describe=lambda: f" at {self.url}; page: {self.text()[:500]!r}"
                                           f" ({self.network_reloads} reloads after network changes)",
                          error=TimeoutError)

    def _navigating(self, action, timeout=None):
        """Runs ``action`` (a click or submit) and waits until the current document was replaced."""
        old = self.driver.find_element(By.TAG_NAME, "html")
        action()

        def replaced():
            try:
                old.is_enabled()  # raises once the old document is gone
                return False
            except StaleElementReferenceException:
                return self.driver.execute_script("return document.readyState") == "complete"
        self.wait_for(replaced, timeout, "the next page")

    # ------------------------------------------------------------------ forms and links
    def fill(self, fields):
        """Types into the named inputs: {"login": "alice", "password": "..."}."""
        for name, value in fields.items():
            el = self.driver.find_element(By.NAME, name)
            el.clear()
            el.send_keys(value)
        return self

    def submit(self, field=None):
        """Submits the form holding input ``field`` (else the page's first form) with its submit
        button, as a user would, and waits for the next page."""
        if field:
            form = self.driver.find_element(By.NAME, field).find_element(By.XPATH, "./ancestor::form")
        else:
            form = self.driver.find_element(By.TAG_NAME, "form")
        buttons = form.find_elements(By.CSS_SELECTOR, "button[type=submit], input[type=submit], button:not([type])")
        self._navigating(buttons[0].click if buttons else form.submit)
        return self

    def fill_and_submit(self, fields):
        self.fill(fields)
        return self.submit(next(iter(fields)))

    def click_link(self, text):
        """Follows the link whose visible text contains ``text`` and waits for the next page."""
        for a in self.driver.find_elements(By.CSS_SELECTOR, "a[href]"):
            if text in a.text:
                self._navigating(a.click)
                return self
        raise LookupError(f"no link with text {text!r} at {self.url}; links: {self.links()}")

    def screenshot(self, name):
        """Saves build/screenshots/<name>.png; returns its path."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        safe = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "page"
        path = SCREENSHOTS / f"{safe}.png"
        if not self.driver.save_screenshot(str(path)):
            raise RuntimeError(f"Chromium could not save a screenshot to {path}")
        return path

    # ------------------------------------------------------------------ end
    def close(self):
        try:
            if self.driver is not None:
                self.driver.quit()  # stops Chromium and chromedriver
        finally:
            self.driver = None
            shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class DexLoginResult:
    """How a Dex login in the browser ended: ``kind`` is "callback" (redirected to the loopback
    redirect URI, ``url`` has the code) or "device" (Dex's device success page)."""

    def __init__(self, kind, url, text, steps, screenshots):
        self.kind, self.url, self.text, self.steps, self.screenshots = kind, url, text, steps, screenshots

    def __repr__(self):
        return f"DexLoginResult({self.kind!r}, {self.url!r}, steps={self.steps})"


def _is_loopback_callback(url):
    u = urllib.parse.urlsplit(url)
    return u.scheme == "http" and u.hostname in ("127.0.0.1", "localhost", "::1") and u.path.endswith("/callback")


def _connector_id(href):
    m = re.search(r"/auth/([^/?#]+)$", urllib.parse.urlsplit(href or "").path)
    return urllib.parse.unquote(m.group(1)) if m else None


def complete_dex_login(browser, url, connector, username, password, timeout=60, shots=None, max_steps=15):
    """Drives Dex's pages from ``url`` until Dex shows its device success page or redirects to a
    loopback callback (http://127.0.0.1:PORT/callback):

    - the device page (``/device?user_code=...``): its prefilled code is submitted;
    - the connector choice: the link ``/auth/<id>`` whose id is ``connector``, or whose text
      contains it (e.g. the display name);
    - the password form (fields ``login`` and ``password``);
    - the approval page, if shown: its form with approval=approve.

    ``shots``: a name prefix for a screenshot of every page. Raises LoginFailed with Dex's visible
    error text (e.g. "Invalid Username and password.") or on an unexpected page."""
    deadline = time.monotonic() + timeout
    browser.open(url)
    code_submitted = password_posted = False
    screenshots = []
    for step in range(1, max_steps + 1):
        if time.monotonic() > deadline:
            break
        current = browser.url
        if shots:
            screenshots.append(browser.screenshot(f"{shots}-{step:02d}"))
        if _is_loopback_callback(current):
            return DexLoginResult("callback", current, browser.text(), step, screenshots)
        text = browser.text()
        heading = " ".join(h.text for h in browser.find("h1, h2"))
        # Dex's own page says "Login Successful"; the chart's theme marks its page.
        if "Login Successful" in heading or browser.find("[data-page=device-success]"):
            return DexLoginResult("device", current, text, step, screenshots)
        error = " ".join(e.text for e in browser.find("#login-error, .dex-error-box")).strip()
        if browser.find("input[name=user_code]"):
            if code_submitted and error:
                raise LoginFailed(error, None, current)
            code_submitted = True
            browser.submit("user_code")
            continue
        if browser.find("input[name=password]"):
            if password_posted:
                raise LoginFailed(error or f"the password form came back at {current}: {text}", None, current)
            password_posted = True
            browser.fill_and_submit({"login": username, "password": password})
            continue
        approve = browser.find("form input[name=approval][value=approve]")
        if approve:
            form = approve[0].find_element(By.XPATH, "./ancestor::form")
            browser._navigating(form.find_element(By.CSS_SELECTOR, "button").click)
            continue
        links = [(t, h, _connector_id(h)) for t, h in browser.links() if _connector_id(h)]
        if links:
            chosen = [h for t, h, cid in links if cid == connector] or [h for t, h, cid in links if connector in t]
            if not chosen:
                raise LoginFailed(f"connector {connector!r} not offered; offered: {[(t, c) for t, _, c in links]}",
                                  None, current)
            target = chosen[0]
            anchor = [a for a in browser.find("a[href]") if a.get_attribute("href") == target][0]
            browser._navigating(anchor.click)
            continue
        raise LoginFailed(f"unexpected page at {current}: {heading or text[:300]}", None, current)
    raise LoginFailed(f"Dex's login did not end within {timeout}s / {max_steps} pages; now at {browser.url}: "
                      f"{browser.text()[:300]}", None, browser.url)
