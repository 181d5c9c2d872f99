"""salt/_states/dexauth.py with a fake dexauth.engine execution function."""
import io
import json
import types

import pytest
from salt.exceptions import CommandExecutionError

PASSWORD = "Initial-Pa55word-xyz"
CONFIG = {"issuer": "https://127.0.0.1:5556/oidc", "superadmin": {"email": "admin@cluster.local"}}


class FakeEngine:
    """Stands in for __salt__['dexauth.engine']: returns a canned reply and records the call."""

    def __init__(self):
        self.reply = {"result": True, "changed": False, "changes": {}}
        self.calls = []

    def __call__(self, operation, request, test=False):
        self.calls.append((operation, request, test))
        if not self.reply.get("result"):  # as the execution module does
            raise CommandExecutionError(self.reply.get("error"))
        return json.loads(json.dumps(self.reply))  # a copy, like a fresh engine reply


@pytest.fixture
def engine():
    return FakeEngine()


@pytest.fixture
def state(engine, load_dexauth):
    return load_dexauth("_states", opts={"test": False}, salt={"dexauth.engine": engine})


@pytest.fixture
def no_terminal(state, monkeypatch):
    """No /dev/tty and a stderr that is not a terminal."""
    real_open = open

    def fake_open(path, *args, **kwargs):
        if str(path) == "/dev/tty":
            raise OSError(6, "No such device or address", "/dev/tty")
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(state, "open", fake_open, raising=False)
    # pytest swaps sys.stderr during the test, so the module gets its own sys stand-in.
    stderr = io.StringIO()  # isatty() is False
    monkeypatch.setattr(state, "sys", types.SimpleNamespace(stderr=stderr))
    return stderr


@pytest.fixture
def terminal(state, monkeypatch):
    """A /dev/tty that captures what is written to it."""
    written = io.StringIO()
    written.close = lambda: None  # keep the text readable after the with-block

    def fake_open(path, *args, **kwargs):
        assert str(path) == "/dev/tty"
        return written

    monkeypatch.setattr(state, "open", fake_open, raising=False)
    return written


def test_virtual_needs_the_execution_module(load_dexauth):
    assert load_dexauth("_states", salt={"dexauth.engine": FakeEngine()}).__virtual__() == "dexauth"
    available, reason = load_dexauth("_states", salt={}).__virtual__()
    assert available is False
    assert "salt/_modules" in reason


def test_no_changes_is_quiet(state, engine):
    ret = state.certificates_managed("dex-certs", CONFIG)

    assert ret["changes"] == {}
    assert ret["result"] is True
    assert ret["name"] == "dex-certs"
    assert engine.calls == [("certs.ensure", {"pillar": CONFIG}, False)]


def test_engine_comment_is_used_when_nothing_changed(state, engine):
    engine.reply["comment"] = "pillar is valid"

    assert state.pillar_valid("pillar", CONFIG)["comment"] == "pillar is valid"


def test_changes_are_reported_with_a_comment(state, engine):
    engine.reply["changes"] = {"ca": "created", "dex-https": "issued (missing)"}

    ret = state.certificates_managed("dex-certs", CONFIG)

    assert ret["result"] is True
    assert ret["changes"] == {"ca": "created", "dex-https": "issued (missing)"}
    assert "ca: created" in ret["comment"]
    assert "dex-https: issued (missing)" in ret["comment"]


def test_test_mode_with_changes_gives_none(state, engine):
    state.__opts__["test"] = True
    engine.reply["changes"] = {"/etc/kubernetes/manifests/kube-apiserver.yaml": "--authentication-config set"}

    ret = state.apiserver_configured("apiserver", CONFIG)

    assert ret["result"] is None
    assert ret["comment"].startswith("Would change")
    assert ret["changes"] == engine.reply["changes"]
    assert engine.calls[0][2] is True, "test=True reaches the engine as a dry run"


def test_test_mode_without_changes_is_true(state, engine):
    state.__opts__["test"] = True

    ret = state.apiserver_configured("apiserver", CONFIG)

    assert ret["result"] is True
    assert ret["changes"] == {}


def test_engine_failure_gives_false_and_its_error(state, engine):
    engine.reply = {"result": False, "changed": False, "error": "pillar key dexauth:issuer: is required"}

    ret = state.pillar_valid("pillar", {})

    assert ret["result"] is False
    assert ret["comment"] == "pillar key dexauth:issuer: is required"
    assert ret["changes"] == {}


def test_extra_arguments_reach_the_engine_but_salt_internals_do_not(state, engine):
    state.secrets_absent("secrets", CONFIG, purge=True, __id__="secrets", __env__="base")

    assert engine.calls == [("secrets.remove", {"pillar": CONFIG, "purge": True}, False)]


def test_superadmin_password_never_in_the_return_without_terminal(state, engine, no_terminal):
    engine.reply.update(changes={"user/admin@cluster.local": "created"}, initialPassword=PASSWORD,
                        email="admin@cluster.local")

    ret = state.superadmin_present("superadmin", CONFIG)

    assert PASSWORD not in json.dumps(ret)
    assert no_terminal.getvalue() == ""
    assert ret["result"] is True
    assert ret["changes"] == {"user/admin@cluster.local": "created"}
    assert "no terminal" in ret["comment"]
    assert "authctl admin passwd" in ret["comment"]


def test_superadmin_password_is_shown_on_the_terminal_only(state, engine, terminal):
    engine.reply.update(changes={"user/admin@cluster.local": "created"}, initialPassword=PASSWORD,
                        email="admin@cluster.local")

    ret = state.superadmin_present("superadmin", CONFIG)

    assert PASSWORD in terminal.getvalue()
    assert "admin@cluster.local" in terminal.getvalue()
    assert PASSWORD not in json.dumps(ret)
    assert "shown once on the terminal" in ret["comment"]


def test_superadmin_password_on_stderr_when_it_is_a_terminal(state, engine, no_terminal):
    no_terminal.isatty = lambda: True
    engine.reply.update(changes={"user/admin@cluster.local": "created"}, initialPassword=PASSWORD)

    ret = state.superadmin_present("superadmin", CONFIG)

    assert PASSWORD in no_terminal.getvalue()
    assert PASSWORD not in json.dumps(ret)
    assert "shown once on the terminal" in ret["comment"]


def test_superadmin_rerun_says_nothing_about_a_password(state, engine, terminal):
    engine.reply.update(email="admin@cluster.local")

    ret = state.superadmin_present("superadmin", CONFIG)

    assert ret == {"name": "superadmin", "changes": {}, "result": True, "comment": "Already in the desired state"}
    assert terminal.getvalue() == ""


def test_engine_warnings_reach_the_comment_without_failing_the_state(state, engine):
    engine.reply = {"result": True, "changes": {},
                    "warnings": ["IdP 'corp' has no Secret dexauth/dexauth-idp-corp (its logins fail)"]}
    ret = state.chart_deployed("Dex chart is deployed", CONFIG)
    assert ret["result"] is True and ret["changes"] == {}
    assert ret["comment"] == ("Already in the desired state; WARNING: IdP 'corp' has no Secret"
                              " dexauth/dexauth-idp-corp (its logins fail)")


def test_an_engine_that_cannot_run_fails_the_state_with_the_reason(state, engine):
    def broken(operation, request, test=False):
        raise CommandExecutionError("authctl not found at 'authctl'; set dexauth_authctl in the minion config")
    state.__salt__["dexauth.engine"] = broken

    ret = state.certificates_managed("dex-certs", CONFIG)

    assert ret["result"] is False and ret["changes"] == {}
    assert "dexauth_authctl" in ret["comment"]


def test_purge_of_roles_is_its_own_state(state, engine):
    state.roles_purged("roles", {"kubernetes": {"kubeconfig": "/etc/kubernetes/admin.conf"}})

    assert engine.calls == [("roles.remove", {"pillar": {"kubernetes": {"kubeconfig": "/etc/kubernetes/admin.conf"}}},
                             False)]
