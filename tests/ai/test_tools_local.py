"""Generate Response from Model on the Local provider with the (untrained) tiny model: the tools reach the model's
own chat template, a streamed answer fills the Response target piece by piece, and a prompt over the model's
context is error 14 before anything is written."""
from __future__ import annotations

import json

import pytest

from fmscript.interpreter import Interpreter

TINY = "fmscript/tiny-chat"
TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "The weather of a city",
                                           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]


def test_the_tiny_models_template_renders_tools_calls_and_results(home):
    from fmscript.ai.generate import check_messages, load_model

    _, tok = load_model(TINY)
    convo = check_messages([
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "Sunny"}])
    text = tok.apply_chat_template(convo, tools=TOOLS, tokenize=False, add_generation_prompt=True)
    assert '{"name": "get_weather", "description": "The weather of a city"' in text
    assert '<|assistant|>\n<tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call><|end|>' in text
    assert "<|user|>\n<tool_response>\nSunny\n</tool_response><|end|>" in text
    assert text.endswith("<|assistant|>\n")
    # Without tools the prompt is what it always was (adapters trained before stay valid).
    plain = tok.apply_chat_template([{"role": "user", "content": "Hi"}], tokenize=False, add_generation_prompt=True)
    assert plain == "<s><|user|>\nHi<|end|>\n<|assistant|>\n"


def test_a_streamed_local_answer_fills_the_response_piece_by_piece(home):
    events, seen = [], []

    def on_step(e):
        if "stream" in e:
            events.append(e["stream"])
            seen.append(str(fm.session.globals["$$a"]))
    fm = Interpreter(on_dialog=lambda t, m: None, on_step=on_step)
    fm.run_text(f'''Configure AI Account [ Account Name: "l" ; Model Provider: Local ]
Generate Response from Model [ Account Name: "l" ; Model: "{TINY}" ; User Prompt: "Hello" ; Stream ; Response: $$a ; Parameters: "{{\\"max_tokens\\": 6}}" ]''')
    final = str(fm.session.globals["$$a"])
    assert len(events) >= 2 and "".join(events) == final
    assert seen == ["".join(events[:i + 1]) for i in range(len(events))]


@pytest.mark.parametrize("tools", [None, TOOLS])
def test_a_prompt_over_the_context_is_error_14_and_nothing_is_written(home, tools):
    long = " ".join(["bees make honey"] * 1500)
    defs = f" ; Tool Definitions: {json.dumps(json.dumps(tools))} ; Agentic mode: On" if tools else ""
    fm = Interpreter(on_dialog=lambda t, m: None)
    out = fm.run_text(f'''Set Error Capture [ On ]
Set Variable [ $$a ; Value: "before" ]
Configure AI Account [ Account Name: "l" ; Model Provider: Local ]
Generate Response from Model [ Account Name: "l" ; Model: "{TINY}" ; User Prompt: "{long}" ; Stream ; Response: $$a ; Save Message History To: $$h{defs} ]
Exit Script [ Text Result: Get ( LastError ) & "|" & Get ( LastErrorDetail ) ]''')
    code, detail = out.split("|", 1)
    assert code == "14" and "reads at most 2048 (its context length)" in detail
    assert str(fm.session.globals["$$a"]) == "before" and "$$h" not in fm.session.globals
