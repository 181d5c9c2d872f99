#!/usr/bin/env python3
"""The lab's main job: run the Dex orchestration on the running lab, then print where
everything is and a copy-paste command that logs in as the super-admin and runs kubectl.

  main_job.py [--root DIR]

It runs exactly what an operator runs on a bootstrap node:
  salt-run saltutil.sync_all && salt-run state.orchestrate dexauth.orchestrate.deploy
"""
import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import labctl  # noqa: E402


def superadmin_password_file(lab):
    """Where the lab keeps the super-admin's one-time password (mode 0600): lab only."""
    return lab.root / "superadmin-password"


def authctl_config(lab):
    """authctl's configuration as the dexauth.cli state wrote it (Dex's CA file among others)."""
    import yaml
    return yaml.safe_load((lab.root / "authctl.yaml").read_text())


def _created(states, key):
    """True when some state (nested salt.state results included) reports {key: "created..."}."""
    if isinstance(states, dict):
        if str(states.get(key, "")).startswith("created"):
            return True
        return any(_created(v, key) for v in states.values())
    return False


def _reset_superadmin(lab, email):
    """
    Production shows the one-time password once, on the operator's terminal, and never stores it;
    the lab has no terminal there. It sets a one-time password of its own the way an operator
    would (`authctl user passwd --break-glass`: must change it at first use) and keeps it in a file.
    """
    import secrets
    password = "Lab-" + secrets.token_urlsafe(18)
    r = lab.authctl("user", "passwd", email, "--break-glass", "--password-stdin", "--config",
                    str(lab.root / "authctl.yaml"), stdin=password + "\n")
    if r.returncode != 0:
        raise SystemExit(f"labctl: cannot set the super-admin's one-time password: {r.stderr.strip()}")
    path = superadmin_password_file(lab)
    path.write_text(password + "\n")
    path.chmod(0o600)
    # A password a test changed it to belonged to the user that was just created anew.
    path.with_name(path.name + ".current").unlink(missing_ok=True)


def run_orchestration(lab, name="dexauth.orchestrate.deploy", extra=()):
    """Runs an orchestration; returns (ok, summary of states, seconds). A super-admin it created gets a
    one-time password the lab knows (superadmin_password_file)."""
    base = [lab.salt_bin("salt-run"), "-c", str(lab.salt_conf)]
    subprocess.run(base + ["saltutil.sync_all"], capture_output=True, text=True, timeout=300, check=True)
    t0 = time.time()
    r = subprocess.run(base + ["state.orchestrate", name, "--out=json", *extra], capture_output=True, text=True,
                       timeout=1800)
    seconds = time.time() - t0
    try:
        data = json.loads(r.stdout)["data"]
        states = next(iter(data.values()))
    except (ValueError, KeyError, StopIteration):
        return False, {"error": (r.stdout + r.stderr)[-4000:]}, seconds
    import yaml
    email = yaml.safe_load((lab.root / "pillar" / "lab.sls").read_text())["dexauth"]["superadmin"]["email"]
    if not any(a.lower() == "test=true" for a in extra) and _created(states, f"user/{email}"):
        _reset_superadmin(lab, email)
    return r.returncode == 0 and all(s.get("result") for s in states.values()), states, seconds


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", default=os.environ.get("LAB_ROOT", str(labctl.DEFAULT_ROOT)))
    args = ap.parse_args()
    lab = labctl.Lab(args.root)
    labctl.log("running the orchestration dexauth.orchestrate.deploy")
    ok, states, seconds = run_orchestration(lab)
    for sid, s in states.items():
        if isinstance(s, dict):
            mark = "ok" if s.get("result") else "FAILED"
            changed = " (changed)" if s.get("changes") else ""
            labctl.log(f"  {mark:6} {s.get('__id__', sid)}{changed}")
            if not s.get("result"):
                print(s.get("comment"), file=sys.stderr)
    if not ok:
        raise SystemExit(f"main job failed: {states.get('error', 'see the states above')}")
    labctl.log(f"orchestration done in {seconds:.1f}s")

    import yaml
    pillar = yaml.safe_load((lab.root / "pillar" / "lab.sls").read_text())["dexauth"]
    summary = json.loads(lab.summary_file.read_text())
    password_file = superadmin_password_file(lab)
    console = authctl_config(lab).get("account", {}).get("url")
    summary.update({
        "console_url": console,
        "issuer_url": pillar["issuer"],
        "ca_file": authctl_config(lab)["dex"]["caFile"],
        "superadmin_email": pillar["superadmin"]["email"],
        "superadmin_password_file": str(password_file),
        "cli_client_id": "authctl",
        "kubectl_client_id": "kubectl",
        "audience_client_id": "kubernetes",
        "orchestrate_command": f"{lab.salt_bin('salt-run')} -c {lab.salt_conf} state.orchestrate "
                               "dexauth.orchestrate.deploy",
    })
    lab.summary_file.write_text(json.dumps(summary, indent=2) + "\n")
    password = password_file.read_text().strip() if password_file.exists() else "(not shown: see the file above)"
    repo = labctl.REPO
    print(f"""
Open the console: {console or '(none: the account service is disabled in pillar)'}
==========================================================================
 The lab is up and Dex authentication is deployed.
   console          {console}   (its certificate is signed by the Dex CA below)
   apiserver        {summary['apiserver_url']}
   issuer (Dex)     {summary['issuer_url']}
   Dex CA           {summary['ca_file']}
   super-admin      {summary['superadmin_email']}
   password         {password}   (also in {password_file}, mode 0600)
   salt-api         {summary['salt_api_url']}
   summary          {lab.summary_file}

 First change the super-admin's one-time password (current one, then the new one twice):

   {repo}/bin/authctl passwd --config {lab.root}/authctl.yaml --email {summary['superadmin_email']}

 Then write a kubeconfig that logs you in by itself (asks the new password once, then refreshes):

   {repo}/bin/authctl kubeconfig --config {lab.root}/authctl.yaml \\
     --username {summary['superadmin_email']} --output {lab.root}/kubeconfig-{summary['superadmin_email']}
   {summary['kubectl']} --kubeconfig {lab.root}/kubeconfig-{summary['superadmin_email']} get namespaces

 Re-run the orchestration (changes nothing when nothing has to change):
   {summary['orchestrate_command']}
==========================================================================""")


if __name__ == "__main__":
    main()
