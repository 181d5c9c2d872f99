"""The LDAP client side of the test directories: ldap-utils as the bind or admin account, LDIF."""
import base64
import hashlib
import os
import subprocess
import tempfile
from pathlib import Path

from support.processes import Server, ServerError, write_secret

__all__ = ["LdapServer", "ldap_env", "parse_ldif", "ssha"]


def ssha(password):
    """An OpenLDAP {SSHA} userPassword value."""
    salt = os.urandom(8)
    digest = hashlib.sha1(password.encode() + salt).digest()
    return "{SSHA}" + base64.b64encode(digest + salt).decode()


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


class LdapServer(Server):
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
            pw = write_secret(Path(d) / "pw", password)
            cmd = ["ldapsearch", "-x", "-H", self._ldap_url(tls), "-D", dn, "-y", str(pw),
                   "-o", f"nettimeout={timeout}", "-b", "", "-s", "base", "(objectClass=*)", "1.1"]
            if tls == "starttls":
                cmd.insert(1, "-ZZ")
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout + 5,
                               env=ldap_env(self.ca.cert_path))
        return r.returncode == 0
