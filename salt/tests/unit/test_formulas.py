"""Every SLS renders, with every fixture pillar, into states Salt can run; and the layout
rules of the dexauth formula hold (clean counterparts, headers, engine inputs)."""
import json
import re

import pytest

import formulas
from formulas import LAB_PILLAR, PILLARS, SALT_DIR

# dexauth state function -> the engine reads no pillar key beyond these top-level sections.
WHOLE_PILLAR_STATES = {"pillar_valid"}  # validates every key, so it gets them all


def _states(high):
    """(state id, module, function, args dict) of every state in high data."""
    out = []
    for sid, body in high.items():
        if sid.startswith("__"):
            continue
        for module, args in body.items():
            if module.startswith("__"):
                continue
            fun = next(a for a in args if isinstance(a, str))
            kwargs = {}
            for arg in args:
                if isinstance(arg, dict):
                    kwargs.update(arg)
            out.append((sid, module, fun, kwargs))
    return out


def _cases():
    for sls in formulas.sls_names():
        if sls.startswith("lab"):
            yield pytest.param(sls, "lab", LAB_PILLAR, id=f"{sls}-lab")
        else:
            for case, pillar in PILLARS.items():
                yield pytest.param(sls, case, pillar, id=f"{sls}-{case}")


@pytest.mark.parametrize("sls, case, pillar", list(_cases()))
def test_sls_renders_into_states_salt_can_run(renderer, sls, case, pillar):
    high, errors, functions = renderer.render(sls, pillar)

    assert errors == [], f"{sls} ({case}) does not render: {errors}"
    states = _states(high)
    assert states, f"{sls} ({case}) renders no state"
    ids = {(module, sid) for sid, module, _, _ in states} | {(module, kw.get("name")) for sid, module, _, kw in states}
    for sid, module, fun, kwargs in states:
        assert f"{module}.{fun}" in functions, f"{sls}: '{sid}' uses {module}.{fun}, which no loaded module has"
        for requisite in kwargs.get("require", []):
            (kind, target), = requisite.items()
            assert (kind, target) in ids, f"{sls}: '{sid}' requires {kind}: {target}, which is not in the run"


@pytest.mark.parametrize("case", list(PILLARS))
def test_each_engine_state_gets_only_the_pillar_keys_it_needs(renderer, case):
    pillar = PILLARS[case]
    high, errors, _ = renderer.render("dexauth.orchestrate.deploy", pillar)
    seen = dict(_engine_configs(high))
    for sls in ("dexauth", "dexauth.apiserver", "dexauth.clean", "dexauth.apiserver.clean"):
        high, errors, _ = renderer.render(sls, dict(pillar, dexauth=dict(pillar["dexauth"], remove={"purge": True})))
        assert errors == []
        seen.update(_engine_configs(high))

    assert len(seen) >= 12, sorted(seen)  # every engine state was rendered
    whole = set(seen["The dexauth pillar is valid"])
    assert {"issuer", "salt_api", "remove", "roles", "authctl_config"} <= whole
    for sid, config in seen.items():
        if sid == "The dexauth pillar is valid":
            continue
        assert set(config) < whole, f"'{sid}' gets the whole dexauth pillar"
        # Keys no engine operation reads never leave Salt.
        assert not set(config) & {"salt_api", "remove", "authctl_config"}, (sid, sorted(config))
        if sid != "Roles and role bindings match the stored assignments":
            assert "roles" not in config, (sid, sorted(config))
    roles = seen["Roles and role bindings match the stored assignments"]
    assert set(roles) == {"namespace", "kubernetes", "roles", "idps"}  # idps: to migrate grants without an IdP
    assert roles["roles"] == {"denied_namespaces": []}  # not the schedule's period
    assert seen["Roles and role bindings match the stored assignments"]["kubernetes"] == {
        "kubeconfig": "/etc/kubernetes/admin.conf"}
    assert "idps" in seen["Dex chart is deployed"]
    assert "superadmin" in seen["The super-admin exists"] and "issuer" in seen["The super-admin exists"]


def _engine_configs(high):
    for sid, module, fun, kwargs in _states(high):
        if module == "dexauth":
            assert isinstance(kwargs.get("config"), dict), sid
            yield sid, json.loads(json.dumps(kwargs["config"]))


def test_custom_pillar_reaches_the_engine_merged_with_the_defaults(renderer):
    high, errors, _ = renderer.render("dexauth.deployed", PILLARS["custom"])
    configs = dict(_engine_configs(high))

    chart = configs["Dex chart is deployed"]
    assert chart["chart"] == {"dir": "/usr/share/dexauth/charts/dex", "release": "auth"}
    assert chart["namespace"] == "auth"
    assert chart["idps"] == {"corp": {"type": "ldap", "host": "ldap.example.com:636"}}
    assert chart["branding"] == {"product_name": "Acme cluster", "primary_color": "#1f5fae"}
    certs = configs["Dex certificates are issued and valid"]
    assert certs["certificates"]["ip_sans"] == ["10.0.0.10"]
    assert certs["cluster_name"] == "prod"


def test_account_service_settings_reach_its_engine_states_and_authctl(renderer):
    high, errors, _ = renderer.render("dexauth", PILLARS["minimal"])
    assert errors == []
    configs = dict(_engine_configs(high))
    assert configs["Dex chart is deployed"]["account"]["path"] == "/account"
    assert "bcrypt_cost" in configs["Dex chart is deployed"]["password"]
    assert configs["Dex certificates are issued and valid"]["account"]["enabled"] is True
    secrets = configs["Dex Secrets exist in the cluster"]
    assert secrets["account"] == {"enabled": True} and secrets["clients"]["console_id"] == "dexauth-console"
    authctl = next(kw for sid, module, fun, kw in _states(high) if sid == "authctl knows where Dex is")
    # The engine's rule (DeploymentConfig.Account): the issuer's origin followed by the path...
    assert authctl["dataset"]["account"] == {"url": "https://10.0.0.10:8443/account"}
    # ...unless pillar names the URL; a disabled service has none.
    custom = {"dexauth": {"issuer": formulas.ISSUER, "account": {"public_url": "https://console.example.com"}}}
    high, _, _ = renderer.render("dexauth.cli", custom)
    authctl = next(kw for sid, module, fun, kw in _states(high) if sid == "authctl knows where Dex is")
    assert authctl["dataset"]["account"] == {"url": "https://console.example.com"}
    high, _, _ = renderer.render("dexauth.cli", {"dexauth": {"issuer": formulas.ISSUER, "account": {"enabled": False}}})
    authctl = next(kw for sid, module, fun, kw in _states(high) if sid == "authctl knows where Dex is")
    assert "account" not in authctl["dataset"]


def test_admin_uis_get_their_client_secrets_before_the_chart_and_follow_the_role_holders(renderer):
    high, errors, _ = renderer.render("dexauth", PILLARS["admin_uis"])
    assert errors == []
    states = {sid: kw for sid, module, fun, kw in _states(high)}
    ensure = "Admin UIs have their Ingress, Dex client secret and settings"
    assert {"require_in": [{"dexauth": "Dex chart is deployed"}]} in high[ensure]["dexauth"]
    assert {"require": [{"dexauth": "Dex chart is deployed"}]} in high[
        "Objects of admin UIs no longer in pillar are removed"]["dexauth"]
    assert [u["name"] for u in states[ensure]["config"]["admin_uis"]] == ["grafana", "prometheus"]
    assert states["Dex chart is deployed"]["config"]["admin_uis"] == states[ensure]["config"]["admin_uis"]
    # Grafana's generic OAuth role expression lists the role holders: dexauth.roles regenerates it.
    assert "Grafana role expressions follow the role holders" in states
    high, _, _ = renderer.render("dexauth.roles", PILLARS["minimal"])
    assert "Grafana role expressions follow the role holders" not in {sid for sid, *_ in _states(high)}


def test_every_orchestration_step_syncs_the_modules_first_and_waits_for_busy_nodes(renderer):
    for sls in ("dexauth.orchestrate.deploy", "dexauth.orchestrate.remove"):
        high, errors, _ = renderer.render(sls, PILLARS["minimal"])
        steps = [(sid, kw) for sid, module, fun, kw in _states(high) if module == "salt"]
        assert steps, sls
        for sid, kwargs in steps:
            assert kwargs["sls"][0] == "dexauth.synced", (sls, sid)
            assert kwargs["tgt"].startswith("G@dexauth_roles:") and kwargs["tgt_type"] == "compound", (sls, sid)
            # The checks that every node answers wait a minute: Salt asks a node that has not returned
            # by then whether it still runs the job (a busy node does, and is waited for), so only a
            # node that is down fails them, a minute rather than ten after the start.
            timeout = 60 if sid.startswith("Every control-plane node answer") else 600
            assert kwargs["queue"] is True and kwargs["timeout"] == timeout, (sls, sid)


def test_removal_passes_purge_to_the_bootstrap_node(renderer):
    for purge in (False, True):
        pillar = {"dexauth": {"issuer": formulas.ISSUER, "remove": {"purge": purge}}}
        high, _, _ = renderer.render("dexauth.orchestrate.remove", pillar)
        step = next(kw for sid, module, fun, kw in _states(high) if sid == "Dex is removed")
        assert step["sls"] == ["dexauth.synced", "dexauth.clean"]
        assert step["pillar"]["dexauth"]["remove"] == {"purge": purge}


def test_every_step_applies_the_pillar_the_orchestration_validated(renderer):
    for sls in ("dexauth.orchestrate.deploy", "dexauth.orchestrate.remove"):
        high, _, _ = renderer.render(sls, PILLARS["minimal"])
        states = _states(high)
        steps = [kw for sid, module, fun, kw in states if module == "salt"]
        assert steps, sls
        validated = next((kw["config"] for sid, module, fun, kw in states if fun == "pillar_valid"), None)
        for kwargs in steps:
            assert kwargs["pillar"]["dexauth"]["issuer"] == formulas.ISSUER, sls
            if validated is not None:
                assert kwargs["pillar"] == {"dexauth": validated}, sls


def test_kube_apiserver_changes_one_control_plane_node_at_a_time_after_dex(renderer):
    high, _, _ = renderer.render("dexauth.orchestrate.deploy", PILLARS["minimal"])
    steps = {sid: kw for sid, module, fun, kw in _states(high) if module == "salt"}
    dex = steps["Dex is deployed"]
    assert dex["sls"] == ["dexauth.synced", "dexauth"] and dex["tgt"] == "G@dexauth_roles:bootstrap"
    nodes = steps["kube-apiserver trusts Dex on every control-plane node, one node at a time"]
    assert nodes["sls"] == ["dexauth.synced", "dexauth.apiserver"] and nodes["tgt"] == "G@dexauth_roles:control-plane"
    assert nodes["batch"] == 1 and nodes["failhard"] is True
    assert nodes["require"] == [{"salt": "Dex is deployed"}]
    # Every control-plane node answers before anything changes, and again after (Salt's batch mode
    # would leave out a node that is down and report success).
    before, after = steps["Every control-plane node answers"], steps["Every control-plane node answered"]
    assert before["expect_minions"] is True and after["expect_minions"] is True
    assert "G@dexauth_roles:control-plane" in before["tgt"] and after["tgt"] == "G@dexauth_roles:control-plane"
    assert dex["require"] == [{"salt": "Every control-plane node answers"}]
    assert after["require"] == [{"salt": "kube-apiserver trusts Dex on every control-plane node, one node at a time"}]


def test_a_removal_without_purge_keeps_user_data_certificates_and_authctl_config(renderer):
    high, _, _ = renderer.render("dexauth.clean", PILLARS["minimal"])
    funcs = {f"{module}.{fun}" for _, module, fun, _ in _states(high)}
    assert "dexauth.user_data_purged" not in funcs and "dexauth.roles_purged" not in funcs
    assert "file.absent" not in funcs

    high, _, _ = renderer.render("dexauth.clean", PILLARS["purge"])
    funcs = {f"{module}.{fun}" for _, module, fun, _ in _states(high)}
    assert {"dexauth.user_data_purged", "dexauth.roles_purged", "file.absent"} <= funcs


def _includes(path):
    return re.findall(r"^  - (\S+)$", path.read_text(), flags=re.MULTILINE)


def test_every_state_that_adds_something_has_a_clean_counterpart():
    formula = SALT_DIR / "dexauth"
    parts = [p for p in formula.iterdir() if p.is_dir() and p.name != "orchestrate"]
    assert parts
    for part in parts:
        assert (part / "init.sls").exists(), part
        assert (part / "clean.sls").exists(), f"dexauth.{part.name} has no clean.sls"


def test_top_clean_undoes_the_top_state_in_reverse_order():
    formula = SALT_DIR / "dexauth"
    included = _includes(formula / "init.sls")
    assert included == [".certs", ".deployed", ".adminuis", ".roles", ".cli"]
    assert _includes(formula / "clean.sls") == [f"{part}.clean" for part in reversed(included)]


def test_every_init_sls_lists_its_available_states():
    inits = [p for p in SALT_DIR.rglob("init.sls")] + list((formulas.LAB_SALT_DIR).rglob("init.sls"))
    assert inits
    for init in inits:
        text = init.read_text()
        assert "# Available states" in text, f"{init} has no 'Available states' header"
        package = ".".join(init.parent.relative_to(
            SALT_DIR if SALT_DIR in init.parents else formulas.LAB_SALT_DIR).parts)
        for sls in init.parent.glob("*.sls"):
            if sls.name == "init.sls":
                continue
            name = f"{package}.{sls.stem}"
            assert f"* {name} " in text or f"* {name}," in text, f"{init} does not list {name}"
