"""``fmscript run`` waits for the jobs its script started on every provider: here Custom, against the real server."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from .harness import BASE, KEY, LEARN, jsonl


def _run(server, tmp_path, *extra, steps=None):
    data = tmp_path / "qa.jsonl"
    data.write_text(jsonl(), encoding="utf-8")
    params = {**{k: str(v) for k, v in LEARN.items()}, "fine_tuned_model_name": f"run-waits-{len(extra)}"}
    if steps:
        params["max_steps"] = str(steps)
    script = tmp_path / "train.fmscript"
    script.write_text(
        f'Configure AI Account [ Account Name: "acct" ; Model Provider: Custom ; Endpoint: "{server.base_url}/" ; '
        f'API key: "{KEY}" ]\n'
        f'Fine-Tune Model [ Account Name: "acct" ; Base Model: "{BASE}" ; Training Data: File ; "{data}" ; '
        f'Response Target: $r ; Fine-Tune Parameters: {json.dumps(json.dumps(params))} ]\n'
        'Show Custom Dialog [ "job" ; JSONGetElement ( $r ; "result.id" ) ]\n', encoding="utf-8")
    env = {**os.environ, "FMSCRIPT_HOME": str(tmp_path / "client-home"), "FMSCRIPT_AI_POLL": "0.3",
           "FMSCRIPT_AI_MAX_RETRIES": "0"}
    r = subprocess.run([sys.executable, "-m", "fmscript", "run", str(script), *extra], capture_output=True,
                       text=True, env=env, cwd=str(tmp_path), timeout=300)
    return r, r.stdout.split()[-1] if r.stdout.split() else ""


@pytest.mark.slow
def test_run_waits_for_a_custom_job_it_started(drained, tmp_path):
    r, jid = _run(drained, tmp_path)
    assert r.returncode == 0, r.stderr
    assert jid.startswith("fm-ftjob-") and drained.job(jid)["status"] == "succeeded"
    lines = r.stderr.splitlines()
    assert f"fmscript: waiting for fine-tuning job {jid} (--detach does not wait; Ctrl-C stops waiting)" in lines
    assert f"{jid}: step 100/100" in r.stderr  # the server's progress events, one plain line each
    assert lines[-1].startswith(f"{jid} succeeded, 100 steps, done in ")
    assert KEY not in r.stderr + r.stdout


def test_detach_does_not_wait(drained, tmp_path):
    r, jid = _run(drained, tmp_path, "--detach", steps=100000)
    assert r.returncode == 0, r.stderr
    assert "waiting for" not in r.stderr and drained.job(jid)["status"] in ("queued", "running")
