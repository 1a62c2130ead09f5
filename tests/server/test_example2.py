"""The spec's example 2, verbatim in zh-Hans, with only the endpoint pointed at the test server."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from fmscript.ai.jobs import JobStore
from fmscript.cli import main

from .harness import EXAMPLE_BASE, KEY, wait_until

pytestmark = pytest.mark.slow  # a real server training end to end; CI runs it

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
SPEC_ENDPOINT = "https://myserver.example.com/llm/v1/"


def test_spec_example2_zh_hans_against_the_server(drained, tmp_path, monkeypatch, remote_env, capsys):
    server = drained
    docs = tmp_path / "Documents"
    docs.mkdir()
    monkeypatch.setenv("FMSCRIPT_DOCUMENTS", str(docs))  # Get(文档路径)
    (docs / "training_data.jsonl").write_text((EXAMPLES / "data" / "qa.jsonl").read_text(encoding="utf-8"),
                                              encoding="utf-8")
    db = tmp_path / "app.sqlite"
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE Global (Fine_Tuning_API_Key TEXT, Fine_Tuned_Model TEXT)")
        con.execute("INSERT INTO Global VALUES (?, '')", (KEY,))
    text = (EXAMPLES / "spec_example2.zh.fmscript").read_text(encoding="utf-8")
    assert text.count(SPEC_ENDPOINT) == 1
    script = tmp_path / "example2.fmscript"
    script.write_text(text.replace(SPEC_ENDPOINT, server.base_url + "/"), encoding="utf-8")

    # --detach: `fmscript run` now waits for jobs on every provider (issue 11), and this one has 1500 steps.
    assert main(["run", str(script), "-f", str(db), "--detach"]) == 0
    assert KEY not in capsys.readouterr().err
    with sqlite3.connect(db) as con:
        (tuned,) = con.execute("SELECT Fine_Tuned_Model FROM Global").fetchone()
    assert tuned == "fm-mlx-product-expert-v2"

    # The job is on the server's queue with the example's parameters (sent as JSON strings).
    store = JobStore(server.home / "jobs.sqlite")
    job = store.list_jobs(limit=1)[0]
    assert job["model"] == EXAMPLE_BASE and job["training_file_name"] == "training_data.jsonl"
    assert job["fine_tuned_model"] == "fm-mlx-product-expert-v2"
    hp = job["hyperparameters"]
    assert hp["max_steps"] == 1500 and hp["batch_size"] == 2 and abs(hp["learning_rate"] - 1e-4) < 1e-12
    # It trains (1500 steps are more than this suite spends on one job: stop it once it runs).
    wait_until(lambda: (store.get_job(job["id"])["step"] or 0) >= 10, 120, "the example's job to train")
    assert store.get_job(job["id"])["status"] == "running"
    assert server.post(f"/fine_tuning/jobs/{job['id']}/cancel").json()["status"] == "cancelled"
