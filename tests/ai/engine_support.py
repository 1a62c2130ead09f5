"""What the engine tests share: the eight answers, writing them as chat JSONL, stopping a home's worker."""
from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

#: The eight questions the tiny model learns, shared with tests/server (tests/fixtures/eight_answers.tsv).
QA = [tuple(line.split("\t")) for line in
      (Path(__file__).resolve().parents[1] / "fixtures" / "eight_answers.tsv").read_text(encoding="utf-8").splitlines()]


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


def wait_until(cond, timeout: float = 60.0, what: str = "a condition"):
    """Poll ``cond`` until it gives something true (returned), failing the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
