"""Single sign-on stand-ins: a real nginx (Debian's) as the ingress controller doing ``auth_request``
to the account service, and small admin UIs that show the identity headers they receive (one of
them reading the generated grafana.ini exactly as Grafana's auth proxy does)."""
import configparser
import html
import http.server
import ipaddress
import json
import tempfile
import threading
from pathlib import Path

from support.processes import Process, Server, free_port, port_open, register, wait_for_server

NGINX = "/usr/sbin/nginx"
COOKIE = "dexauth_console"
IDENTITY_HEADERS = ("X-Auth-Request-User", "X-Auth-Request-Email", "X-Auth-Request-Name", "X-Auth-Request-Groups",
                    "X-Auth-Request-Role", "X-Auth-Request-Grafana-Role")

# The front door of the admin host, as docs/sso.md shows it for plain nginx: the console on
# <console path> (same origin, so its session cookie is the admin UIs' too), and per admin UI either
# auth_request (forward-auth) or a plain proxy (a UI that logs in through Dex itself).
_CONF = """
worker_processes 1;
daemon off;
pid {root}/nginx.pid;
error_log {root}/error.log info;
events {{ worker_connections 512; }}
http {{
  access_log {root}/access.log;
  client_body_temp_path {root}/tmp/body;
  proxy_temp_path {root}/tmp/proxy;
  fastcgi_temp_path {root}/tmp/fastcgi;
  uwsgi_temp_path {root}/tmp/uwsgi;
  scgi_temp_path {root}/tmp/scgi;
  default_type text/html;
  upstream dexauth_account {{ server 127.0.0.1:{account_port}; keepalive 16; }}
  server {{
    listen 127.0.0.1:{port} ssl;
    ssl_certificate {cert};
    ssl_certificate_key {key};
    # The account service over HTTPS, verified with the cluster's CA (its Service name is in its certificate).
    proxy_ssl_trusted_certificate {account_ca};
    proxy_ssl_verify on;
    proxy_ssl_name {account_tls_name};
    proxy_ssl_server_name on;
    proxy_ssl_session_reuse on;
    proxy_http_version 1.1;
    proxy_set_header Connection "";

    location {console_path}/ {{
      proxy_pass https://dexauth_account;
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $remote_addr;
    }}
    # The auth subrequest: only the cookie travels, never the body.
    location = /_dexauth/verify {{
      internal;
      proxy_pass https://dexauth_account{console_path}/auth/verify;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Original-URI $request_uri;
    }}
    location @dexauth_signin {{
      return 302 https://$http_host{console_path}/login?return=$request_uri;
    }}
    location @dexauth_refused {{
      return 403 '<!doctype html><title>Not allowed</title><h1>Not allowed</h1><p>You are signed in but hold no role for the admin UIs. Ask a Cluster Admin for one.</p>';
    }}
{locations}
  }}
}}
"""

_FORWARD_AUTH = """
    location {path}/ {{
      auth_request /_dexauth/verify;
      error_page 401 = @dexauth_signin;
      error_page 403 = @dexauth_refused;
      auth_request_set $dexauth_user $upstream_http_x_auth_request_user;
      auth_request_set $dexauth_email $upstream_http_x_auth_request_email;
      auth_request_set $dexauth_name $upstream_http_x_auth_request_name;
      auth_request_set $dexauth_groups $upstream_http_x_auth_request_groups;
      auth_request_set $dexauth_role $upstream_http_x_auth_request_role;
      auth_request_set $dexauth_grafana_role $upstream_http_x_auth_request_grafana_role;
      # Set here, the identity headers replace any the client sent under these names.
      proxy_set_header X-Auth-Request-User $dexauth_user;
      proxy_set_header X-Auth-Request-Email $dexauth_email;
      proxy_set_header X-Auth-Request-Name $dexauth_name;
      proxy_set_header X-Auth-Request-Groups $dexauth_groups;
      proxy_set_header X-Auth-Request-Role $dexauth_role;
      proxy_set_header X-Auth-Request-Grafana-Role $dexauth_grafana_role;
      # The console's session cookie never reaches a UI.
      set $dexauth_cookie $http_cookie;
      if ($http_cookie ~ "^(.*?;\\s*)?dexauth_console=[^;]*(?:;\\s*)?(.*)$") {{
        set $dexauth_cookie $1$2;
      }}
      proxy_set_header Cookie $dexauth_cookie;
      proxy_set_header Host $http_host;
      proxy_pass http://127.0.0.1:{upstream};
    }}
"""

_PLAIN = """
    location {path}/ {{
      proxy_set_header Host $http_host;
      proxy_pass http://127.0.0.1:{upstream};
    }}
"""


class Nginx(Server):
    """nginx on 127.0.0.1 with a private prefix and config; ``uis`` is [(path, upstream port, forward_auth)]."""

    def __init__(self, account_port, account_ca, account_tls_name, console_path, uis, ca, port=None):
        self.root = Path(tempfile.mkdtemp(prefix="dxn-", dir="/tmp"))
        register(self)
        try:
            (self.root / "tmp").mkdir()
            self.port = port or free_port()
            cert, key = ca.issue(self.root, "nginx")
            locations = "".join((_FORWARD_AUTH if fa else _PLAIN).format(path=p, upstream=u) for p, u, fa in uis)
            self.conf = self.root / "nginx.conf"
            self.conf.write_text(_CONF.format(root=self.root, port=self.port, cert=cert, key=key,
                                              account_port=account_port, account_ca=account_ca,
                                              account_tls_name=account_tls_name, console_path=console_path,
                                              locations=locations))
            self.proc = Process("nginx", [NGINX, "-p", self.root, "-c", self.conf, "-e", self.root / "error.log"],
                                self.root / "nginx.out")
            wait_for_server(lambda: port_open(self.port), 20, "nginx listening", self.proc)
        except BaseException:
            self.close()
            raise

    @property
    def url(self):
        return f"https://127.0.0.1:{self.port}"

    def error_log(self):
        return (self.root / "error.log").read_text(errors="replace")


class _Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        ui = self.server.ui
        seen = {k: v for k, v in self.headers.items()}
        ui.requests.append(seen)
        status, body = ui.page(self.client_address[0], seen)
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class HeaderEchoUi:
    """An admin UI stand-in on 127.0.0.1: its page lists every header it received (id ``headers``,
    JSON) under a heading with its name; ``requests`` keeps the headers of each request."""

    def __init__(self, name):
        self.name = name
        self.requests = []
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.ui = self
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def page(self, client, headers):
        return 200, (f"<!doctype html><title>{self.name}</title><h1 id='ui'>{html.escape(self.name)}</h1>"
                     f"<pre id='headers'>{html.escape(json.dumps(headers, sort_keys=True))}</pre>")

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class GrafanaAuthProxyUi(HeaderEchoUi):
    """Grafana's auth proxy as its documentation describes it, driven by a generated grafana.ini:
    the user from ``header_name`` (only from a whitelisted address), Email/Name/Role/Groups from
    ``headers``; no user header: Grafana's own login (here refused, the login form being off)."""

    def __init__(self, name, grafana_ini):
        super().__init__(name)
        cfg = configparser.ConfigParser(interpolation=None)
        cfg.read_string(grafana_ini)
        proxy = cfg["auth.proxy"]
        assert proxy.getboolean("enabled"), "auth.proxy is not enabled"
        self.header_name = proxy["header_name"]
        self.mapping = dict(item.split(":", 1) for item in proxy["headers"].replace(",", " ").split())
        self.whitelist = [ipaddress.ip_network(a.strip(), strict=False) for a in proxy["whitelist"].split(",") if a.strip()]
        self.default_role = cfg["users"]["auto_assign_org_role"]

    def page(self, client, headers):
        if self.whitelist and not any(ipaddress.ip_address(client) in n for n in self.whitelist):
            return 407, "proxy authentication required: request not from a whitelisted proxy"
        user = headers.get(self.header_name)
        if not user:
            return 401, "<!doctype html><title>Grafana</title><p id='login'>login form disabled</p>"
        who = {attr: headers.get(header, "") for attr, header in self.mapping.items()}
        role = who.get("Role") or self.default_role
        return 200, (f"<!doctype html><title>Grafana</title><h1 id='ui'>{html.escape(self.name)}</h1>"
                     f"<p id='user'>{html.escape(user)}</p><p id='role'>{html.escape(role)}</p>"
                     f"<p id='email'>{html.escape(who.get('Email', ''))}</p>"
                     f"<pre id='headers'>{html.escape(json.dumps(headers, sort_keys=True))}</pre>")


def cleanup(*objs):
    for o in objs:
        if o is not None:
            o.close()


__all__ = ["Nginx", "HeaderEchoUi", "GrafanaAuthProxyUi", "IDENTITY_HEADERS", "COOKIE", "cleanup"]
