import os
import pathlib

import pytest
from hypothesis import settings

import fmscript

ROOT = pathlib.Path(__file__).resolve().parent.parent
# Subprocesses (`python -m fmscript …`) must import the installed package too, not the checkout in their cwd.
os.environ["PYTHONSAFEPATH"] = "1"


def pytest_report_header(config):
    return f"fmscript {fmscript.__version__} from {pathlib.Path(fmscript.__file__).parent}"


def pytest_sessionstart(session):
    # CI tests the built wheel: with FMSCRIPT_TEST_INSTALLED set, a source-tree import is a setup error.
    if os.environ.get("FMSCRIPT_TEST_INSTALLED"):
        where = pathlib.Path(fmscript.__file__).resolve()
        if ROOT in where.parents:
            raise pytest.UsageError(f"fmscript was imported from the checkout ({where}), not the installed wheel")

# Hypothesis runs derandomised, with no deadline (conventions.md).
settings.register_profile("fmscript", derandomize=True, deadline=None, max_examples=200)
settings.register_profile("fuzz", deadline=None)  # FMSCRIPT_FUZZ_SCALE: long random fuzzing by hand
settings.load_profile("fuzz" if os.environ.get("FMSCRIPT_FUZZ_SCALE") else "fmscript")


@pytest.fixture(autouse=True)
def _fmscript_home(tmp_path_factory, monkeypatch):
    """Every test gets its own fmscript home and Documents folder; nothing touches the user's."""
    if os.environ.get("FMSCRIPT_TEST_SHARED_HOME"):
        return
    home = tmp_path_factory.mktemp("fmhome")
    docs = tmp_path_factory.mktemp("docs")
    monkeypatch.setenv("FMSCRIPT_HOME", str(home))
    monkeypatch.setenv("FMSCRIPT_DOCUMENTS", str(docs))
    # One build of the training C++ kernels (fmscript/ai/fastext.py) for the session, not one per home.
    monkeypatch.setenv("FMSCRIPT_EXT_DIR", str(tmp_path_factory.getbasetemp() / "fmext"))
    monkeypatch.setenv("NO_COLOR", "1")
