"""Fine-Tune Model's Table option: the spec's example 1 (English and zh-Hans) against a fixture database.

Training itself is the AI engine's job; these tests pin the exact JSONL that the Table option sends.
"""
from __future__ import annotations

import json

import pytest

from fmscript.data.prompt import BUILTIN_SYSTEM_PROMPT, rows_to_jsonl, table_training_rows
from fmscript.script.runtime import Frame

EXAMPLE1_EN = """\
Go to Layout [ "Support_QA" (Support_QA) ]
Perform Find [ Restore ]
"""

EXAMPLE1_ZH = """\
转到布局 [ "Support_QA" (Support_QA) ]
执行查找 [ 恢复 ]
"""

EXPECTED_JSONL = (
    '{"messages":[{"role":"user","content":"Question: How do I reset my password?\\nStatus: open\\n'
    'Category: Account\\nPriority: 2"},{"role":"assistant","content":"Open Settings > Account and choose '
    'Reset Password."}]}\n'
    '{"messages":[{"role":"user","content":"Question: Can I export my data?\\nStatus: open\\nCategory: Data\\n'
    'Priority: 3"},{"role":"assistant","content":"Yes: File > Export writes CSV or JSONL."}]}\n'
    '{"messages":[{"role":"user","content":"Question: 如何更改语言？\\nStatus: open\\nCategory: Account\\n'
    'Priority: 1"},{"role":"assistant","content":"在“设置 > 语言”中选择。"}]}\n'
)


@pytest.mark.parametrize("script", [EXAMPLE1_EN, EXAMPLE1_ZH], ids=["en", "zh-Hans"])
def test_example1_table_option_jsonl(qa, script):
    qa(script)
    frame = Frame(qa.fm.session, "Example 1")
    rows = table_training_rows(frame, "Support_QA", "Support_QA::Answer")
    assert rows_to_jsonl(rows) == EXPECTED_JSONL
    # The global field (Reviewer) and the completion field are left out; no system message.
    assert all(m["role"] != "system" for r in rows for m in r["messages"])


def test_table_rows_follow_found_set_order_and_accept_bare_field(qa):
    qa('Go to Layout [ "Support_QA" (Support_QA) ]\nPerform Find [ Restore ]\n'
       'Sort Records [ Restore ; With dialog: Off ; "Support_QA::Priority descending" ]')
    rows = table_training_rows(Frame(qa.fm.session, "s"), "Support_QA", "Answer")
    assert [r["messages"][1]["content"][:3] for r in rows] == ["Yes", "Ope", "在“设"]


def test_table_rows_errors(qa):
    from fmscript.errors import DataError
    frame = Frame(qa.fm.session, "s")
    with pytest.raises(DataError) as e:
        table_training_rows(frame, "Nope", "Answer")
    assert e.value.code == 106
    with pytest.raises(DataError) as e:
        table_training_rows(frame, "Support_QA", "Support_QA::Missing")
    assert e.value.code == 102


def test_save_records_as_jsonl_shares_the_builder(qa, tmp_path):
    """Format for fine-tuning Off: the built-in system prompt, then exactly the Table option's messages."""
    qa('Go to Layout [ "Support_QA" (Support_QA) ]\nPerform Find [ Restore ]\n'
       'Save Records as JSONL [ Format for fine-tuning: Off ; Table: Support_QA ; '
       'Completion Field: Support_QA::Answer ; "out/train.jsonl" ; Create folders: On ]')
    lines = (tmp_path / "out" / "train.jsonl").read_text(encoding="utf-8").splitlines()
    table = [json.loads(x) for x in EXPECTED_JSONL.splitlines()]
    saved = [json.loads(x) for x in lines]
    assert [s["messages"][0] for s in saved] == [{"role": "system", "content": BUILTIN_SYSTEM_PROMPT}] * 3
    assert [{"messages": s["messages"][1:]} for s in saved] == table


def test_save_records_as_jsonl_fine_tuning_on(qa, tmp_path):
    qa('转到布局 [ "Support_QA" (Support_QA) ]\n执行查找 [ 恢复 ]\n'
       '将记录保存为 JSONL [ 用于微调的格式: 开 ; 表: Support_QA ; 系统提示: "Be brief." ; '
       '用户提示: Support_QA::Question ; 助手提示: Support_QA::Answer & " (" & Support_QA::Category & ")" ; '
       '"qa.jsonl" ]')
    rows = [json.loads(x) for x in (tmp_path / "qa.jsonl").read_text(encoding="utf-8").splitlines()]
    assert rows[0] == {"messages": [{"role": "system", "content": "Be brief."},
                                    {"role": "user", "content": "How do I reset my password?"},
                                    {"role": "assistant",
                                     "content": "Open Settings > Account and choose Reset Password. (Account)"}]}
    assert len(rows) == 3


def test_save_records_as_jsonl_plain_records(qa, tmp_path):
    qa('Go to Layout [ "Support_QA" (Support_QA) ]\nPerform Find [ Restore ; "Support_QA::Priority: 1 AND Support_QA::Status: open" ]\n'
       'Save Records as JSONL [ Table: Support_QA ; "plain.jsonl" ]')
    assert (tmp_path / "plain.jsonl").read_text(encoding="utf-8") == (
        '{"Question":"如何更改语言？","Answer":"在“设置 > 语言”中选择。","Status":"open","Category":"Account",'
        '"Priority":1}\n')


FULL_EXAMPLE1 = {
    "en": """\
Configure AI Account [ Account Name: "my-account" ; Model Provider: OpenAI ; API key: Global::OpenAI_API_Key ]
Go to Layout [ "Support_QA" (Support_QA) ]
Perform Find [ Restore ]
Fine-Tune Model [ Account Name: "my-account" ; Base Model: "gpt-4.1-2025-04-14" ; Training Data: Table ; "Support_QA" ; Completion Field: Support_QA::Answer ; Response Target: $$responseTarget ]
""",
    "zh-Hans": """\
配置 AI 账户 [ 账户名称: "my-account" ; 模型提供商: OpenAI ; API 密钥: Global::OpenAI_API_Key ]
转到布局 [ "Support_QA" (Support_QA) ]
执行查找 [ 恢复 ]
微调模型 [ 账户名称: "my-account" ; 基础模型: "gpt-4.1-2025-04-14" ; 训练数据: 表 ; "Support_QA" ; 完成字段: Support_QA::Answer ; 响应目标: $$responseTarget ]
""",
}


@pytest.mark.parametrize("lang", list(FULL_EXAMPLE1))
def test_full_example1_sends_the_table_jsonl(qa, lang, monkeypatch):
    """The whole example with the OpenAI provider replaced by a recorder: the file it would upload."""
    from fmscript.ai import accounts

    sent = {}

    class Recorder:
        def __init__(self, acct):
            self.acct = acct

        def fine_tune(self, base_model, training_path, training_file_name, params, on_warning=None):
            sent.update(key=self.acct.api_key, model=base_model, name=training_file_name,
                        data=open(training_path, encoding="utf-8").read())
            return {"object": "fine_tuning.job", "id": "ftjob-1", "status": "queued"}

    monkeypatch.setitem(accounts.PROVIDERS, "openai", Recorder)
    qa(FULL_EXAMPLE1[lang])
    assert sent["data"] == EXPECTED_JSONL
    assert (sent["key"], sent["model"], sent["name"]) == ("sk-test-key", "gpt-4.1-2025-04-14", "Support_QA.jsonl")
    assert json.loads(qa.fm.get_global("responseTarget"))["id"] == "ftjob-1"
