import json
import os

import pytest

from fmscript.ai.trainingdata import TrainingDataError, resolve_training_file, validate_file
from fmscript.errors import FMScriptError

GOOD = '{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]}'


@pytest.mark.parametrize("bad, problem", [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "expected a JSON object"),
    ('{"prompt": "x"}', 'no "messages"'),
    ('{"messages": []}', "non-empty list"),
    ('{"messages": [{"role": "user", "content": "q"}]}', 'no "assistant"'),
    ('{"messages": [{"role": "assistant", "content": "a"}]}', 'no "user"'),
    ('{"messages": [{"role": "robot", "content": "q"}, {"role": "assistant", "content": "a"}]}', 'role "robot"'),
    ('{"messages": [{"role": "user", "content": 5}, {"role": "assistant", "content": "a"}]}', "not text"),
    ('{"messages": [{"role": "user"}, {"role": "assistant", "content": "a"}]}', 'no "content"'),
    ('{"messages": ["hello", {"role": "assistant", "content": "a"}]}', "not an object"),
])
def test_bad_line_is_named(tmp_path, bad, problem):
    f = tmp_path / "t.jsonl"
    f.write_text(GOOD + "\n\n" + GOOD + "\n" + bad + "\n" + GOOD + "\n")
    with pytest.raises(TrainingDataError) as ei:
        validate_file(f)
    assert ei.value.line == 4
    assert "line 4" in ei.value.message and problem in ei.value.message
    assert isinstance(ei.value, FMScriptError) and ei.value.code == 500


def test_empty_file_is_an_error(tmp_path):
    f = tmp_path / "empty.jsonl"
    f.write_text("\n  \n")
    with pytest.raises(TrainingDataError, match="empty"):
        validate_file(f)


def test_good_file_counts_examples(tmp_path):
    f = tmp_path / "ok.jsonl"
    sys_line = json.dumps({"messages": [{"role": "system", "content": "Be brief."},
                                        {"role": "user", "content": "你好"}, {"role": "assistant", "content": "好"}]},
                          ensure_ascii=False)
    f.write_text("\ufeff" + GOOD + "\n" + sys_line + "\n", encoding="utf-8")
    s = validate_file(f)
    assert s.examples == 2 and s.bytes == os.path.getsize(f)


def test_path_list_first_existing_wins(tmp_path):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    b.write_text(GOOD)
    a.write_text(GOOD)
    text = f"file:{tmp_path}/missing.jsonl\nfilemac:{b}\nfilelinux:{a}"
    assert resolve_training_file(text) == b


@pytest.mark.parametrize("prefix", ["", "file:", "filemac:", "filewin:", "filelinux:", "FILE:"])
def test_prefixes(tmp_path, prefix):
    f = tmp_path / "d.jsonl"
    f.write_text(GOOD)
    assert resolve_training_file(prefix + str(f)) == f


def test_relative_paths_use_the_script_folder_then_cwd(tmp_path, monkeypatch):
    script_dir, cwd = tmp_path / "scripts", tmp_path / "cwd"
    script_dir.mkdir()
    cwd.mkdir()
    (cwd / "data.jsonl").write_text(GOOD)
    monkeypatch.chdir(cwd)
    assert resolve_training_file("file:data.jsonl", script_dir) == cwd / "data.jsonl"
    (script_dir / "data.jsonl").write_text(GOOD)
    assert resolve_training_file("file:data.jsonl", script_dir) == script_dir / "data.jsonl"


def test_none_found_lists_paths_with_error_100(tmp_path):
    with pytest.raises(FMScriptError) as ei:
        resolve_training_file(f"file:{tmp_path}/x.jsonl\r/C:/data/y.jsonl", tmp_path)
    assert ei.value.code == 100
    assert f"{tmp_path}/x.jsonl" in ei.value.message and "/C:/data/y.jsonl" in ei.value.message


def test_tool_dialogues_validate_and_their_size_counts_the_calls(tmp_path):
    """An assistant turn that calls a tool has no content (null): the file is valid, and the memory estimate's
    longest example counts the calls and the tool definitions (it crashed on the null once)."""
    call = {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Rome"}'}}
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    ex = {"messages": [{"role": "user", "content": "Weather in Rome?"},
                       {"role": "assistant", "content": None, "tool_calls": [call]},
                       {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
                       {"role": "assistant", "content": "Sunny."}], "tools": tools}
    p = tmp_path / "tools.jsonl"
    p.write_text(json.dumps(ex) + "\n", encoding="utf-8")
    s = validate_file(p)
    assert s.examples == 1
    assert s.longest > len(json.dumps(call)) + len(json.dumps(tools))
