import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from labfixture import LabHandle, short_root  # noqa: E402


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
