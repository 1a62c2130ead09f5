"""One path-list resolver (fmscript/data/paths.py) for Import Records, Export Records, Save Records as JSONL
and Fine-Tune Model's File option: the same list finds the same file in each."""
from __future__ import annotations

import json
import os

import pytest

from fmscript import Interpreter
from fmscript.data import paths
from fmscript.errors import FMScriptError

TRAINING_ROW = {"messages": [{"role": "user", "content": "Hi?"}, {"role": "assistant", "content": "Hello"}]}


class Recorder:
    """A provider registered through the embedding API: it records the file Fine-Tune Model hands it."""

    seen: list[str] = []

    def __init__(self, account):
        self.account = account

    def fine_tune(self, base, path, params=None, training_file_name=None, on_warning=None):
        Recorder.seen.append(path)
        return {"result": {"id": "job-1", "status": "queued"}}


def interpreter(db, base_dir):
    fm = Interpreter(file=db, on_dialog=lambda t, m: None, base_dir=base_dir)
    fm.register_provider("Recorder", Recorder)
    return fm


FINE_TUNE = ('Configure AI Account [ Account Name: "r" ; Model Provider: Recorder ]\n'
             'Fine-Tune Model [ Account Name: "r" ; Base Model: "m" ; Training Data: File ; "{src}" ; '
             'Response Target: $job ]\n')


def test_one_path_list_resolves_alike_for_save_import_and_fine_tune(qa_db, tmp_path):
    """A list with a Windows path first, held in a variable, relative to the script's folder."""
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    fm = interpreter(qa_db, scripts)
    Recorder.seen.clear()
    fm.run_text('Set Variable [ $$list ; Value: "filewin:/C:/nowhere/qa.jsonl¶file:out/qa.jsonl" ]\n'
                'Go to Layout [ "Support_QA" (Support_QA) ]\n'
                'Save Records as JSONL [ Format for fine-tuning: On ; Table: Support_QA ; User Prompt: '
                'Support_QA::Question ; Completion Field: Support_QA::Answer ; "$$list" ; Create folders: On ]\n'
                'Import Records [ With dialog: Off ; Data source: "$$list" ; Target: "Imported" ]\n'
                + FINE_TUNE.format(src="$$list"))
    written = scripts / "out" / "qa.jsonl"
    assert written.is_file()
    assert Recorder.seen == [str(written)]
    assert fm.database.total_count("Imported") == 4


def test_relative_paths_for_reading_try_the_script_folder_then_the_current_directory(qa_db, tmp_path,
                                                                                     monkeypatch):
    scripts, cwd = tmp_path / "scripts", tmp_path / "cwd"
    scripts.mkdir()
    cwd.mkdir()
    (cwd / "rows.jsonl").write_text(json.dumps(TRAINING_ROW) + "\n", encoding="utf-8")
    monkeypatch.chdir(cwd)
    fm = interpreter(qa_db, scripts)
    Recorder.seen.clear()
    fm.run_text('Import Records [ With dialog: Off ; Data source: "file:rows.jsonl" ; Target: "Rows" ]\n'
                + FINE_TUNE.format(src="file:rows.jsonl"))
    assert fm.database.total_count("Rows") == 1
    assert Recorder.seen == [str(cwd / "rows.jsonl")]
    # the script's folder comes first when both have the file
    (scripts / "rows.jsonl").write_text(json.dumps(TRAINING_ROW) + "\n", encoding="utf-8")
    assert paths.resolve_input("file:rows.jsonl", scripts) == scripts / "rows.jsonl"


def test_none_found_is_error_100_listing_every_path_for_each_step(qa_db, tmp_path):
    fm = interpreter(qa_db, tmp_path)
    for text in ('Import Records [ With dialog: Off ; Data source: "file:a.csv¶/abs/b.csv" ; Target: "T" ]',
                 FINE_TUNE.format(src="file:a.csv¶/abs/b.csv")):
        with pytest.raises(FMScriptError) as e:
            fm.run_text(text)
        assert e.value.code == 100
        assert str(tmp_path / "a.csv") in e.value.message and "/abs/b.csv" in e.value.message


def test_entries_prefixes_variables_and_blank_lines():
    values = {"$one": "file:a.csv", "$$many": "filemac:/Vol/b.csv\r\rfilelinux:/c.csv"}
    assert paths.entries("\r$one\n $$many \r\n¶FILE:d.csv\r$unset", values.get) == [
        "file:a.csv", "filemac:/Vol/b.csv", "filelinux:/c.csv", "FILE:d.csv"]
    assert [paths.to_native(e) for e in ("file:a.csv", "FILEWIN:x/y.csv", "filelinux:/c.csv")] == \
        ["a.csv", "x/y.csv", "/c.csv"]
    if os.name != "nt":
        assert paths.to_native("filewin:/C:/data/x.csv") == "/C:/data/x.csv"  # listed when not found


def test_output_goes_to_the_first_path_whose_folder_exists(tmp_path):
    (tmp_path / "there").mkdir()
    assert paths.resolve_output("file:missing/x.csv\nfile:there/x.csv", tmp_path) == tmp_path / "there" / "x.csv"
    assert paths.resolve_output("file:new/x.csv", tmp_path, create_folders=True) == tmp_path / "new" / "x.csv"
    if os.name != "nt":  # a Windows drive path is never created as a folder named "C:" elsewhere
        assert paths.resolve_output("filewin:/C:/nowhere/x.csv\nfile:x.csv", tmp_path, create_folders=True) == \
            tmp_path / "x.csv"
    with pytest.raises(FMScriptError) as e:
        paths.resolve_output("file:nope/x.csv", tmp_path)
    assert e.value.code == 800 and "nope/x.csv" in e.value.message
