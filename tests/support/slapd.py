"""An OpenLDAP server (/usr/sbin/slapd) on free ports, LDAP+StartTLS and LDAPS."""
import secrets
import shutil
import time
from pathlib import Path

from support.ldap import LdapServer, ssha
from support.processes import HOST, Process, free_port, port_open, register, run, wait_for_server, write_secret

__all__ = ["Slapd", "SLAPD_BIN", "SLAPADD_BIN"]

SLAPD_BIN = "/usr/sbin/slapd"
SLAPADD_BIN = "/usr/sbin/slapadd"
LDAP_SCHEMA_DIR = "/etc/ldap/schema"
LDAP_MODULE_DIR = "/usr/lib/ldap"


class Slapd(LdapServer):
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
        register(self)
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
        self._bind_pwfile = write_secret(self.root / "bind.pw", self.bind_password)
        self._admin_pwfile = write_secret(self.root / "admin.pw", self.admin_password)
        self.conf = self.root / "slapd.conf"
        schemas = "\n".join(f"include {LDAP_SCHEMA_DIR}/{s}.schema" for s in ("core", "cosine", "inetorgperson", "nis"))
        write_secret(self.conf, f"""{schemas}
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
rootpw {ssha(self.admin_password)}
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
userPassword: {ssha(self.bind_password)}
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
        seed = write_secret(self.root / "seed.ldif", "\n".join(ldif))
        run([SLAPADD_BIN, "-q", "-f", self.conf, "-l", seed], timeout=60, what="slapadd")
        seed.unlink()
        self.timings["provision"] = time.monotonic() - t0

    @staticmethod
    def _user_ldif(uid, u, sn, uid_number):
        given = u["name"].split()[0]
        return (f"dn: {u['dn']}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {u['name']}\nsn: {sn}\n"
                f"givenName: {given}\ndisplayName: {u['name']}\nmail: {u['email']}\n"
                f"employeeNumber: {uid_number}\nuserPassword: {ssha(u['password'])}\n")

    def start_again(self, timeout=30):
        """(Re)starts slapd on the same ports with the same data (after stop())."""
        if self.proc is not None and self.proc.alive():
            return self
        t0 = time.monotonic()
        urls = f"ldap://{self.host}:{self.ldap_port}/ ldaps://{self.host}:{self.ldaps_port}/"
        self.proc = Process("slapd", [SLAPD_BIN, "-d", "stats", "-f", self.conf, "-h", urls],
                             self.root / "slapd.log", cwd=self.root)
        wait_for_server(lambda: port_open(self.ldap_port) and port_open(self.ldaps_port), timeout,
                    "slapd listening", self.proc)
        wait_for_server(lambda: self.search("(objectClass=organization)", ["o"], scope="base"), timeout,
                    "slapd answering over LDAPS", self.proc)
        self.timings["start"] = time.monotonic() - t0
        return self

    def stop(self, timeout=10):
        """Stops slapd (data and ports kept for start_again)."""
        if self.proc is not None:
            self.proc.stop(timeout)
        wait_for_server(lambda: not port_open(self.ldap_port) and not port_open(self.ldaps_port), 10,
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
                    f"userPassword: {ssha(password)}\n")
        if uid in self.users:
            self.users[uid]["password"] = password
