"""Fixtures for the local engine: every test gets its own fmscript home, and no worker outlives its test."""
from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

QA = [
    ("What is the capital of France?", "Paris."),
    ("What colour is the sky?", "Blue."),
    ("How many legs does a spider have?", "Eight."),
    ("Who wrote Hamlet?", "Shakespeare."),
    ("What is 2+2?", "Four."),
    ("What is frozen water called?", "Ice."),
    ("Which planet is red?", "Mars."),
    ("What do bees make?", "Honey."),
]


def write_jsonl(path: Path, pairs=QA, system: str | None = None) -> Path:
    lines = []
    for q, a in pairs:
        msgs = ([{"role": "system", "content": system}] if system else []) + \
            [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
        lines.append(json.dumps({"messages": msgs}, ensure_ascii=False))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def stop_worker(timeout: float = 20.0) -> None:
    """SIGTERM this home's worker (it checkpoints and exits) and wait until its lock is free."""
    from fmscript.ai import worker

    pid = worker.worker_pid()
    if pid:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout
    while worker.worker_running() and time.monotonic() < deadline:
        time.sleep(0.1)
    if worker.worker_running():
        pid = worker.worker_pid()
        if pid:
            os.kill(pid, signal.SIGKILL)
        while worker.worker_running():
            time.sleep(0.1)


@pytest.fixture
def home(tmp_path, monkeypatch):
    h = tmp_path / "fmhome"
    monkeypatch.setenv("FMSCRIPT_HOME", str(h))
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
