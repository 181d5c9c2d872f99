"""salt/_modules/dexauth.py against a fake authctl that records what it was given."""
import json
import os
import signal
import stat
import sys

import pytest

SECRET = "Sup3r-S3cret-Pa55word"


class FakeAuthctl:
    """A script standing in for `authctl engine server --socket PATH`: records its argv, each
    connection and every request line, answers each with the canned stdout (or, with rc set,
    writes the canned stderr to its log and dies without a reply). It ends after 20 s unused."""

    def __init__(self, tmp_path):
        self.dir = tmp_path
        self.path = tmp_path / "authctl"
        self.reply({})
        self.path.write_text(
            "#!{python}\n"
            "import json, os, socket, sys, threading\n"
            "d = {d!r}\n"
            "def note(name, text):\n"
            "    with open(os.path.join(d, name), 'a') as f: f.write(text)\n"
            "note('argv', json.dumps(sys.argv[1:]) + '\\n')\n"
            "note('starts', 'x')\n"
            "note('pids', str(os.getpid()) + '\\n')\n"
            "path = sys.argv[sys.argv.index('--socket') + 1]\n"
            "def serve(conn):\n"
            "    note('connections', 'x')\n"
            "    conn.sendall(b'ready\\n')\n"
            "    for line in conn.makefile('rb'):\n"
            "        note('requests', line.decode())\n"
            "        sys.stderr.write(open(os.path.join(d, 'stderr')).read()); sys.stderr.flush()\n"
            "        rc = int(open(os.path.join(d, 'rc')).read())\n"
            "        if rc:\n"
            "            os.unlink(path)\n"
            "            os._exit(rc)\n"
            "        conn.sendall(open(os.path.join(d, 'stdout')).read().encode())\n"
            "    conn.close()\n"
            "server = socket.socket(socket.AF_UNIX)\n"
            "server.bind(path)\n"
            "server.listen()\n"
            "server.settimeout(20)\n"
            "while True:\n"
            "    try:\n"
            "        conn, _ = server.accept()\n"
            "    except socket.timeout:\n"
            "        break\n"
            "    threading.Thread(target=serve, args=(conn,), daemon=True).start()\n"
            "os.unlink(path)\n".format(python=sys.executable, d=str(tmp_path))
        )
        self.path.chmod(self.path.stat().st_mode | stat.S_IXUSR)

    def reply(self, stdout, rc=0, stderr=""):
        if not isinstance(stdout, str):
            stdout = json.dumps(stdout) + "\n"
        (self.dir / "stdout").write_text(stdout)
        (self.dir / "stderr").write_text(stderr)
        (self.dir / "rc").write_text(str(rc))

    @property
    def argv(self):
        return [json.loads(line) for line in (self.dir / "argv").read_text().splitlines()]

    @property
    def requests(self):
        return [json.loads(line) for line in (self.dir / "requests").read_text().splitlines()]

    @property
    def request(self):
        return self.requests[-1]["request"]

    def count(self, name):
        f = self.dir / name
        return len(f.read_text()) if f.exists() else 0

    def stop(self):
        """Stops the servers still running (each would idle 20 s)."""
        pids = self.dir / "pids"
        for pid in pids.read_text().split() if pids.exists() else []:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass

    @property
    def starts(self):
        return self.count("starts")

    @property
    def connections(self):
        return self.count("connections")


@pytest.fixture
def authctl(tmp_path):
    fake = FakeAuthctl(tmp_path)
    yield fake
    fake.stop()


def opts_for(authctl, **more):
    return {"dexauth_authctl": str(authctl.path), "dexauth_engine_dir": str(authctl.dir / "engine"), **more}


@pytest.fixture
def mod(authctl, load_dexauth):
    module = load_dexauth("_modules", opts=opts_for(authctl))
    yield module
    module._close_session()


def test_operation_and_request_go_over_the_engine_servers_socket(mod, authctl):
    authctl.reply({"result": True, "changed": False, "changes": {}})
    request = {"pillar": {"superadmin": {"email": "admin@cluster.local", "password": SECRET}}}

    reply = mod.engine("superadmin.ensure", request)

    assert reply == {"result": True, "changed": False, "changes": {}}
    assert authctl.argv == [["engine", "server", "--socket", mod._socket_path(str(authctl.path))]]
    assert authctl.requests == [{"operation": "superadmin.ensure", "request": dict(request, test=False)}]


def test_secret_never_reaches_argv(mod, authctl):
    authctl.reply({"result": True})
    mod.engine("superadmin.ensure", {"password": SECRET})

    assert SECRET not in (authctl.dir / "argv").read_text()
    assert SECRET in (authctl.dir / "requests").read_text()


def test_one_connection_serves_every_call_of_a_state_run(mod, authctl):
    authctl.reply({"result": True, "changes": {}})

    for operation in ("certs.ensure", "secrets.ensure", "chart.deploy", "roles.ensure"):
        mod.engine(operation, {"pillar": {}})

    assert authctl.starts == 1 and authctl.connections == 1
    assert [r["operation"] for r in authctl.requests] == ["certs.ensure", "secrets.ensure", "chart.deploy",
                                                           "roles.ensure"]
    assert mod._STATS["jvm_starts"] == 1 and mod._STATS["calls"] == 4


def test_a_forked_process_opens_its_own_session_on_the_same_server(mod, authctl, monkeypatch):
    authctl.reply({"result": True})
    mod.engine("version")
    real_pid = os.getpid()
    monkeypatch.setattr(mod.os, "getpid", lambda: real_pid + 1)  # as in a child made by fork

    mod.engine("version")

    assert authctl.connections == 2 and authctl.starts == 1


def test_state_runs_share_one_engine_server_in_a_private_directory(mod, authctl, load_dexauth):
    authctl.reply({"result": True})
    mod.engine("version")
    later_run = load_dexauth("_modules", opts=opts_for(authctl))  # another state run, another process
    try:
        later_run.engine("version")
    finally:
        later_run._close_session()

    assert authctl.starts == 1 and authctl.connections == 2
    assert later_run._STATS["jvm_starts"] == 0
    assert stat.S_IMODE(os.stat(authctl.dir / "engine").st_mode) == 0o700


def test_a_socket_path_too_long_names_the_setting(authctl, load_dexauth):
    from salt.exceptions import CommandExecutionError

    mod = load_dexauth("_modules", opts=opts_for(authctl, dexauth_engine_dir="/tmp/" + "d" * 120))

    with pytest.raises(CommandExecutionError, match="dexauth_engine_dir"):
        mod.engine("version")
    assert authctl.starts == 0


def test_a_session_idle_too_long_is_not_reused(mod, authctl, monkeypatch):
    authctl.reply({"result": True})
    mod.engine("version")
    mod._SESSION["current"].last_used -= mod._REUSE_SECONDS + 1

    mod.engine("version")

    assert authctl.connections == 2


def test_request_may_be_a_json_string(mod, authctl):
    authctl.reply({"result": True})
    mod.engine("pki.ensure", '{"dir": "/tmp/pki"}')

    assert authctl.request == {"dir": "/tmp/pki", "test": False}


def test_test_true_is_passed_in_the_request(mod, authctl):
    authctl.reply({"result": True})
    mod.engine("pki.ensure", {"dir": "/tmp/pki"}, test=True)

    assert authctl.request["test"] is True


def test_caller_request_is_not_modified(mod, authctl):
    authctl.reply({"result": True})
    request = {"dir": "/tmp/pki"}
    mod.engine("pki.ensure", request, test=True)

    assert request == {"dir": "/tmp/pki"}


def test_lines_that_are_not_json_objects_are_skipped(mod, authctl):
    authctl.reply('starting the JVM\n{"result": true, "changes": {"ca": "created"}}\n')

    assert mod.engine("pki.ensure", {})["changes"] == {"ca": "created"}


def test_engine_error_raises_command_execution_error(mod, authctl):
    from salt.exceptions import CommandExecutionError

    authctl.reply({"result": False, "changed": False, "error": "pillar key dexauth:issuer: is required"})

    with pytest.raises(CommandExecutionError, match="pillar key dexauth:issuer: is required"):
        mod.engine("config.validate", {"pillar": {}})


def test_engine_that_dies_without_a_reply_raises_with_exit_code_and_stderr(mod, authctl):
    from salt.exceptions import CommandExecutionError

    authctl.reply("", rc=3, stderr="build failed")

    with pytest.raises(CommandExecutionError) as err:
        mod.engine("pki.ensure", {})

    message = str(err.value)
    assert "exited with code 3" in message
    assert "pki.ensure" in message
    assert "build failed" in message


def test_after_a_dead_session_the_next_call_starts_a_new_one(mod, authctl):
    from salt.exceptions import CommandExecutionError

    authctl.reply("", rc=1)
    with pytest.raises(CommandExecutionError):
        mod.engine("pki.ensure", {})
    authctl.reply({"result": True})

    assert mod.engine("pki.ensure", {}) == {"result": True}
    assert authctl.starts == 2


def test_missing_binary_names_the_setting(tmp_path, load_dexauth):
    from salt.exceptions import CommandExecutionError

    mod = load_dexauth("_modules", opts={"dexauth_authctl": str(tmp_path / "no-such-authctl"),
                                         "dexauth_engine_dir": str(tmp_path / "engine")})

    with pytest.raises(CommandExecutionError) as err:
        mod.engine("version")

    assert "dexauth_authctl" in str(err.value)
    assert "no-such-authctl" in str(err.value)


def test_authctl_path_falls_back_to_config_get(authctl, load_dexauth):
    asked = []

    def config_get(key, default):
        asked.append(key)
        return str(authctl.path)

    authctl.reply({"result": True})
    mod = load_dexauth("_modules", opts={"dexauth_engine_dir": str(authctl.dir / "engine")},
                       salt={"config.get": config_get})
    try:
        mod.engine("version")
    finally:
        mod._close_session()

    assert "dexauth_authctl" in asked
    assert authctl.requests[-1]["operation"] == "version"


def test_version_returns_engine_version(mod, authctl):
    authctl.reply({"result": True, "changed": False, "engineVersion": "0.1.0"})

    assert mod.version() == "0.1.0"
    assert authctl.requests[-1]["operation"] == "version"


def test_version_raises_the_engine_error(mod, authctl):
    from salt.exceptions import CommandExecutionError

    authctl.reply({"result": False, "error": "engine broke"})

    with pytest.raises(CommandExecutionError, match="engine broke"):
        mod.version()


def test_engine_stats_are_recorded_when_asked(mod, authctl, tmp_path, monkeypatch):
    stats = tmp_path / "stats.tsv"
    monkeypatch.setenv("DEXAUTH_ENGINE_STATS", str(stats))
    authctl.reply({"result": True, "engineVersion": "0.1.0"})

    mod.engine("pki.ensure", {})
    mod.engine("version")

    rows = [line.split("\t") for line in stats.read_text().splitlines()]
    assert [(r[0], r[2]) for r in rows] == [("pki.ensure", "1"), ("version", "0")]
    assert mod._STATS["calls"] == 2 and mod._STATS["jvm_starts"] == 1
