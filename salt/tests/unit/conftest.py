"""Loads the dexauth Salt modules by file path, with the Salt dunders injected as globals."""
import importlib.util
import pathlib
import sys

import pytest

SALT_DIR = pathlib.Path(__file__).resolve().parents[2]


def load(kind, opts=None, salt=None):
    """A fresh copy of salt/<kind>/dexauth.py (kind is _modules or _states) on every call."""
    path = SALT_DIR / kind / "dexauth.py"
    spec = importlib.util.spec_from_file_location("dexauth_{}_under_test".format(kind.strip("_")), path)
    module = importlib.util.module_from_spec(spec)
    # No __pycache__ next to the Salt modules: Salt syncs salt/_modules and salt/_states as they are.
    saved, sys.dont_write_bytecode = sys.dont_write_bytecode, True
    try:
        spec.loader.exec_module(module)
    finally:
        sys.dont_write_bytecode = saved
    module.__opts__ = dict(opts or {})
    module.__salt__ = dict(salt or {})
    return module


@pytest.fixture
def load_dexauth():
    """load() as a fixture: test modules cannot import this conftest by name when
    pytest also collects tests/ (which has its own conftest.py)."""
    return load


@pytest.fixture(autouse=True)
def _no_engine_stats(monkeypatch):
    # The execution module appends timings to this file when set; keep tests from writing it.
    monkeypatch.delenv("DEXAUTH_ENGINE_STATS", raising=False)


@pytest.fixture(scope="session")
def renderer():
    """Renders SLS files with Salt's loader (see formulas.py); built once, it is slow to load."""
    import formulas
    rendering = formulas.Renderer()
    yield rendering
    rendering.remove()
