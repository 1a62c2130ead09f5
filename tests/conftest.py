import os
import sys
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

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
    monkeypatch.setenv("NO_COLOR", "1")
