"""``/v1/chat/completions`` with ``tools``/``tool_choice`` through the official ``openai`` client: accepted and
offered to the model's chat template, tool and tool-call messages in the conversation, bad definitions and
prompts over the context refused with OpenAI's 400 before an answer starts (streamed or not). What a model that
calls tools gets back is in tests/ai/test_tools_trained.py (a model taught to call them)."""
from __future__ import annotations

import openai
import pytest

from .harness import BASE

WEATHER = {"type": "function", "function": {"name": "get_weather", "description": "The weather of a city",
                                             "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                                                            "required": ["city"]}}}
CONVO = [{"role": "user", "content": "Weather in Paris?"},
         {"role": "assistant", "content": None, "tool_calls": [
             {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]},
         {"role": "tool", "tool_call_id": "call_1", "content": "Sunny"}]


@pytest.mark.parametrize("choice", [None, "auto", "required", "none",
                                    {"type": "function", "function": {"name": "get_weather"}}])
def test_tools_and_tool_messages_are_accepted(server, choice):
    kw = {"tool_choice": choice} if choice is not None else {}
    r = server.client().chat.completions.create(model=BASE, messages=CONVO, tools=[WEATHER], max_tokens=4, **kw)
    c = r.choices[0]
    assert c.finish_reason in ("stop", "length", "tool_calls")
    assert (c.message.tool_calls is None) == (c.finish_reason != "tool_calls")
    assert r.usage.prompt_tokens > 0


def test_tool_choice_none_sends_no_tools_to_the_template(server):
    """The prompt is longer with the tools' block in it, shorter without (tool_choice none)."""
    c = server.client()
    with_tools = c.chat.completions.create(model=BASE, messages=CONVO[:1], tools=[WEATHER], max_tokens=1)
    without = c.chat.completions.create(model=BASE, messages=CONVO[:1], tools=[WEATHER], tool_choice="none",
                                        max_tokens=1)
    plain = c.chat.completions.create(model=BASE, messages=CONVO[:1], max_tokens=1)
    assert without.usage.prompt_tokens == plain.usage.prompt_tokens < with_tools.usage.prompt_tokens


@pytest.mark.parametrize("kw, param, says", [
    ({"tools": [{"type": "function", "function": {"description": "no name"}}]}, "tools", "Invalid 'tools': tool 1"),
    ({"tools": [{"type": "function", "function": {"name": "a", "parameters": {"type": "objekt"}}}]}, "tools",
     "not a valid JSON Schema"),
    ({"tools": [WEATHER], "tool_choice": {"type": "function", "function": {"name": "other"}}}, "tool_choice",
     "no tool named 'other'"),
    ({"tools": [WEATHER], "tool_choice": "sometimes"}, "tool_choice", "use none, auto, required or a function"),
])
def test_bad_tools_are_openais_400(server, kw, param, says):
    with pytest.raises(openai.BadRequestError) as e:
        server.client().chat.completions.create(model=BASE, messages=CONVO[:1], **kw)
    assert e.value.body["param"] == param and says in e.value.body["message"]


@pytest.mark.parametrize("stream", [False, True])
def test_a_prompt_over_the_context_is_400_context_length_exceeded_before_any_answer(server, stream):
    long = " ".join(["bees make honey"] * 1500)
    with pytest.raises(openai.BadRequestError) as e:
        r = server.client().chat.completions.create(model=BASE, messages=[{"role": "user", "content": long}],
                                                    stream=stream)
        list(r)
    assert e.value.body["code"] == "context_length_exceeded"
    assert "reads at most 2048 (its context length)" in e.value.body["message"]


def test_an_unknown_role_is_still_400(server):
    with pytest.raises(openai.BadRequestError) as e:
        server.client().chat.completions.create(model=BASE, messages=[{"role": "robot", "content": "x"}])
    assert e.value.body["param"] == "messages[0].role"
