"""A second, independent Dex acting as an upstream OIDC provider (or as any small Dex)."""
import contextlib
import ctypes
import ctypes.util
import os
import secrets
import shutil
import threading
import time
from pathlib import Path

import yaml

from support.browser_flow import https_session
from support.processes import HOST, Process, Server, ServerError, cache_dir, free_port, register, wait_for_server, \
    write_secret

__all__ = ["UpstreamDex", "bcrypt_hash", "dex_bin"]


def _libcrypt():
    lib = ctypes.CDLL(ctypes.util.find_library("crypt") or "libcrypt.so.1")
    lib.crypt_gensalt.restype = ctypes.c_char_p
    lib.crypt_gensalt.argtypes = [ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p, ctypes.c_int]
    lib.crypt.restype = ctypes.c_char_p
    lib.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    return lib


_crypt_lock = threading.Lock()


def bcrypt_hash(password, cost=10):
    """A bcrypt ($2b$) hash as Dex's staticPasswords want it, from the system's libcrypt
    (libxcrypt), so that neither the PyPI bcrypt package nor htpasswd is needed."""
    with _crypt_lock:  # crypt() uses a static buffer
        lib = _libcrypt()
        setting = lib.crypt_gensalt(b"$2b$", cost, None, 0)
        if not setting:
            raise ServerError("libcrypt cannot generate a bcrypt salt")
        hashed = lib.crypt(password.encode(), setting)
        if not hashed or not hashed.startswith(b"$2b$") or lib.crypt(password.encode(), hashed) != hashed:
            raise ServerError("libcrypt does not support bcrypt")
        return hashed.decode()


def dex_bin():
    if os.environ.get("DEX_BIN"):
        return os.environ["DEX_BIN"]
    env = cache_dir() / "toolchain.env"
    if env.exists():
        for line in env.read_text().splitlines():
            if line.startswith("DEX_BIN="):
                return line.split("=", 1)[1].strip()
    raise ServerError("no dex binary: set DEX_BIN or run toolchain/install.sh")


class UpstreamDex(Server):
    """An independent Dex (memory storage, local passwords) at https://127.0.0.1:<port>/upstream.

    User: frank (email frank@upstream.test, groups [upstream-devs]). The extra keyword arguments
    make it usable as any small Dex: ``connectors`` (Dex connector dicts), ``path`` (issuer
    path), ``port`` (chosen in advance, e.g. to register the callback of a Dex in front of it),
    ``name`` (its sub-directory of root)."""

    host = HOST

    def __init__(self, root, ca, name="upstream-dex"):
        self.root = Path(root) / name
        self.ca = ca
        self.ca_file = ca.cert_path
        self.proc = None
        self.timings = {}

    @classmethod
    def start(cls, root, ca, client_id, client_secret, redirect_uri, *, connectors=(), path="/upstream",
              port=None, name="upstream-dex", timeout=30):
        """``redirect_uri`` may be a str or a list of them (all registered for the client)."""
        self = cls(root, ca, name)
        register(self)
        try:
            self._start(client_id, client_secret, redirect_uri, connectors, path, port, timeout)
        except BaseException:
            self.close()
            raise
        return self

    def _start(self, client_id, client_secret, redirect_uri, connectors, path, port, timeout):
        t0 = time.monotonic()
        shutil.rmtree(self.root, ignore_errors=True)
        self.root.mkdir(parents=True, mode=0o700)
        self.port = port or free_port()
        self.issuer = f"https://{self.host}:{self.port}{path}"
        self.cert_path, self.key_path = self.ca.issue(self.root, "dex")
        self.client_id, self.client_secret = client_id, client_secret
        self.redirect_uris = [redirect_uri] if isinstance(redirect_uri, str) else list(redirect_uri)
        self.users = {"frank": dict(password="frank-" + secrets.token_urlsafe(12), email="frank@upstream.test",
                                    name="Frank Upstream", user_id="frank-" + secrets.token_hex(4),
                                    groups=["upstream-devs"])}
        config = {
            "issuer": self.issuer,
            "storage": {"type": "memory"},
            "web": {"https": f"{self.host}:{self.port}", "tlsCert": str(self.cert_path), "tlsKey": str(self.key_path)},
            "logger": {"level": "info"},
            "oauth2": {"skipApprovalScreen": True},
            "enablePasswordDB": True,
            "staticPasswords": [{"email": u["email"], "username": name, "name": u["name"], "userID": u["user_id"],
                                 "hash": bcrypt_hash(u["password"]), "groups": u["groups"]}
                                for name, u in self.users.items()],
            "staticClients": [{"id": client_id, "secret": client_secret, "name": "dexauth tests",
                               "redirectURIs": self.redirect_uris}],
        }
        if connectors:
            config["connectors"] = list(connectors)
        self.config_path = write_secret(self.root / "config.yaml", yaml.safe_dump(config, sort_keys=False))
        self.proc = Process(self.root.name, [dex_bin(), "serve", self.config_path], self.root / "dex.log",
                             cwd=self.root)
        discovery = self.issuer + "/.well-known/openid-configuration"
        with contextlib.ExitStack() as stack:
            s = https_session(stack, self.ca_file)
            wait_for_server(lambda: s.get(discovery, timeout=2).ok, timeout, f"{self.root.name} discovery", self.proc)
        self.timings["start"] = time.monotonic() - t0

