#!/usr/bin/env python3
"""Benchmark of single sign-on (figures only, nothing asserted).

  sso   the latency forward authentication adds: the same stand-in admin UI behind the same nginx
        (Debian's, on 127.0.0.1), once with auth_request to the account service and once without,
        500 sequential requests each with a warm session (keep-alive client, requests
        interleaved so both paths see the same machine load), p50/p95 and the difference.

Runs on a private lab (started and stopped here), nginx as in tests/test_sso.py.  bench/run.sh sso
"""
import contextlib
import re
import statistics
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "lab"))
sys.path.insert(0, str(REPO / "tests"))
import main_job  # noqa: E402
from labfixture import LabHandle, short_root  # noqa: E402
import dexlab  # noqa: E402
from support import TestCA, free_port  # noqa: E402
from support.browser_flow import https_session  # noqa: E402
from support.sso import HeaderEchoUi, Nginx, cleanup  # noqa: E402

N = 500


def ms(samples):
    s = sorted(x * 1000 for x in samples)
    return statistics.median(s), s[int(len(s) * 0.95) - 1]


def main():
    lab = LabHandle(short_root("dxo-")).up()
    ui = nginx = None
    try:
        ok, states, _ = main_job.run_orchestration(lab.lab)
        assert ok, dexlab.failures(states)
        admin, password = "admin@lab.local", dexlab.superadmin_password(lab)  # before the console moves behind nginx
        port = free_port()
        dexlab.set_overrides(lab, {"dexauth": {"account": {"public_url": f"https://127.0.0.1:{port}/account"}}})
        ok, states, _ = main_job.run_orchestration(lab.lab)
        assert ok, dexlab.failures(states)
        tmp = Path(tempfile.mkdtemp(prefix="ca-", dir=lab.root))  # removed with the lab
        ca = TestCA(tmp, "admin-host")
        ui = HeaderEchoUi("bench-ui")
        nginx = Nginx(lab.ports["account_https"], dexlab.ca_file(lab), "dex-account.dexauth.svc", "/account",
                      [("/sso", ui.port, True), ("/plain", ui.port, False)], ca, port=port)
        bundle = tmp / "bundle.pem"
        bundle.write_text(dexlab.ca_file(lab).read_text() + ca.cert_path.read_text())
        with contextlib.ExitStack() as stack:
            s = https_session(stack, bundle)
            r = s.get(nginx.url + "/sso/", timeout=30)
            action = re.search(r'<form[^>]*action="([^"]*)"', r.text).group(1).replace("&amp;", "&")
            r = s.post(urllib.parse.urljoin(r.url, action), data={"login": admin, "password": password}, timeout=30)
            assert r.status_code == 200 and r.url == nginx.url + "/sso/", (r.status_code, r.url)
            for path in ("/sso/", "/plain/"):  # warm both paths (connections, TLS sessions, JIT)
                for _ in range(50):
                    assert s.get(nginx.url + path, timeout=30).status_code == 200
            times = {"/sso/": [], "/plain/": []}
            for _ in range(N):
                for path, out in times.items():
                    t0 = time.perf_counter()
                    r = s.get(nginx.url + path, timeout=30)
                    out.append(time.perf_counter() - t0)
                    assert r.status_code == 200, (path, r.status_code)
        (sp50, sp95), (pp50, pp95) = ms(times["/sso/"]), ms(times["/plain/"])
        print(f"== forward authentication, {N} requests each, warm session, nginx {nginx.url}")
        print(f"  UI behind auth_request (account service)    p50 {sp50:.1f} ms, p95 {sp95:.1f} ms")
        print(f"  same UI, same nginx, no auth                 p50 {pp50:.1f} ms, p95 {pp95:.1f} ms")
        print(f"  added by the auth subrequest                 p50 {sp50 - pp50:.1f} ms, p95 {sp95 - pp95:.1f} ms")
    finally:
        cleanup(nginx, ui)
        lab.down()
        lab.remove()


if __name__ == "__main__":
    main()
