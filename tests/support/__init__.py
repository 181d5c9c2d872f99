"""Support for the end-to-end tests, one module per concern.

- waiting: ``wait_until``, the one way to wait for something.
- secret_scan: ``find_secrets`` / ``assert_no_secrets``, failing when nothing was scanned.
- processes: server processes owned by the test process (die with it), free ports, commands.
- pki: ``TestCA``, throw-away certificate authorities.
- ldap: the LDAP client side (ldap-utils, LDIF) shared by the directory servers.
- slapd: ``Slapd``, an OpenLDAP server on free ports.
- samba: ``SambaAD``, a Samba AD DC from a cached, provisioned template.
- upstream_dex: ``UpstreamDex``, a second Dex as an upstream OIDC provider.
- browser_flow: Dex's authorization-code flow with ``requests`` (``login_via_browser_flow``).
- browser: a real headless Chromium through Selenium (``complete_dex_login``).
- terminal: commands under a pseudo-terminal (``Pty``).
- sso: single sign-on stand-ins: a real nginx doing ``auth_request`` to the account service
  (``Nginx``) and admin UIs that show the headers they receive (``HeaderEchoUi``,
  ``GrafanaAuthProxyUi`` driven by a generated grafana.ini).

The names most tests need are importable from the package itself (``from support import
Slapd, TestCA``); browser and terminal are imported from their modules, as they need
Selenium and a pty (and sso, which only SSO tests and bench need).
"""
from support.browser_flow import LoginFailed, decode_jwt_claims, login_page, login_via_browser_flow
from support.ldap import ldap_env, parse_ldif
from support.pki import TestCA
from support.processes import ServerError, cache_dir, free_port
from support.samba import SAMBA_BIN, SAMBA_TOOL_BIN, PortsBusy, SambaAD
from support.secret_scan import NothingScanned, assert_no_secrets, find_secrets
from support.slapd import Slapd
from support.upstream_dex import UpstreamDex
from support.waiting import WaitTimeout, wait_until

__all__ = ["LoginFailed", "decode_jwt_claims", "login_page", "login_via_browser_flow", "ldap_env", "parse_ldif",
           "TestCA", "ServerError", "cache_dir", "free_port", "SAMBA_BIN", "SAMBA_TOOL_BIN", "PortsBusy", "SambaAD",
           "NothingScanned", "assert_no_secrets", "find_secrets", "Slapd", "UpstreamDex", "WaitTimeout",
           "wait_until"]
