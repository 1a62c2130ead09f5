"""End to end through the CLI with the Local provider: the quick start and the spec's example 2 (zh-Hans,
verbatim but for the account, which is switched to the embedded engine)."""
import json
import sqlite3
from pathlib import Path

import pytest

from fmscript.ai.jobs import JobStore
from fmscript.ai.tinymodel import create_tiny
from fmscript.cli import main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

pytestmark = pytest.mark.slow  # minutes of training on 2 cores; CI runs them


def test_quickstart_example_trains_and_answers(capsys, monkeypatch):
    monkeypatch.chdir(EXAMPLES)
    assert main(["run", "quickstart.fmscript"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Training"
    assert out[2:] == ["What is the capital of France? → Paris.", "Who wrote Hamlet? → Shakespeare.",
                       "What do bees make? → Honey."]


def test_spec_example2_zh_hans_on_the_local_provider(tmp_path, monkeypatch, capsys):
    docs = Path(monkeypatch_env(monkeypatch, tmp_path))
    create_tiny("google/codegemma-7b-it")  # a small model under the name the example uses
    (docs / "training_data.jsonl").write_text((EXAMPLES / "data" / "qa.jsonl").read_text(encoding="utf-8"),
                                              encoding="utf-8")
    db = tmp_path / "app.sqlite"
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE Global (Fine_Tuning_API_Key TEXT, Fine_Tuned_Model TEXT)")
        con.execute("INSERT INTO Global VALUES ('not-used-by-local', '')")
    text = (EXAMPLES / "spec_example2.zh.fmscript").read_text(encoding="utf-8")
    first, rest = text.split("\n", 1)
    assert first.startswith("配置 AI 账户 [ 账户名称: \"AI_Model_Server\" ; Model Provider: Custom")
    script = tmp_path / "example2.fmscript"
    script.write_text('配置 AI 账户 [ 账户名称: "AI_Model_Server" ; Model Provider: 本地 ]\n' + rest, encoding="utf-8")

    assert main(["run", str(script), "-f", str(db)]) == 0  # waits for the job: nothing is left half done
    with sqlite3.connect(db) as con:
        (tuned,) = con.execute("SELECT Fine_Tuned_Model FROM Global").fetchone()
    assert tuned == "fm-mlx-product-expert-v2"
    (job,) = JobStore().list_jobs()
    assert job["status"] == "succeeded" and job["fine_tuned_model"] == "fm-mlx-product-expert-v2"
    hp = job["hyperparameters"] if isinstance(job["hyperparameters"], dict) else json.loads(job["hyperparameters"])
    assert hp["max_steps"] == 1500 and hp["batch_size"] == 2 and abs(hp["learning_rate"] - 1e-4) < 1e-12


def monkeypatch_env(monkeypatch, tmp_path) -> str:
    docs = tmp_path / "Documents"
    docs.mkdir()
    monkeypatch.setenv("FMSCRIPT_DOCUMENTS", str(docs))
    return str(docs)
