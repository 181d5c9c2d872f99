"""Self-tests of the test servers of tests/support against the real servers (no lab needed)."""
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.exceptions import InvalidSignature

sys.path.insert(0, str(Path(__file__).resolve().parent))
import support as d  # noqa: E402
from support import LoginFailed, TestCA, assert_no_secrets  # noqa: E402

NESTED = "1.2.840.113556.1.4.1941"


@pytest.fixture(scope="module")
def root():
    path = Path(tempfile.mkdtemp(prefix="dxd-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def ca(root):
    return TestCA(root, "main")


@pytest.fixture(scope="module")
def other_ca(root):
    return TestCA(root, "other")


@pytest.fixture(scope="module")
def slapd(root, ca):
    server = d.Slapd.start(root, ca)
    yield server
    server.close()


@pytest.fixture(scope="module")
def samba_ad(root, ca):
    if not (shutil.which("samba") or os.path.exists(d.SAMBA_BIN)) or not os.path.exists(d.SAMBA_TOOL_BIN):
        pytest.skip("Samba AD DC is not installed (Debian packages samba, samba-ad-dc, samba-ad-provision)")
    unprivileged = Path("/proc/sys/net/ipv4/ip_unprivileged_port_start")
    if os.geteuid() != 0 and (not unprivileged.exists() or int(unprivileged.read_text()) > 389):
        pytest.skip("Samba AD DC binds the fixed privileged ports 389/636: needs root (or CAP_NET_BIND_SERVICE)")
    try:
        server = d.SambaAD.start(root, ca)
    except d.PortsBusy as e:
        pytest.skip(str(e))
    yield server
    server.close()


def redirect_uri():
    return f"http://127.0.0.1:{d.free_port()}/callback"  # nothing listens there: the flow never fetches it


def ldapsearch(url, ca_file, *args):
    return subprocess.run(["ldapsearch", "-LLL", "-x", "-H", url, *args], capture_output=True, text=True,
                          timeout=30, env=d.ldap_env(ca_file))


# ---------------------------------------------------------------------------------------- TestCA

def test_ca_issues_certificates_that_only_it_trusts(root, ca, other_ca):
    cert_path, key_path = ca.issue(root / "certs", "srv", dns_sans=("localhost", "srv.test"))
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    cert.verify_directly_issued_by(ca.cert)
    with pytest.raises((ValueError, InvalidSignature)):
        cert.verify_directly_issued_by(other_ca.cert)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert san.get_values_for_type(x509.DNSName) == ["localhost", "srv.test"]
    assert ca.pem == ca.cert_path.read_text() and ca.pem != other_ca.pem


# ---------------------------------------------------------------------------------------- Slapd

def test_slapd_serves_seed_over_ldaps_and_starttls(slapd):
    assert slapd.timings["provision"] + slapd.timings["start"] < 5
    for tls in ("ldaps", "starttls"):
        alice = slapd.search("(uid=alice)", ["mail", "cn", "userPassword"], base=slapd.users_dn, tls=tls)
        assert alice == [{"dn": slapd.users["alice"]["dn"], "mail": ["alice@example.org"],
                          "cn": ["Alice Liddell"]}]  # userPassword is not readable by the bind account
    groups = slapd.search(f"(&(objectClass=groupOfNames)(member={slapd.users['alice']['dn']}))", ["cn"],
                          base=slapd.groups_dn)
    assert sorted(g["cn"][0] for g in groups) == ["developers", "ops"]
    assert [g["cn"][0] for g in slapd.search("(memberUid=bob)", ["cn"])] == ["ldapusers"]
    assert slapd.search(f"(member={slapd.users['carol']['dn']})") == []
    # ldapsearch as the bind DN, its password from a file
    r = ldapsearch(slapd.ldaps_url, slapd.ca.cert_path, "-D", slapd.bind_dn, "-y", str(slapd._bind_pwfile),
                   "-b", slapd.base_dn, "(uid=bob)", "mail")
    assert r.returncode == 0 and "mail: bob@example.org" in r.stdout, r.stderr
    assert slapd.check_bind(slapd.users["carol"]["dn"], slapd.users["carol"]["password"], tls="starttls")
    assert not slapd.check_bind(slapd.users["carol"]["dn"], "wrong password")


def test_slapd_rejects_clients_trusting_another_ca(slapd, other_ca):
    r = ldapsearch(slapd.ldaps_url, other_ca.cert_path, "-b", "", "-s", "base")
    assert r.returncode != 0
    r = ldapsearch(slapd.ldap_url, other_ca.cert_path, "-ZZ", "-b", "", "-s", "base")
    assert r.returncode != 0


def test_slapd_stop_and_start_again_keeps_ports_and_data(slapd):
    slapd.add_user("dan", "dan-Passw0rd", groups=["ops"])
    ports = (slapd.ldap_port, slapd.ldaps_port)
    slapd.stop()
    with pytest.raises(d.ServerError):
        slapd.search("(uid=dan)", timeout=3)
    slapd.start_again()
    assert (slapd.ldap_port, slapd.ldaps_port) == ports
    assert slapd.timings["start"] < 5
    assert slapd.search("(uid=dan)", ["uid"])[0]["uid"] == ["dan"]
    assert slapd.check_bind(slapd.users["dan"]["dn"], "dan-Passw0rd")
    slapd.remove_member("ops", "dan")
    assert slapd.users["dan"]["groups"] == []


# ---------------------------------------------------------------------------------------- Samba AD

def test_samba_ad_nested_groups_over_ldaps(samba_ad):
    dave = samba_ad.users["dave"]
    assert dave["upn"] == dave["email"] == "dave@ad.example.test"
    r = ldapsearch(samba_ad.ldaps_url, samba_ad.ca.cert_path, "-D", samba_ad.bind_dn, "-y",
                   str(samba_ad._bind_pwfile), "-b", samba_ad.base_dn, f"(member:{NESTED}:={dave['dn']})", "cn")
    assert r.returncode == 0, r.stderr
    assert sorted(e["cn"][0] for e in d.parse_ldif(r.stdout)) == ["k8s-all", "k8s-devs"]
    assert samba_ad.groups_of(dave["dn"], nested=False) == ["k8s-devs"]
    assert samba_ad.groups_of(samba_ad.users["erin"]["dn"]) == ["k8s-all"]
    entry = samba_ad.search("(sAMAccountName=dave)", ["userPrincipalName", "mail"], tls="starttls")[0]
    assert entry["userPrincipalName"] == ["dave@ad.example.test"] and entry["mail"] == ["dave@ad.example.test"]
    assert samba_ad.check_bind(samba_ad.bind_upn, samba_ad.bind_password)
    assert samba_ad.check_bind(dave["dn"], dave["password"])
    assert not samba_ad.check_bind(dave["upn"], "Wrong-Passw0rd")


# ---------------------------------------------------------------------------------------- Dex

def test_upstream_dex_browser_flow(root, ca, other_ca):
    cb = redirect_uri()
    with d.UpstreamDex.start(root, ca, "tests", "tests-secret", cb) as up:
        assert up.timings["start"] < 10
        assert d.login_page(up.issuer, ca.cert_path, "tests", cb) == {"direct": True, "connector": "local"}
        frank = up.users["frank"]
        tokens = d.login_via_browser_flow(up.issuer, ca.cert_path, "tests", cb, frank["email"], frank["password"],
                                          client_secret="tests-secret")
        claims = d.decode_jwt_claims(tokens["id_token"])
        assert claims["email"] == "frank@upstream.test" and claims["iss"] == up.issuer and claims["aud"] == "tests"
        with pytest.raises(LoginFailed, match="Invalid Email Address and password"):
            d.login_via_browser_flow(up.issuer, ca.cert_path, "tests", cb, frank["email"], "wrong",
                                     client_secret="tests-secret")
        with pytest.raises(requests.exceptions.SSLError):
            d.login_via_browser_flow(up.issuer, other_ca.cert_path, "tests", cb, frank["email"], frank["password"])
        assert_no_secrets(["tests-secret"], texts={"upstream Dex's command line": " ".join(up.proc.cmd)})
        assert stat.S_IMODE(up.config_path.stat().st_mode) == 0o600


def test_dex_in_front_of_upstream_ldap_and_ad(request, root, ca, other_ca, slapd):
    """A Dex (CA main) with an oidc connector to an upstream Dex (CA other), an LDAP connector to
    slapd (StartTLS) and, when Samba runs here, one to Samba AD (LDAPS, nested groups)."""
    try:
        ad = request.getfixturevalue("samba_ad")
    except pytest.skip.Exception:
        ad = None
    port = d.free_port()
    issuer_path = "/dex"
    cb = redirect_uri()
    up = d.UpstreamDex.start(root, other_ca, "front", "front-secret", f"https://127.0.0.1:{port}{issuer_path}/callback")
    request.addfinalizer(up.close)
    connectors = [
        {"type": "oidc", "id": "upstream", "name": "Upstream", "config": {
            "issuer": up.issuer, "clientID": "front", "clientSecret": "front-secret",
            "redirectURI": f"https://127.0.0.1:{port}{issuer_path}/callback", "rootCAs": [str(other_ca.cert_path)],
            "scopes": ["openid", "email", "profile", "groups"], "insecureEnableGroups": True}},
        {"type": "ldap", "id": "ldap", "name": "OpenLDAP", "config": {
            "host": f"127.0.0.1:{slapd.ldap_port}", "startTLS": True, "rootCA": str(ca.cert_path),
            "bindDN": slapd.bind_dn, "bindPW": slapd.bind_password, "usernamePrompt": "Username",
            "userSearch": {"baseDN": slapd.users_dn, "filter": "(objectClass=inetOrgPerson)", "username": "uid",
                           "idAttr": "uid", "emailAttr": "mail", "nameAttr": "cn"},
            "groupSearch": {"baseDN": slapd.groups_dn, "filter": "(objectClass=groupOfNames)",
                            "userMatchers": [{"userAttr": "DN", "groupAttr": "member"}], "nameAttr": "cn"}}},
    ]
    if ad:
        connectors.append({"type": "ldap", "id": "ad", "name": "Active Directory", "config": {
            "host": f"127.0.0.1:{ad.ldaps_port}", "rootCA": str(ca.cert_path),
            "bindDN": ad.bind_dn, "bindPW": ad.bind_password, "usernamePrompt": "Username",
            "userSearch": {"baseDN": ad.users_dn, "filter": "(objectClass=person)", "username": "sAMAccountName",
                           "idAttr": "sAMAccountName", "emailAttr": "mail", "nameAttr": "cn"},
            "groupSearch": {"baseDN": ad.base_dn, "filter": "(objectClass=group)", "nameAttr": "cn",
                            "userMatchers": [{"userAttr": "DN", "groupAttr": f"member:{NESTED}:"}]}}})
    front = d.UpstreamDex.start(root, ca, "kubernetes", "kube-secret", cb, connectors=connectors, path=issuer_path,
                                port=port, name="front-dex")
    request.addfinalizer(front.close)

    page = d.login_page(front.issuer, ca.cert_path, "kubernetes", cb)
    assert page["direct"] is False
    assert sorted(page["connectors"]) == sorted(["upstream", "ldap", "local"] + (["ad"] if ad else []))

    frank = up.users["frank"]
    tokens = d.login_via_browser_flow(front.issuer, [ca.cert_path, other_ca.cert_path], "kubernetes", cb,
                                      frank["email"], frank["password"], connector_id="upstream",
                                      client_secret="kube-secret")
    claims = d.decode_jwt_claims(tokens["id_token"])
    assert claims["iss"] == front.issuer and claims["email"] == "frank@upstream.test"
    assert claims["groups"] == ["upstream-devs"]

    alice = slapd.users["alice"]
    claims = d.decode_jwt_claims(d.login_via_browser_flow(
        front.issuer, ca.cert_path, "kubernetes", cb, "alice", alice["password"], connector_id="ldap",
        client_secret="kube-secret")["id_token"])
    assert claims["email"] == "alice@example.org" and sorted(claims["groups"]) == ["developers", "ops"]
    with pytest.raises(LoginFailed, match="Invalid Username and password"):
        d.login_via_browser_flow(front.issuer, ca.cert_path, "kubernetes", cb, "alice", "nope", connector_id="ldap",
                                 client_secret="kube-secret")
    with pytest.raises(LoginFailed, match="not offered"):
        d.login_via_browser_flow(front.issuer, ca.cert_path, "kubernetes", cb, "alice", "x", connector_id="nope")

    if ad:
        dave = ad.users["dave"]
        claims = d.decode_jwt_claims(d.login_via_browser_flow(
            front.issuer, ca.cert_path, "kubernetes", cb, "dave", dave["password"], connector_id="ad",
            client_secret="kube-secret")["id_token"])
        assert claims["email"] == "dave@ad.example.test" and sorted(claims["groups"]) == ["k8s-all", "k8s-devs"]


# ---------------------------------------------------------------------------------------- cleanup

def test_servers_die_with_the_test_process(root, ca):
    """If the test process is killed, its servers go too (PR_SET_PDEATHSIG)."""
    script = textwrap.dedent(f"""
        import sys; sys.path.insert(0, {str(Path(__file__).resolve().parent)!r})
        from pathlib import Path
        import support as d
        root = Path({str(root / "orphans")!r}); ca = d.TestCA(root, "orphan")
        s = d.Slapd.start(root, ca)
        u = d.UpstreamDex.start(root, ca, "c", "s", "http://127.0.0.1:1/cb")
        print(s.proc.pid, u.proc.pid, flush=True)
        import time; time.sleep(60)
    """)
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        pids = [int(p) for p in child.stdout.readline().split()]
        assert len(pids) == 2
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        d.wait_until(lambda: not any(Path(f"/proc/{p}").exists() and "zombie" not in _state(p) for p in pids), 10,
                     f"the end of servers {pids} after their parent's", interval=0.1)
    finally:
        child.kill()
        child.wait(10)
        shutil.rmtree(root / "orphans", ignore_errors=True)


def _state(pid):
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:")[1].split("\n")[0].lower()
    except (OSError, IndexError):
        return "zombie"
