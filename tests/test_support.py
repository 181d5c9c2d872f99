"""The support package's own rules: one wait, and a secret scan that cannot pass by looking at nothing."""
import pytest

from support import NothingScanned, WaitTimeout, assert_no_secrets, find_secrets, wait_until


def test_wait_until_returns_the_first_true_value_and_retries_errors():
    calls = []

    def ready():
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError("not yet")
        return "up"
    assert wait_until(ready, timeout=5, what="server", interval=0.01) == "up"
    assert len(calls) == 3


def test_wait_until_names_what_and_the_last_error_and_tries_once_with_no_time():
    def refused():
        raise ConnectionError("connection refused")
    with pytest.raises(WaitTimeout, match=r"server up not reached within 0s \(last error: connection refused\)"):
        wait_until(refused, timeout=0, what="server up")
    with pytest.raises(AssertionError):  # a timeout is a test failure
        wait_until(lambda: False, timeout=0.05, interval=0.01)


def test_wait_until_stops_early_when_abort_raises_and_propagates_other_errors():
    def abort():
        raise RuntimeError("server died")
    with pytest.raises(RuntimeError, match="server died"):
        wait_until(lambda: False, timeout=60, abort=abort)
    with pytest.raises(KeyError):
        wait_until(lambda: {}["x"], timeout=60, retry_on=(ConnectionError,))


def test_secret_scan_finds_secrets_in_files_directories_and_texts(tmp_path):
    (tmp_path / "logs" / "deep").mkdir(parents=True)
    (tmp_path / "logs" / "clean.log").write_text("nothing here\n")
    (tmp_path / "logs" / "deep" / "leak.log").write_bytes(b"password=Hunter-2-Secret\n")
    (tmp_path / "etcd").mkdir()
    (tmp_path / "etcd" / "db").write_text("Hunter-2-Secret")
    hits = find_secrets(["Hunter-2-Secret"], [tmp_path], {"terminal": "typed Hunter-2-Secret"},
                        skip=[tmp_path / "etcd"])
    assert hits == [str(tmp_path / "logs" / "deep" / "leak.log"), "terminal"]
    with pytest.raises(AssertionError, match="leak.log"):
        assert_no_secrets([b"Hunter-2-Secret"], [tmp_path / "logs"])
    assert_no_secrets(["Hunter-2-Secret"], [tmp_path / "logs" / "clean.log"])


def test_secret_scan_fails_when_it_scanned_nothing(tmp_path):
    (tmp_path / "empty.log").write_text("")
    with pytest.raises(NothingScanned, match="nothing was scanned"):
        find_secrets(["s3cret"], [tmp_path / "missing", tmp_path / "empty.log"])
    with pytest.raises(NothingScanned):
        assert_no_secrets(["s3cret"], texts=[("empty transcript", "")])
    with pytest.raises(NothingScanned, match="no secret to look for"):
        assert_no_secrets(["", None], texts={"t": "text"})
