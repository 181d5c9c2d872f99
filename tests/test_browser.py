"""The test browser itself: a page Chromium drops because the machine's network changed is
reloaded, as a user would, instead of failing the test that happened to browse at that moment.

Labs of several hosts add bridges and veths in the machine's network namespace while other tests
browse (three streams in `make test`); Chromium then drops any request still connecting and shows
ERR_NETWORK_CHANGED. Here a TLS server holds every connection unanswered while a bridge with an
address comes and goes, which makes Chromium drop the page load every time.
"""
import os
import socket
import ssl
import subprocess
import threading

import pytest
from selenium.webdriver.common.by import By

from support.browser import Browser
from support.pki import TestCA
from support.waiting import wait_until

PAGE = b"<html><body><p>the page itself</p><a href='/next'>next</a></body></html>"


class HeldServer:
    """HTTPS on 127.0.0.1 that leaves each connection unanswered while ``holding`` is set (the
    browser is still connecting: TLS not done), then closes it; afterwards it serves PAGE."""

    def __init__(self, tmp):
        ca = TestCA(tmp)
        self.ca_file = ca.cert_path
        self._tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._tls.load_cert_chain(*ca.issue(tmp, "held"))
        self.holding = threading.Event()
        self.released = threading.Event()
        self.held = 0
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"https://127.0.0.1:{self._sock.getsockname()[1]}/"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn):
        with conn:
            if self.holding.is_set():
                self.held += 1
                self.released.wait(30)
                return
            try:
                with self._tls.wrap_socket(conn, server_side=True) as tls:
                    tls.recv(65536)
                    tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n"
                                b"Content-Length: %d\r\n\r\n%s" % (len(PAGE), PAGE))
            except (OSError, ssl.SSLError):
                pass

    def close(self):
        self.released.set()
        self._sock.close()


def _bridge_comes_and_goes(server):
    """Once the browser's connection is held: a bridge with an address appears, then goes."""
    name = f"dxnc{os.getpid() % 100000}"
    try:
        wait_until(lambda: server.held, timeout=15, interval=0.05, what="the browser's connection held")
        subprocess.run(["ip", "link", "add", name, "type", "bridge"], check=True)
        subprocess.run(["ip", "addr", "add", "10.254.254.1/32", "dev", name], check=True)
        subprocess.run(["ip", "link", "set", name, "up"], check=True)
    finally:
        subprocess.run(["ip", "link", "delete", name], capture_output=True)
        server.holding.clear()
        server.released.set()


@pytest.fixture
def held(tmp_path):
    server = HeldServer(tmp_path)
    yield server
    server.close()


def _load_during_a_network_change(held, load):
    held.holding.set()
    held.released.clear()
    churn = threading.Thread(target=_bridge_comes_and_goes, args=(held,))
    churn.start()
    try:
        load()
    finally:
        churn.join()


def test_chromium_drops_a_page_load_when_the_network_changes(held):
    """What the browser faces (without this, the next test would prove nothing)."""
    with Browser(ca_files=[held.ca_file]) as b:
        _load_during_a_network_change(held, lambda: b.driver.get(held.url))
        assert "ERR_NETWORK_CHANGED" in b.text(), b.text()


def test_a_page_dropped_on_a_network_change_is_reloaded(held):
    with Browser(ca_files=[held.ca_file]) as b:
        _load_during_a_network_change(held, lambda: b.open(held.url))
        assert "the page itself" in b.text() and b.network_reloads >= 1, (b.network_reloads, b.text())


def test_a_click_dropped_on_a_network_change_is_reloaded_while_waiting_for_the_next_page(held):
    with Browser(ca_files=[held.ca_file]) as b:
        b.open(held.url)
        _load_during_a_network_change(held, lambda: b.driver.find_element(By.LINK_TEXT, "next").click())
        b.wait_for(lambda: b.url.endswith("/next") and "the page itself" in b.text(), what="the next page")
        assert b.network_reloads >= 1
