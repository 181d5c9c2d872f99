"""salt/_modules/dexauth.py against a fake authctl that records what it was given."""
import json
import stat

import pytest

SECRET = "Sup3r-S3cret-Pa55word"


class FakeAuthctl:
    """A shell script standing in for authctl: records argv and stdin, prints a canned reply."""

    def __init__(self, tmp_path):
        self.dir = tmp_path
        self.path = tmp_path / "authctl"
        self.argv_file = tmp_path / "argv"
        self.stdin_file = tmp_path / "stdin"
        self.reply("{}")
        self.path.write_text(
            "#!/bin/sh\n"
            'printf "%s\\n" "$@" > "{d}/argv"\n'
            'cat > "{d}/stdin"\n'
            'cat "{d}/stdout"\n'
            'cat "{d}/stderr" >&2\n'
            'exit "$(cat "{d}/rc")"\n'.format(d=tmp_path)
        )
        self.path.chmod(self.path.stat().st_mode | stat.S_IXUSR)

    def reply(self, stdout, rc=0, stderr=""):
        if not isinstance(stdout, str):
            stdout = json.dumps(stdout)
        (self.dir / "stdout").write_text(stdout)
        (self.dir / "stderr").write_text(stderr)
        (self.dir / "rc").write_text(str(rc))

    @property
    def argv(self):
        return self.argv_file.read_text().splitlines()

    @property
    def request(self):
        return json.loads(self.stdin_file.read_text())


@pytest.fixture
def authctl(tmp_path):
    return FakeAuthctl(tmp_path)


@pytest.fixture
def mod(authctl, load_dexauth):
    return load_dexauth("_modules", opts={"dexauth_authctl": str(authctl.path)})


def test_operation_goes_in_argv_and_request_on_stdin(mod, authctl):
    authctl.reply({"result": True, "changed": False, "changes": {}})
    request = {"pillar": {"superadmin": {"email": "admin@cluster.local", "password": SECRET}}}

    reply = mod.engine("superadmin.ensure", request)

    assert reply == {"result": True, "changed": False, "changes": {}}
    assert authctl.argv == ["engine", "superadmin.ensure"]
    assert authctl.request == dict(request, test=False)


def test_secret_never_reaches_argv(mod, authctl):
    mod.engine("superadmin.ensure", {"password": SECRET})

    assert SECRET not in authctl.argv_file.read_text()
    assert SECRET in authctl.stdin_file.read_text()


def test_request_may_be_a_json_string(mod, authctl):
    mod.engine("pki.ensure", '{"dir": "/tmp/pki"}')

    assert authctl.request == {"dir": "/tmp/pki", "test": False}


def test_test_true_is_passed_in_the_request(mod, authctl):
    mod.engine("pki.ensure", {"dir": "/tmp/pki"}, test=True)

    assert authctl.request["test"] is True


def test_caller_request_is_not_modified(mod, authctl):
    request = {"dir": "/tmp/pki"}
    mod.engine("pki.ensure", request, test=True)

    assert request == {"dir": "/tmp/pki"}


def test_last_stdout_line_is_the_reply(mod, authctl):
    authctl.reply('starting the JVM\n{"result": true, "changes": {"ca": "created"}}\n')

    assert mod.engine("pki.ensure", {})["changes"] == {"ca": "created"}


def test_reply_that_is_not_json_raises_with_exit_code(mod, authctl):
    authctl.reply("Exception in thread main", rc=3, stderr="build failed")

    with pytest.raises(mod.EngineError) as err:
        mod.engine("pki.ensure", {})

    message = str(err.value)
    assert "exit 3" in message
    assert "pki.ensure" in message
    assert "build failed" in message


def test_empty_output_raises(mod, authctl):
    authctl.reply("", rc=1)

    with pytest.raises(mod.EngineError, match="exit 1"):
        mod.engine("pki.ensure", {})


def test_missing_binary_names_the_setting(tmp_path, load_dexauth):
    mod = load_dexauth("_modules", opts={"dexauth_authctl": str(tmp_path / "no-such-authctl")})

    with pytest.raises(mod.EngineError) as err:
        mod.engine("version")

    assert "dexauth_authctl" in str(err.value)
    assert "no-such-authctl" in str(err.value)


def test_authctl_path_falls_back_to_config_get(authctl, load_dexauth):
    asked = []

    def config_get(key, default):
        asked.append(key)
        return str(authctl.path)

    mod = load_dexauth("_modules", opts={}, salt={"config.get": config_get})
    mod.engine("version")

    assert asked == ["dexauth_authctl"]
    assert authctl.argv == ["engine", "version"]


def test_version_returns_engine_version(mod, authctl):
    authctl.reply({"result": True, "changed": False, "engineVersion": "0.1.0"})

    assert mod.version() == "0.1.0"
    assert authctl.argv == ["engine", "version"]


def test_version_raises_the_engine_error(mod, authctl):
    authctl.reply({"result": False, "error": "engine broke"}, rc=1)

    with pytest.raises(mod.EngineError, match="engine broke"):
        mod.version()


def test_engine_stats_are_recorded_when_asked(mod, authctl, tmp_path, monkeypatch):
    stats = tmp_path / "stats.tsv"
    monkeypatch.setenv("DEXAUTH_ENGINE_STATS", str(stats))

    mod.engine("pki.ensure", {})
    mod.engine("version")

    assert [line.split("\t")[0] for line in stats.read_text().splitlines()] == ["pki.ensure", "version"]
    assert mod._STATS["calls"] == 2
