"""End to end: a removal with purge deletes what the deploy made and nothing else; then the
namespace really terminates (kube-controller-manager's namespace controller) and a redeploy
works from scratch: Dex and the account service come back, a new super-admin logs in through
the new Dex.

It runs on a lab of its own, so the shared lab keeps its users.
"""
import json
import subprocess

import pytest

import dexlab
from support import wait_until
from labfixture import LabHandle, short_root

DEX_CRDS = ["authcodes", "authrequests", "oauth2clients", "signingkeies", "refreshtokens", "passwords",
            "offlinesessionses", "connectors", "devicerequests", "devicetokens"]
FOREIGN_CRD = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.dex.coreos.com}
spec:
  group: dex.coreos.com
  names: {kind: Widget, plural: widgets, singular: widget}
  scope: Namespaced
  versions:
  - {name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object}}}
"""
MANAGED = "app.kubernetes.io/managed-by=dexauth"


@pytest.fixture(scope="module")
def purged():
    lab = LabHandle(short_root("dxp-")).up()
    try:
        ok, states, _ = dexlab.orchestrate(lab)
        assert ok, json.dumps(states, indent=1)[-3000:]
        # A solution namespace with a Solution Admin binding (a group needs no password change).
        assert lab.kubectl("create", "namespace", "shop").returncode == 0
        assert lab.kubectl("label", "namespace", "shop", "dexauth.io/solution=true").returncode == 0
        r = lab.authctl("role", "grant", "--group", "shop-team", "--idp", "corp", "solution-admin", "--break-glass")
        assert r.returncode == 0, r.stderr
        wait_until(lambda: lab.kubectl("-n", "shop", "get", "rolebinding", "-l", MANAGED, "-o", "name").stdout,
                    what="the Solution Admin RoleBinding in the solution namespace")
        # Not the deploy's: another CRD of Dex's API group.
        r = subprocess.run([lab.lab.tools["KUBECTL_BIN"], "--kubeconfig", str(lab.lab.kubeconfig), "apply", "-f", "-"],
                           input=FOREIGN_CRD, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        lab.cert_dir = dexlab.ca_file(lab).parent  # read now: the purge deletes authctl.yaml, which names it
        ok, states, _ = dexlab.orchestrate(lab, "dexauth.orchestrate.remove",
                                           'pillar={"dexauth": {"remove": {"purge": true}}}')
        assert ok, json.dumps(states, indent=1)[-3000:]
        yield lab
    finally:
        lab.down()
        lab.remove()


def _gone_or_going(lab, *args):
    r = lab.kubectl("get", *args, "-o", "jsonpath={.metadata.deletionTimestamp}")
    return r.returncode != 0 or r.stdout.strip() != ""


def test_purge_deletes_dex_crds_by_name_and_keeps_other_crds_of_its_group(purged):
    for name in DEX_CRDS:
        assert _gone_or_going(purged, "crd", f"{name}.dex.coreos.com"), name
    assert not _gone_or_going(purged, "crd", "widgets.dex.coreos.com")


def test_purge_deletes_every_binding_and_role_dexauth_made(purged):
    for kind in ("clusterrolebindings", "clusterroles"):
        r = purged.kubectl("get", kind, "-l", MANAGED, "-o", "name")
        assert r.returncode == 0 and r.stdout.strip() == "", r.stdout
    r = purged.kubectl("get", "rolebindings", "--all-namespaces", "-l", MANAGED, "-o", "name")
    assert r.returncode == 0 and r.stdout.strip() == "", r.stdout


def test_purge_keeps_solution_namespaces_and_their_pod_security(purged):
    r = purged.kubectl("get", "namespace", "shop", "-o", "json")
    assert r.returncode == 0, r.stderr
    labels = json.loads(r.stdout)["metadata"]["labels"]
    assert labels.get("pod-security.kubernetes.io/enforce") == "baseline"


def test_purge_deletes_the_namespace_certificates_and_authctl_config(purged):
    assert _gone_or_going(purged, "namespace", "dexauth")
    assert purged.cert_dir.name.startswith("certs-") and not purged.cert_dir.exists()
    assert not (purged.root / "authctl.yaml").exists()
    assert purged.kubectl("-n", "kube-public", "get", "configmap", "dexauth-ca").returncode != 0


def test_purge_removes_the_apiserver_flag_and_its_files(purged):
    manifest = (purged.lab.manifests / "kube-apiserver.yaml").read_text()
    assert "--authentication-config" not in manifest and "dexauth-authn" not in manifest
    assert not (purged.root / "etc" / "kubernetes" / "dexauth" / "authentication-config.yaml").exists()


def test_after_the_purge_the_namespace_terminates_and_a_redeploy_works(purged):
    wait_until(lambda: purged.kubectl("get", "namespace", "dexauth").returncode != 0, timeout=180,
               what="namespace dexauth gone (its finalizers done)")
    ok, states, _ = dexlab.orchestrate(purged)
    assert ok, dexlab.failures(states)
    for deployment in ("dex", "dex-account"):
        wait_until(lambda: purged.kube().get(f"/apis/apps/v1/namespaces/dexauth/deployments/{deployment}")["status"]
                   .get("readyReplicas") == 1, what=f"the redeployed {deployment} ready")
    # The new super-admin's one-time password works at the new Dex (its roles wait for the change).
    email = dexlab.pillar(purged)["superadmin"]["email"]
    status, body = dexlab.password_grant(purged, email, dexlab.initial_password(purged))
    assert status == 200, body
    assert dexlab.claims(body["id_token"])["email"] == email
