"""A Samba Active Directory DC (LDAP/LDAPS on the fixed ports 389/636), provisioned once into a
cached template under ~/.cache/dexauth and copied per start."""
import contextlib
import fcntl
import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
import time
import warnings
from pathlib import Path

from support.ldap import LdapServer
from support.processes import (HOST, Process, ServerError, cache_dir, port_open, register, run, wait_for_server,
                               write_secret)
from support.waiting import wait_until

__all__ = ["SambaAD", "PortsBusy", "SAMBA_BIN", "SAMBA_TOOL_BIN", "samba_template"]

SAMBA_BIN = "/usr/sbin/samba"
SAMBA_TOOL_BIN = "/usr/bin/samba-tool"
SAMBA_PYTHON = "/usr/bin/python3"  # the interpreter with the samba bindings (python3-samba)


class PortsBusy(ServerError):
    """Samba AD's fixed LDAP ports are held by a process this module does not manage."""


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
    r = run([SAMBA_BIN, "--version"], timeout=20, what="samba --version")
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
        run([SAMBA_TOOL_BIN, *SAMBA_PROVISION_ARGS, f"--targetdir={prov}"], timeout=300,
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
        r = run([SAMBA_PYTHON, str(script)], input=json.dumps(req), timeout=120, what="samba seed script")
        script.unlink()
        out = json.loads(r.stdout.strip().splitlines()[-1])
        seed = dict(req, **out, provision_seconds=round(t_prov, 1),
                    build_seconds=round(time.monotonic() - t0, 1))
        seed.pop("smb_conf")
        write_secret(tmp / "seed.json", json.dumps(seed, indent=1))
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
            wait_for_server(lambda: not _conflicts(ports), 10, "LDAP ports released")
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


class SambaAD(LdapServer):
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
        register(self)
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
        self._bind_pwfile = write_secret(self.root / "bind.pw", self.bind_password)
        self._admin_pwfile = write_secret(self.root / "admin.pw", self.admin_password)
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
        self.proc = Process("samba", [SAMBA_BIN, "-i", "-M", "single", "-s", self.smb_conf],
                             self.root / "samba.out", cwd=self.root, keep_stdin=True)
        wait_for_server(lambda: port_open(self.ldaps_port), timeout, "samba listening on 636", self.proc)
        wait_for_server(lambda: self.search("(objectClass=domain)", ["dc"], scope="base"), timeout,
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

        def locked():
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        wait_until(locked, timeout, "the host-wide lock of ports 389/636 (another SambaAD holds them)",
                   interval=0.5, retry_on=(BlockingIOError,), error=ServerError)

    def _stop(self):
        """Stops samba and waits for its fixed ports to close."""
        if self.proc is not None:
            self.proc.stop(timeout=15)
            with contextlib.suppress(ServerError):
                wait_for_server(lambda: not port_open(self.ldaps_port), 10, "samba ports closed")

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
