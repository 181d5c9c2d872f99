"""Real identity servers on 127.0.0.1 for end-to-end tests.

- TestCA: throw-away certificate authorities (``cryptography``, EC P-256).
- Slapd: an OpenLDAP server (/usr/sbin/slapd) on free ports, LDAP+StartTLS and LDAPS.
- SambaAD: a Samba Active Directory DC (LDAP/LDAPS on the fixed ports 389/636), provisioned
  once into a cached template under ~/.cache/dexauth and copied per start.
- UpstreamDex: a second, independent Dex acting as an upstream OIDC provider.
- login_via_browser_flow / login_page / decode_jwt_claims: the browser-style
  authorization-code flow against a Dex, over HTTPS, with ``requests``.

Every server runs in the foreground as a child of the test process, in its own process
group, with PR_SET_PDEATHSIG so that it dies with the test process; ``close()`` (also
registered with atexit) stops it and removes its files. Servers keep their files in a
sub-directory of the root they are given (``slapd/``, ``ad/``, ``upstream-dex/``); keep
that root short (Unix socket paths are limited to 108 bytes), e.g.
``tempfile.mkdtemp(prefix="/tmp/dxd-")``. Secrets go to files of mode 0600 or to stdin,
never on the command line of a long-running process.
"""
import atexit
import base64
import contextlib
import ctypes
import ctypes.util
import datetime
import fcntl
import hashlib
import ipaddress
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse
import warnings
from html.parser import HTMLParser
from pathlib import Path

import requests
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["TestCA", "Slapd", "SambaAD", "UpstreamDex", "ServerError", "PortsBusy", "LoginFailed",
           "login_via_browser_flow", "login_page", "decode_jwt_claims", "free_port", "cache_dir"]

HOST = "127.0.0.1"
SLAPD_BIN = "/usr/sbin/slapd"
SLAPADD_BIN = "/usr/sbin/slapadd"
SAMBA_BIN = "/usr/sbin/samba"
SAMBA_TOOL_BIN = "/usr/bin/samba-tool"
SAMBA_PYTHON = "/usr/bin/python3"  # the interpreter with the samba bindings (python3-samba)
LDAP_SCHEMA_DIR = "/etc/ldap/schema"
LDAP_MODULE_DIR = "/usr/lib/ldap"


class ServerError(RuntimeError):
    """A test server could not be provisioned, started or queried."""


class PortsBusy(ServerError):
    """Samba AD's fixed LDAP ports are held by a process this module does not manage."""


class LoginFailed(Exception):
    """The browser flow did not end with a code: carries Dex's visible error text."""

    def __init__(self, message, status=None, url=None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.url = url


# --------------------------------------------------------------------------- utilities

def cache_dir():
    """The toolchain's cache directory ($DEXAUTH_CACHE, default ~/.cache/dexauth)."""
    return Path(os.environ.get("DEXAUTH_CACHE") or Path.home() / ".cache" / "dexauth")


def free_port(host=HOST):
    """A TCP port free on ``host`` right now (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _port_open(port, host=HOST, timeout=0.2):
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _write_secret(path, data):
    """Writes a file readable only by its owner (mode 0600 from creation on)."""
    path = Path(path)
    if isinstance(data, str):
        data = data.encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.chmod(path, 0o600)
    return path


def _tail(path, lines=40):
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _ssha(password):
    salt = os.urandom(8)
    digest = hashlib.sha1(password.encode() + salt).digest()
    return "{SSHA}" + base64.b64encode(digest + salt).decode()


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


# Child processes die with the test process: PR_SET_PDEATHSIG (Linux), set between fork and exec.
_PR_SET_PDEATHSIG = 1
try:
    _prctl = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):  # pragma: no cover - not Linux
    _prctl = None


def _die_with_parent_preexec():
    parent = os.getpid()

    def preexec():
        if _prctl is not None:
            _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)
    return preexec


_LIVE = set()
_LIVE_LOCK = threading.Lock()


def _register(obj):
    with _LIVE_LOCK:
        _LIVE.add(obj)


def _unregister(obj):
    with _LIVE_LOCK:
        _LIVE.discard(obj)


@atexit.register
def _close_all():
    with _LIVE_LOCK:
        live = list(_LIVE)
    for obj in live:
        with contextlib.suppress(Exception):
            obj.close()


class _Process:
    """A foreground server process in its own process group, logging to a file."""

    def __init__(self, name, cmd, log_path, env=None, cwd=None, keep_stdin=False):
        self.name = name
        self.cmd = [str(c) for c in cmd]
        self.log_path = Path(log_path)
        self._log = open(self.log_path, "ab")
        try:
            self.popen = subprocess.Popen(
                self.cmd, stdin=subprocess.PIPE if keep_stdin else subprocess.DEVNULL, stdout=self._log,
                stderr=subprocess.STDOUT, env=env, cwd=cwd, start_new_session=True,
                preexec_fn=_die_with_parent_preexec())
        except BaseException:
            self._log.close()
            raise
        self.pid = self.popen.pid

    def alive(self):
        return self.popen.poll() is None

    def stop(self, timeout=10):
        """SIGTERM to the whole process group, SIGKILL after ``timeout`` seconds."""
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.pid, signal.SIGKILL)
                self.popen.wait(5)
        with contextlib.suppress(ProcessLookupError):  # leftovers of the group, if any
            os.killpg(self.pid, signal.SIGKILL)
        if self.popen.stdin:
            with contextlib.suppress(OSError):
                self.popen.stdin.close()
        self._log.close()
        return self.popen.returncode


def _wait_until(predicate, timeout, what, proc=None):
    deadline = time.monotonic() + timeout
    last = None
    while True:
        if proc is not None and not proc.alive():
            raise ServerError(f"{what}: {proc.name} exited with status {proc.popen.returncode}; "
                              f"last lines of {proc.log_path}:\n{_tail(proc.log_path)}")
        try:
            if predicate():
                return
        except Exception as e:  # noqa: BLE001 - retried until the deadline
            last = e
        if time.monotonic() > deadline:
            tail = f"; last lines of {proc.log_path}:\n{_tail(proc.log_path)}" if proc else ""
            raise ServerError(f"{what} not reached within {timeout}s (last error: {last}){tail}")
        time.sleep(0.05)


def _run(cmd, timeout=60, input=None, env=None, what=None):
    r = subprocess.run([str(c) for c in cmd], input=input, capture_output=True, text=True, timeout=timeout,
                       env=env)
    if r.returncode != 0:
        raise ServerError(f"{what or cmd[0]} failed ({r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    return r


# --------------------------------------------------------------------------- LDAP client side

def ldap_env(ca_file):
    """Environment for the ldap-utils CLIs: trust only ``ca_file``."""
    env = dict(os.environ)
    env.update(LDAPTLS_CACERT=str(ca_file), LDAPTLS_REQCERT="demand")
    env.pop("LDAPTLS_CACERTDIR", None)
    return env


def parse_ldif(text):
    """Entries of ldapsearch -LLL output: [{"dn": str, attr: [values]}] (base64 values decoded)."""
    entries, entry, lines = [], None, []
    for raw in text.splitlines():
        if raw.startswith(" ") and lines:
            lines[-1] += raw[1:]
        else:
            lines.append(raw)
    for line in lines + [""]:
        if not line.strip():
            if entry:
                entries.append(entry)
            entry = None
            continue
        if line.startswith("#"):
            continue
        attr, sep, value = line.partition(":")
        if not sep:
            continue
        if value.startswith(":"):
            value = base64.b64decode(value[1:].strip()).decode(errors="replace")
        else:
            value = value.strip()
        if attr.lower() == "dn":
            entry = {"dn": value}
        elif entry is not None:
            entry.setdefault(attr, []).append(value)
    return entries


class _Server:
    """A server process the tests own: close() stops it and removes its directory; usable in `with`."""

    proc = None
    root = None

    def _stop(self):
        if self.proc is not None:
            self.proc.stop()

    def close(self):
        try:
            self._stop()
        finally:
            _unregister(self)
            shutil.rmtree(self.root, ignore_errors=True)
            self._released()

    def _released(self):
        """Hook for what a server holds beyond its process and directory."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class _LdapClientMixin(_Server):
    """ldapsearch/ldapmodify as the bind or admin account, secrets passed with -y files."""

    def _ldap_url(self, tls):
        if tls == "ldaps":
            return f"ldaps://{self.host}:{self.ldaps_port}"
        return f"ldap://{self.host}:{self.ldap_port}"

    def search(self, filter="(objectClass=*)", attrs=(), base=None, scope="sub", tls="ldaps", as_admin=False,
               timeout=30):
        """ldapsearch as the bind account (or the admin); ``tls`` is "ldaps" or "starttls".
        Returns parse_ldif() entries."""
        dn, pwfile = (self.admin_dn, self._admin_pwfile) if as_admin else (self.bind_dn, self._bind_pwfile)
        cmd = ["ldapsearch", "-LLL", "-o", "ldif-wrap=no", "-o", f"nettimeout={timeout}", "-x",
               "-H", self._ldap_url(tls), "-D", dn, "-y", pwfile, "-b", base or self.base_dn, "-s", scope, filter,
               *attrs]
        if tls == "starttls":
            cmd.insert(1, "-ZZ")
        r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=timeout + 5,
                           env=ldap_env(self.ca.cert_path))
        if r.returncode not in (0, 32):  # 32: no such object
            raise ServerError(f"ldapsearch {filter} failed ({r.returncode}): {r.stderr.strip()}")
        return parse_ldif(r.stdout)

    def modify(self, ldif, timeout=30):
        """ldapmodify as the admin over LDAPS (LDIF with changetype lines)."""
        r = subprocess.run(["ldapmodify", "-x", "-H", self._ldap_url("ldaps"), "-D", self.admin_dn, "-y",
                            str(self._admin_pwfile), "-o", f"nettimeout={timeout}"], input=ldif,
                           capture_output=True, text=True, timeout=timeout + 5, env=ldap_env(self.ca.cert_path))
        if r.returncode != 0:
            raise ServerError(f"ldapmodify failed ({r.returncode}): {r.stderr.strip()}\n{ldif}")
        return r.stdout

    def check_bind(self, dn, password, tls="ldaps", timeout=15):
        """True if a simple bind as ``dn`` (or a UPN for AD) with ``password`` succeeds: reads the
        rootDSE (Samba has no "Who am I?" extended operation); the password goes via a -y file."""
        with tempfile.TemporaryDirectory(prefix="dxd-pw-") as d:
            pw = _write_secret(Path(d) / "pw", password)
            cmd = ["ldapsearch", "-x", "-H", self._ldap_url(tls), "-D", dn, "-y", str(pw),
                   "-o", f"nettimeout={timeout}", "-b", "", "-s", "base", "(objectClass=*)", "1.1"]
            if tls == "starttls":
                cmd.insert(1, "-ZZ")
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout + 5,
                               env=ldap_env(self.ca.cert_path))
        return r.returncode == 0


# --------------------------------------------------------------------------- TestCA

class TestCA:
    """A throw-away CA (EC P-256). Two instances never trust each other."""

    __test__ = False  # not a pytest test class

    def __init__(self, dir, name="dexauth-test"):
        self.dir = Path(dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.name = name
        self._key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "dexauth tests"),
                             x509.NameAttribute(NameOID.COMMON_NAME, f"{name} CA {secrets.token_hex(4)}")])
        now = datetime.datetime.now(datetime.timezone.utc)
        ski = x509.SubjectKeyIdentifier.from_public_key(self._key.public_key())
        self.cert = (
            x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(self._key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False),
                           critical=True)
            .add_extension(ski, critical=False)
            .sign(self._key, hashes.SHA256()))
        self.pem = self.cert.public_bytes(serialization.Encoding.PEM).decode()
        self.cert_path = self.dir / f"{name}-ca.crt"
        self.cert_path.write_text(self.pem)

    def issue(self, dir, name, ip_sans=("127.0.0.1",), dns_sans=("localhost",)):
        """A server (and client) certificate for ``name``: returns (cert_path, key_path), key mode 0600."""
        dir = Path(dir)
        dir.mkdir(parents=True, exist_ok=True)
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        sans = [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ip_sans] + [x509.DNSName(d) for d in dns_sans]
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(self.cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=7))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=True, key_cert_sign=False,
                                         crl_sign=False, content_commitment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False),
                           critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                           critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()),
                           critical=False))
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        cert = builder.sign(self._key, hashes.SHA256())
        cert_path = dir / f"{name}.crt"
        key_path = dir / f"{name}.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        _write_secret(key_path, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption()))
        return cert_path, key_path


# --------------------------------------------------------------------------- Slapd

class Slapd(_LdapClientMixin):
    """OpenLDAP slapd with its own slapd.conf and MDB database under ``root/slapd``.

    ``ldap://127.0.0.1:<ldap_port>`` (StartTLS) and ``ldaps://127.0.0.1:<ldaps_port>``, certificate
    from the given TestCA. ``bind_dn`` is a read-only service account; ``admin_dn`` the rootdn.
    Users: alice (developers, ops), bob (developers; memberUid of posixGroup ldapusers), carol (none).
    """

    host = HOST
    base_dn = "dc=example,dc=org"
    users_dn = "ou=people,dc=example,dc=org"
    groups_dn = "ou=groups,dc=example,dc=org"
    bind_dn = "cn=dexbind,dc=example,dc=org"
    admin_dn = "cn=admin,dc=example,dc=org"

    SEED_USERS = {
        "alice": dict(name="Alice Liddell", sn="Liddell", groups=["developers", "ops"], posix_groups=[]),
        "bob": dict(name="Bob Builder", sn="Builder", groups=["developers"], posix_groups=["ldapusers"]),
        "carol": dict(name="Carol Danvers", sn="Danvers", groups=[], posix_groups=[]),
    }

    def __init__(self, root, ca):
        self.root = Path(root) / "slapd"
        self.ca = ca
        self.proc = None
        self.ldap_port = self.ldaps_port = None
        self.bind_password = "bind-" + secrets.token_urlsafe(12)
        self.admin_password = "admin-" + secrets.token_urlsafe(12)
        self.users = {}
        for uid, seed in self.SEED_USERS.items():
            self.users[uid] = dict(password=f"{uid}-{secrets.token_urlsafe(9)}", email=f"{uid}@example.org",
                                   name=seed["name"], groups=list(seed["groups"]),
                                   posix_groups=list(seed["posix_groups"]), dn=f"uid={uid},{self.users_dn}")
        self.timings = {}

    # ---- life cycle
    @classmethod
    def start(cls, root, ca, timeout=30):
        self = cls(root, ca)
        _register(self)
        try:
            self._provision()
            self.ldap_port, self.ldaps_port = free_port(), free_port()
            self.start_again(timeout=timeout)
        except BaseException:
            self.close()
            raise
        return self

    @property
    def ldap_url(self):
        return f"ldap://{self.host}:{self.ldap_port}"

    @property
    def ldaps_url(self):
        return f"ldaps://{self.host}:{self.ldaps_port}"

    @property
    def group_dns(self):
        return {g: f"cn={g},{self.groups_dn}" for g in ("developers", "ops", "ldapusers")}

    def _provision(self):
        t0 = time.monotonic()
        if self.root.exists():
            shutil.rmtree(self.root)
        (self.root / "data").mkdir(parents=True)
        self.root.chmod(0o700)
        tls = self.root / "tls"
        self.cert_path, self.key_path = self.ca.issue(tls, "slapd")
        self._bind_pwfile = _write_secret(self.root / "bind.pw", self.bind_password)
        self._admin_pwfile = _write_secret(self.root / "admin.pw", self.admin_password)
        self.conf = self.root / "slapd.conf"
        schemas = "\n".join(f"include {LDAP_SCHEMA_DIR}/{s}.schema" for s in ("core", "cosine", "inetorgperson", "nis"))
        _write_secret(self.conf, f"""{schemas}
modulepath {LDAP_MODULE_DIR}
moduleload back_mdb
pidfile {self.root}/slapd.pid
argsfile {self.root}/slapd.args
TLSCACertificateFile {self.ca.cert_path}
TLSCertificateFile {self.cert_path}
TLSCertificateKeyFile {self.key_path}
loglevel stats
sizelimit 1000

database mdb
maxsize 67108864
suffix "{self.base_dn}"
rootdn "{self.admin_dn}"
rootpw {_ssha(self.admin_password)}
directory {self.root}/data
index objectClass eq
index uid,mail,cn,memberUid,member eq

access to dn.base="" by * read
access to dn.base="cn=Subschema" by * read
access to attrs=userPassword
  by self write
  by anonymous auth
  by * none
access to *
  by users read
  by * none
""")
        ldif = [f"""dn: {self.base_dn}
objectClass: dcObject
objectClass: organization
dc: example
o: Example Org

dn: {self.users_dn}
objectClass: organizationalUnit
ou: people

dn: {self.groups_dn}
objectClass: organizationalUnit
ou: groups

dn: {self.bind_dn}
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: dexbind
description: read-only service account for Dex
userPassword: {_ssha(self.bind_password)}
"""]
        for i, (uid, u) in enumerate(self.users.items()):
            ldif.append(self._user_ldif(uid, u, self.SEED_USERS[uid]["sn"], 10001 + i))
        for group in ("developers", "ops"):
            members = [u["dn"] for u in self.users.values() if group in u["groups"]]
            ldif.append(f"dn: cn={group},{self.groups_dn}\nobjectClass: groupOfNames\ncn: {group}\n"
                        + "".join(f"member: {m}\n" for m in members))
        posix = [uid for uid, u in self.users.items() if "ldapusers" in u["posix_groups"]]
        ldif.append(f"dn: cn=ldapusers,{self.groups_dn}\nobjectClass: posixGroup\ncn: ldapusers\ngidNumber: 5000\n"
                    + "".join(f"memberUid: {m}\n" for m in posix))
        seed = _write_secret(self.root / "seed.ldif", "\n".join(ldif))
        _run([SLAPADD_BIN, "-q", "-f", self.conf, "-l", seed], timeout=60, what="slapadd")
        seed.unlink()
        self.timings["provision"] = time.monotonic() - t0

    @staticmethod
    def _user_ldif(uid, u, sn, uid_number):
        given = u["name"].split()[0]
        return (f"dn: {u['dn']}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {u['name']}\nsn: {sn}\n"
                f"givenName: {given}\ndisplayName: {u['name']}\nmail: {u['email']}\n"
                f"employeeNumber: {uid_number}\nuserPassword: {_ssha(u['password'])}\n")

    def start_again(self, timeout=30):
        """(Re)starts slapd on the same ports with the same data (after stop())."""
        if self.proc is not None and self.proc.alive():
            return self
        t0 = time.monotonic()
        urls = f"ldap://{self.host}:{self.ldap_port}/ ldaps://{self.host}:{self.ldaps_port}/"
        self.proc = _Process("slapd", [SLAPD_BIN, "-d", "stats", "-f", self.conf, "-h", urls],
                             self.root / "slapd.log", cwd=self.root)
        _wait_until(lambda: _port_open(self.ldap_port) and _port_open(self.ldaps_port), timeout,
                    "slapd listening", self.proc)
        _wait_until(lambda: self.search("(objectClass=organization)", ["o"], scope="base"), timeout,
                    "slapd answering over LDAPS", self.proc)
        self.timings["start"] = time.monotonic() - t0
        return self

    def stop(self, timeout=10):
        """Stops slapd (data and ports kept for start_again)."""
        if self.proc is not None:
            self.proc.stop(timeout)
        _wait_until(lambda: not _port_open(self.ldap_port) and not _port_open(self.ldaps_port), 10,
                    "slapd ports closed")


    # ---- data changes for tests (as rootdn over LDAPS)
    def add_user(self, uid, password, email=None, name=None, groups=()):
        name = name or uid.capitalize() + " Test"
        u = dict(password=password, email=email or f"{uid}@example.org", name=name, groups=list(groups),
                 posix_groups=[], dn=f"uid={uid},{self.users_dn}")
        dn_line, rest = self._user_ldif(uid, u, name.split()[-1], 20000 + len(self.users)).split("\n", 1)
        self.modify(f"{dn_line}\nchangetype: add\n{rest}")
        self.users[uid] = u
        for g in groups:
            self.add_member(g, uid)
        return u

    def add_member(self, group, uid):
        self.modify(f"dn: cn={group},{self.groups_dn}\nchangetype: modify\nadd: member\n"
                    f"member: uid={uid},{self.users_dn}\n")
        if uid in self.users and group not in self.users[uid]["groups"]:
            self.users[uid]["groups"].append(group)

    def remove_member(self, group, uid):
        self.modify(f"dn: cn={group},{self.groups_dn}\nchangetype: modify\ndelete: member\n"
                    f"member: uid={uid},{self.users_dn}\n")
        if uid in self.users and group in self.users[uid]["groups"]:
            self.users[uid]["groups"].remove(group)

    def set_password(self, uid, password):
        self.modify(f"dn: uid={uid},{self.users_dn}\nchangetype: modify\nreplace: userPassword\n"
                    f"userPassword: {_ssha(password)}\n")
        if uid in self.users:
            self.users[uid]["password"] = password


# --------------------------------------------------------------------------- Samba AD

SAMBA_REALM = "AD.EXAMPLE.TEST"
SAMBA_DOMAIN = "ADEXAMPLE"
SAMBA_NETBIOS = "DC1"
SAMBA_PORTS = (389, 636, 3268, 3269)
SAMBA_PROVISION_ARGS = (
    "domain", "provision", f"--realm={SAMBA_REALM}", f"--domain={SAMBA_DOMAIN}", "--server-role=dc",
    "--dns-backend=NONE", "--use-rfc2307", "--host-name=dc1", "--host-ip=127.0.0.1",
    "--function-level=2008_R2", f"--option=netbios name={SAMBA_NETBIOS}", "--option=interfaces=127.0.0.1",
    "--option=bind interfaces only=yes",
)
# Users and groups seeded into the template; passwords are generated when the template is built.
SAMBA_SEED = {
    "users": {
        "dave": dict(given="Dave", sn="Doe", groups=["k8s-devs"]),
        "erin": dict(given="Erin", sn="Evans", groups=["k8s-all"]),
    },
    "bind_user": "dexbind",
    "groups": {"k8s-devs": [], "k8s-all": ["k8s-devs"]},  # group -> member groups
}

# Runs under the system python3 (python3-samba) against the offline sam.ldb; input JSON on stdin.
_SAMBA_SEED_SCRIPT = r'''
import json, sys
from samba.auth import system_session
from samba.param import LoadParm
from samba.samdb import SamDB

req = json.load(sys.stdin)
lp = LoadParm()
lp.load(req["smb_conf"])
samdb = SamDB(url=lp.samdb_url(), session_info=system_session(), lp=lp)
domain_dn = str(samdb.domain_dn())
samdb.setpassword("(sAMAccountName=Administrator)", req["admin_password"], force_change_at_next_login=False)
samdb.setexpiry("(sAMAccountName=Administrator)", 0, no_expiry_req=True)
for name, u in req["users"].items():
    samdb.newuser(name, u["password"], givenname=u.get("given"), surname=u.get("sn"),
                  mailaddress=u.get("email"), useusernameascn=True)
    samdb.setexpiry("(sAMAccountName=%s)" % name, 0, no_expiry_req=True)
for group in req["groups"]:
    samdb.newgroup(group, mailaddress="%s@%s" % (group, req["dns_domain"]))
for group, members in req["groups"].items():
    if members:
        samdb.add_remove_group_members(group, members, add_members_operation=True)
for name, u in req["users"].items():
    for group in u.get("groups", []):
        samdb.add_remove_group_members(group, [name], add_members_operation=True)
out = {"domain_dn": domain_dn, "dns": {}}
for name in list(req["users"]) + list(req["groups"]) + ["Administrator"]:
    res = samdb.search(domain_dn, expression="(sAMAccountName=%s)" % name, attrs=["dn"])
    out["dns"][name] = str(res[0].dn)
json.dump(out, sys.stdout)
'''


def samba_version():
    r = _run([SAMBA_BIN, "--version"], timeout=20, what="samba --version")
    return r.stdout.strip().split()[-1]


def _strong_password(prefix):
    return f"{prefix}-Aa1-{secrets.token_urlsafe(10)}"


def samba_template():
    """The provisioned+seeded AD template directory (built once, under the cache).

    Returns (template_dir, seed) where template_dir/prov is samba-tool's targetdir and seed
    the users/passwords/DNs (also in template_dir/seed.json, mode 0600)."""
    version = samba_version()
    key = hashlib.sha256(json.dumps({"args": SAMBA_PROVISION_ARGS, "seed": SAMBA_SEED,
                                     "script": _SAMBA_SEED_SCRIPT, "format": 1}, sort_keys=True).encode())
    base = cache_dir()
    base.mkdir(parents=True, exist_ok=True)
    final = base / f"samba-ad-{version}-{key.hexdigest()[:12]}"
    with open(base / ".samba-ad-build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (final / ".complete").exists():
            _build_samba_template(final)
    return final, json.loads((final / "seed.json").read_text())


def _build_samba_template(final):
    t0 = time.monotonic()
    tmp = final.with_name(final.name + f".tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.rmtree(final, ignore_errors=True)
    tmp.mkdir(mode=0o700)
    try:
        prov = tmp / "prov"
        # The Administrator password is random here (never shown) and reset by the seed script.
        _run([SAMBA_TOOL_BIN, *SAMBA_PROVISION_ARGS, f"--targetdir={prov}"], timeout=300,
             what="samba-tool domain provision")
        t_prov = time.monotonic() - t0
        dns_domain = SAMBA_REALM.lower()
        users = {name: dict(u, password=_strong_password(name), email=f"{name}@{dns_domain}")
                 for name, u in SAMBA_SEED["users"].items()}
        users[SAMBA_SEED["bind_user"]] = dict(given="Dex", sn="Bind", groups=[],
                                              password=_strong_password("bind"), email=None)
        req = dict(smb_conf=str(prov / "etc" / "smb.conf"), users=users, groups=SAMBA_SEED["groups"],
                   dns_domain=dns_domain, admin_password=_strong_password("admin"))
        script = tmp / "seed.py"
        script.write_text(_SAMBA_SEED_SCRIPT)
        r = _run([SAMBA_PYTHON, str(script)], input=json.dumps(req), timeout=120, what="samba seed script")
        script.unlink()
        out = json.loads(r.stdout.strip().splitlines()[-1])
        seed = dict(req, **out, provision_seconds=round(t_prov, 1),
                    build_seconds=round(time.monotonic() - t0, 1))
        seed.pop("smb_conf")
        _write_secret(tmp / "seed.json", json.dumps(seed, indent=1))
        (tmp / ".complete").write_text(time.strftime("%Y-%m-%dT%H:%M:%S\n"))
        tmp.rename(final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _listeners(ports):
    """[(local address, port, pid or None, exe or None)] of TCP listeners on ``ports``."""
    r = subprocess.run(["ss", "-Hltnp"], capture_output=True, text=True, timeout=10)
    out = []
    for line in r.stdout.splitlines():
        fields = line.split()
        if len(fields) < 4:
            continue
        addr, _, port = fields[3].rpartition(":")
        if not port.isdigit() or int(port) not in ports:
            continue
        m = re.search(r"pid=(\d+)", line)
        pid = int(m.group(1)) if m else None
        exe = None
        if pid:
            with contextlib.suppress(OSError):
                exe = os.readlink(f"/proc/{pid}/exe")
        out.append((addr, int(port), pid, exe))
    return out


def _conflicts(ports):
    """Listeners on ``ports`` that would stop Samba from binding them on 127.0.0.1."""
    wildcard = ("127.0.0.1", "0.0.0.0", "*", "[::]", "[::ffff:127.0.0.1]")
    return [x for x in _listeners(ports) if x[0] in wildcard]


def _free_fixed_ports(ports):
    """Samba's LDAP ports are fixed. A system slapd/samba service holding them is stopped (with a
    warning) unless DEXAUTH_STOP_SYSTEM_LDAP=0; anything else holding them raises PortsBusy."""
    busy = _conflicts(ports)
    if not busy:
        return
    services = {"/usr/sbin/slapd": "slapd", "/usr/sbin/samba": "samba-ad-dc"}
    stoppable = {services[exe] for _, _, pid, exe in busy if exe in services and not _started_by_tests(pid)}
    if stoppable and os.environ.get("DEXAUTH_STOP_SYSTEM_LDAP", "1") != "0" and shutil.which("service"):
        for svc in sorted(stoppable):
            warnings.warn(f"stopping the system service {svc}: it holds LDAP ports {ports} that Samba AD needs "
                          "(set DEXAUTH_STOP_SYSTEM_LDAP=0 to prevent this)")
            subprocess.run(["service", svc, "stop"], capture_output=True, text=True, timeout=60)
        with contextlib.suppress(ServerError):
            _wait_until(lambda: not _conflicts(ports), 10, "LDAP ports released")
    busy = _conflicts(ports)
    if busy:
        raise PortsBusy("Samba AD needs the fixed ports 389/636/3268/3269 on 127.0.0.1, but they are in use: "
                        + "; ".join(f"{a}:{p} pid={pid} {exe}" for a, p, pid, exe in busy))


def _started_by_tests(pid):
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False
    return "/tmp/dxd" in cmdline or str(cache_dir()) in cmdline


class SambaAD(_LdapClientMixin):
    """A Samba AD DC (LDAP only) bound to 127.0.0.1, LDAPS with a TestCA certificate.

    Domain ad.example.test (NetBIOS ADEXAMPLE), base DN DC=ad,DC=example,DC=test. Users dave
    (member of k8s-devs, which is a member of k8s-all) and erin (k8s-all), bind account dexbind.
    The LDAP ports are Samba's fixed ones (389, 636, plus 3268/3269 for the global catalog), so
    only one SambaAD runs per host at a time: start() waits for a host-wide lock.
    """

    host = HOST
    domain = SAMBA_REALM.lower()
    realm = SAMBA_REALM
    netbios_domain = SAMBA_DOMAIN
    base_dn = "DC=ad,DC=example,DC=test"
    users_dn = "CN=Users,DC=ad,DC=example,DC=test"
    groups_dn = "CN=Users,DC=ad,DC=example,DC=test"
    ldap_port = 389
    ldaps_port = 636

    def __init__(self, root, ca):
        self.root = Path(root) / "ad"
        self.ca = ca
        self.proc = None
        self._lock = None
        self.timings = {}

    @classmethod
    def start(cls, root, ca, timeout=60, lock_timeout=300):
        self = cls(root, ca)
        _register(self)
        try:
            self._start(timeout, lock_timeout)
        except BaseException:
            self.close()
            raise
        return self

    @property
    def ldaps_url(self):
        return f"ldaps://{self.host}:{self.ldaps_port}"

    def _start(self, timeout, lock_timeout):
        t0 = time.monotonic()
        template, seed = samba_template()
        self.timings["template"] = time.monotonic() - t0
        self.template = template
        self.timings["template_build_when_made"] = seed.get("build_seconds")
        self.timings["provision_when_made"] = seed.get("provision_seconds")
        self._acquire_host_lock(lock_timeout)
        _free_fixed_ports(SAMBA_PORTS)

        t1 = time.monotonic()
        shutil.rmtree(self.root, ignore_errors=True)
        self.root.mkdir(parents=True, mode=0o700)
        r = subprocess.run(["cp", "-a", str(template / "prov"), str(self.root / "dc")], capture_output=True,
                           text=True, timeout=120)
        if r.returncode != 0:
            raise ServerError(f"copying the Samba template failed: {r.stderr}")
        dc = self.root / "dc"
        self.cert_path, self.key_path = self.ca.issue(self.root / "tls", "samba-ad",
                                                      dns_sans=("localhost", f"dc1.{self.domain}", self.domain))
        for d in ("cache", "run", "ncalrpc", "winbindd"):
            (dc / d).mkdir(exist_ok=True)
        self.smb_conf = dc / "etc" / "smb.conf"
        self.smb_conf.write_text(f"""[global]
	netbios name = {SAMBA_NETBIOS}
	realm = {SAMBA_REALM}
	workgroup = {SAMBA_DOMAIN}
	server role = active directory domain controller
	server services = ldap
	interfaces = 127.0.0.1
	bind interfaces only = yes
	private dir = {dc}/private
	binddns dir = {dc}/bind-dns
	lock directory = {dc}
	state directory = {dc}/state
	cache directory = {dc}/cache
	pid directory = {dc}/run
	ncalrpc dir = {dc}/ncalrpc
	winbindd socket directory = {dc}/winbindd
	ntp signd socket directory = {dc}/run
	log file = {self.root}/samba.log
	log level = 1
	idmap_ldb:use rfc2307 = yes
	tls enabled = yes
	tls certfile = {self.cert_path}
	tls keyfile = {self.key_path}
	tls cafile = {self.ca.cert_path}
""")
        self.timings["copy"] = time.monotonic() - t1

        dns = seed["dns"]
        self.admin_dn = dns["Administrator"]
        self.admin_password = seed["admin_password"]
        bind = seed["users"][SAMBA_SEED["bind_user"]]
        self.bind_dn = dns[SAMBA_SEED["bind_user"]]
        self.bind_upn = f"{SAMBA_SEED['bind_user']}@{self.domain}"
        self.bind_password = bind["password"]
        self._bind_pwfile = _write_secret(self.root / "bind.pw", self.bind_password)
        self._admin_pwfile = _write_secret(self.root / "admin.pw", self.admin_password)
        self.group_dns = {g: dns[g] for g in SAMBA_SEED["groups"]}
        self.users = {}
        for name, u in seed["users"].items():
            if name == SAMBA_SEED["bind_user"]:
                continue
            direct = list(u["groups"])
            self.users[name] = dict(password=u["password"], email=u["email"], upn=f"{name}@{self.domain}",
                                    name=f"{u['given']} {u['sn']}", dn=dns[name], groups=direct,
                                    all_groups=self._transitive(direct))

        t2 = time.monotonic()
        # -i: foreground, logs on stdout, and exits when its stdin reaches EOF (the test process died).
        self.proc = _Process("samba", [SAMBA_BIN, "-i", "-M", "single", "-s", self.smb_conf],
                             self.root / "samba.out", cwd=self.root, keep_stdin=True)
        _wait_until(lambda: _port_open(self.ldaps_port), timeout, "samba listening on 636", self.proc)
        _wait_until(lambda: self.search("(objectClass=domain)", ["dc"], scope="base"), timeout,
                    "samba answering over LDAPS as the bind account", self.proc)
        self.timings["start"] = time.monotonic() - t2

    def _transitive(self, groups):
        parents = {}
        for group, members in SAMBA_SEED["groups"].items():
            for m in members:
                parents.setdefault(m, []).append(group)
        out, todo = [], list(groups)
        while todo:
            g = todo.pop(0)
            if g not in out:
                out.append(g)
                todo += parents.get(g, [])
        return out

    def _acquire_host_lock(self, timeout):
        self._lock = open(cache_dir() / ".samba-ad-ports.lock", "w")
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise ServerError(f"another SambaAD holds ports 389/636 on this host for more than {timeout}s")
                time.sleep(0.5)

    def _stop(self):
        """Stops samba and waits for its fixed ports to close."""
        if self.proc is not None:
            self.proc.stop(timeout=15)
            with contextlib.suppress(ServerError):
                _wait_until(lambda: not _port_open(self.ldaps_port), 10, "samba ports closed")

    def _released(self):
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def groups_of(self, user_dn, nested=True):
        """Names (cn) of the groups ``user_dn`` is a member of, transitively with the
        LDAP_MATCHING_RULE_IN_CHAIN rule (1.2.840.113556.1.4.1941) if ``nested``."""
        rule = ":1.2.840.113556.1.4.1941:" if nested else ""
        escaped = user_dn.replace("\\", "\\5c").replace("(", "\\28").replace(")", "\\29").replace("*", "\\2a")
        entries = self.search(f"(&(objectClass=group)(member{rule}={escaped}))", ["cn"])
        return sorted(e["cn"][0] for e in entries)


# --------------------------------------------------------------------------- UpstreamDex

def dex_bin():
    if os.environ.get("DEX_BIN"):
        return os.environ["DEX_BIN"]
    env = cache_dir() / "toolchain.env"
    if env.exists():
        for line in env.read_text().splitlines():
            if line.startswith("DEX_BIN="):
                return line.split("=", 1)[1].strip()
    raise ServerError("no dex binary: set DEX_BIN or run toolchain/install.sh")


class UpstreamDex(_Server):
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
        _register(self)
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
        self.config_path = _write_secret(self.root / "config.yaml", yaml.safe_dump(config, sort_keys=False))
        self.proc = _Process(self.root.name, [dex_bin(), "serve", self.config_path], self.root / "dex.log",
                             cwd=self.root)
        discovery = self.issuer + "/.well-known/openid-configuration"
        with contextlib.ExitStack() as stack:
            s = _session(stack, self.ca_file)
            _wait_until(lambda: s.get(discovery, timeout=2).ok, timeout, f"{self.root.name} discovery", self.proc)
        self.timings["start"] = time.monotonic() - t0



# --------------------------------------------------------------------------- browser flow

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


def _session(stack, ca_file):
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
        s = _session(stack, ca_file)
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
        s = _session(stack, ca_file)
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
