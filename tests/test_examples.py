"""Every example in examples/ parses, and the runnable ones do what their comments say."""
import json
from pathlib import Path

import pytest

from fmscript.cli import main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("*.fmscript")))
def test_every_example_checks_clean(name, capsys):
    assert main(["check", str(EXAMPLES / name)]) == 0, capsys.readouterr().err


def test_prepare_data_example_writes_chat_jsonl(capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(EXAMPLES)
    assert main(["run", "prepare_data.fmscript"]) == 0
    out = capsys.readouterr().out.splitlines()
    docs = Path(__import__("os").environ["FMSCRIPT_DOCUMENTS"])
    assert out == ["Saved 8 of 10 records", f"{docs}/support_qa.jsonl"]
    rows = [json.loads(line) for line in (docs / "support_qa.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 8
    assert rows[0]["messages"] == [
        {"role": "system", "content": "You answer customer questions in one short line."},
        {"role": "user", "content": "Can I change my plan?"},
        {"role": "assistant", "content": "Yes: Settings > Plan."}]
    assert [r["messages"][1]["content"] for r in rows] == sorted(r["messages"][1]["content"] for r in rows)


@pytest.fixture
def support_db(tmp_path, capsys):
    db = tmp_path / "support.sqlite"
    assert main(["db", "-f", str(db), "import", str(EXAMPLES / "data" / "Support_QA.csv")]) == 0
    assert main(["db", "-f", str(db), "find", "Support_QA", "Support_QA::Status: ==open"]) == 0
    capsys.readouterr()
    return db


@pytest.mark.slow
@pytest.mark.parametrize("name", ["spec_example1.en.fmscript", "spec_example1.zh.fmscript"])
def test_spec_example1_on_the_local_provider(name, support_db, capsys):
    assert main(["run", str(EXAMPLES / name), "-f", str(support_db)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == ["Training on 8 records: fm-mlx-support-qa", "Settings > Export > CSV."]


@pytest.mark.slow
def test_spec_example2_in_english_on_the_local_provider(tmp_path, capsys):
    import os

    from fmscript.ai.local import LocalEngine
    from fmscript.ai.tinymodel import create_tiny

    create_tiny("google/codegemma-7b-it")
    docs = Path(os.environ["FMSCRIPT_DOCUMENTS"])
    (docs / "training_data.jsonl").write_text((EXAMPLES / "data" / "qa.jsonl").read_text(encoding="utf-8"),
                                              encoding="utf-8")
    db = tmp_path / "app.sqlite"
    assert main(["db", "-f", str(db), "create-table", "Global", "Fine_Tuning_API_Key:text:global",
                 "Fine_Tuned_Model:text:global"]) == 0
    capsys.readouterr()
    assert main(["run", str(EXAMPLES / "spec_example2.en.fmscript"), "-f", str(db), "--detach"]) == 0
    title, line = capsys.readouterr().out.splitlines()
    job_id, tuned = line.split(" → ")
    assert title == "Fine-tuning" and job_id.startswith("fm-ftjob-") and tuned == "fm-mlx-product-expert-v2"
    # The job runs on in the worker (--detach); 1500 steps is the spec's figure, too long for a test.
    engine = LocalEngine()
    engine.cancel(job_id)
    assert engine.wait(job_id, timeout=120)["result"]["status"] == "cancelled"
    # The global field kept the tuned model's name in the file.
    from fmscript.interpreter import Interpreter
    with Interpreter(file=db) as fm:
        assert fm.evaluate("Global::Fine_Tuned_Model") == "fm-mlx-product-expert-v2"
