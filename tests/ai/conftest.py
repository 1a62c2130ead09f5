"""Fixtures for the local engine: every test gets its own fmscript home, and no worker outlives its test."""
from __future__ import annotations

from pathlib import Path

import pytest

from .engine_support import stop_worker, write_jsonl


@pytest.fixture(scope="session")
def ext_dir(tmp_path_factory) -> Path:
    """One build of the C++ extension (fastext.py) for the whole session, instead of one per test's home."""
    return tmp_path_factory.mktemp("fmext")


@pytest.fixture
def home(tmp_path, monkeypatch, ext_dir):
    h = tmp_path / "fmhome"
    monkeypatch.setenv("FMSCRIPT_HOME", str(h))
    monkeypatch.setenv("FMSCRIPT_EXT_DIR", str(ext_dir))
    monkeypatch.delenv("FMSCRIPT_EXT", raising=False)
    monkeypatch.setenv("FMSCRIPT_WORKER_IDLE", "2")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("FMSCRIPT_BLAS", raising=False)
    monkeypatch.delenv("FMSCRIPT_MEMORY_LIMIT", raising=False)
    yield h
    if (h / "worker.lock").exists():
        stop_worker()


@pytest.fixture
def qa_file(tmp_path) -> Path:
    return write_jsonl(tmp_path / "qa.jsonl")
