import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from labfixture import LabHandle, short_root  # noqa: E402


# End-to-end files, longest first (per-file totals of `--durations=0` in three streams on a 2-core
# machine: 872 s for the first, 12 s for the last): a stream that starts a long file late ends
# alone. `make test` keeps this order (--no-loadscope-reorder: xdist would otherwise order files by
# their number of tests); files not listed follow in collection order.
LONGEST_FIRST = ["test_multinode.py", "test_hardening.py", "test_issuer_path.py", "test_dex_deploy.py",
                 "test_users_roles.py", "test_idp.py", "test_dex_purge.py", "test_kubectl_login.py",
                 "test_role_store.py", "test_account_deploy.py", "test_login_guard.py", "test_sso.py",
                 "test_login_theme.py", "test_console.py", "test_lab.py", "test_launcher.py", "test_support.py",
                 "test_service_proxy.py", "test_node.py", "test_hosts.py", "test_directories.py"]


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


def pytest_configure(config):
    config.addinivalue_line("markers", "alone: compares the whole machine before and after; `make test` runs it after"
                                       " the parallel streams, with no other lab running")


@pytest.fixture(scope="session")
def lab():
    """One private lab shared by the end-to-end tests of a session (of each parallel stream)."""
    handle = LabHandle(short_root()).up()
    yield handle
    down = handle.down()
    handle.remove()
    # After the full run: `labctl down` fails when anything is left (process, port, mount, cgroup...).
    assert down.returncode == 0, down.stdout + down.stderr


@pytest.fixture(scope="module")
def lab3():
    """A private lab of three control-plane hosts (labctl up --nodes 3), shared by one module's tests."""
    handle = LabHandle(short_root(), nodes=3).up()
    yield handle
    down = handle.down()
    # A failed down keeps the root: its state is what a second `labctl down --root` needs.
    assert down.returncode == 0, down.stdout + down.stderr
    handle.remove()
