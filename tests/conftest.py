import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from labfixture import LabHandle  # noqa: E402


@pytest.fixture(scope="session")
def lab(tmp_path_factory):
    """One private lab shared by the end-to-end tests of a session."""
    handle = LabHandle(tmp_path_factory.mktemp("lab")).up()
    yield handle
    handle.down()
