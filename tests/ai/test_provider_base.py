"""The provider base class: a capability a provider lacks answers FileMaker's error 21 naming the provider; the
Local engine is the provider itself and keeps one job store per home."""
from __future__ import annotations

import pytest

from fmscript.ai.accounts import E_REQUEST_NOT_SUPPORTED, Provider
from fmscript.ai.local import LocalEngine
from fmscript.interpreter import Interpreter


class Echo(Provider):
    """Chat only: everything else comes from the base class."""

    provider_name = "Echo"

    def __init__(self, acct):
        self.acct = acct

    def chat(self, model, messages, params):
        return messages[-1]["content"][::-1]


def test_a_provider_that_only_chats_says_what_it_cannot_do():
    from fmscript.errors import FMScriptError

    echo = Echo(None)
    assert echo.chat("m", [{"role": "user", "content": "abc"}], {}) == "cba"
    for call, what in ((lambda: echo.fine_tune("m", "x.jsonl", {}), "Fine-Tune Model"),
                       (lambda: echo.wait("fm-ftjob-1"), "Wait for Fine-Tune Job"),
                       (lambda: echo.job_status("fm-ftjob-1"), "Fine-tuning job status"),
                       (lambda: echo.cancel("fm-ftjob-1"), "Cancelling a fine-tuning job")):
        with pytest.raises(FMScriptError) as e:
            call()
        assert e.value.code == E_REQUEST_NOT_SUPPORTED == 21
        assert e.value.message == f"{what} is not supported by the Echo provider in fmscript."


def test_anthropic_is_known_by_name_and_says_it_cannot_fine_tune(qa_file):
    fm = Interpreter()
    out = fm.run_text(f'''
Configure AI Account [ Account Name: "a" ; Model Provider: Anthropic ; API key: "k" ]
Set Error Capture [ On ]
Fine-Tune Model [ Account Name: "a" ; Base Model: "m" ; Training Data: File ; "{qa_file}" ; Response Target: $r ]
Exit Script [ Text Result: Get ( LastError ) & "|" & Get ( LastErrorDetail ) ]
''')
    code, detail = out.split("|", 1)
    assert code == "21" and "not supported by the Anthropic provider" in detail


def test_local_engine_is_the_provider_and_keeps_one_store_per_home(home, tmp_path, monkeypatch):
    from fmscript.ai.accounts import Account

    engine = Account("l", "Local").provider
    assert isinstance(engine, LocalEngine) and isinstance(engine, Provider)
    first = engine.store
    assert engine.store is first  # not a new JobStore (and migration check) on every access
    monkeypatch.setenv("FMSCRIPT_HOME", str(tmp_path / "other-home"))
    assert engine.store is not first and engine.store.path == tmp_path / "other-home" / "jobs.sqlite"
    with pytest.raises(Exception) as e:
        engine.job_status("fm-ftjob-1")
    assert "no fine-tuning job" in str(e.value)
