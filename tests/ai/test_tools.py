"""Tool Definitions, tool calls written as text (Hermes/Qwen and llama-3), the streamed-text filter, argument checks
and the agentic loop's bound (fmscript.ai.tools), without a model."""
from __future__ import annotations

import json

import pytest

from fmscript.ai.tools import (MAX_ROUNDS, ToolTextFilter, Turn, check_arguments, make_call, parse_tool_calls,
                               parse_tool_definitions, run_agent)
from fmscript.errors import E_JSON_INVALID, E_OUT_OF_RANGE, FMScriptError

WEATHER = {"name": "get_weather", "description": "Weather of a city",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}


def test_tool_definitions_in_filemaker_and_openai_forms():
    for value in (WEATHER, [WEATHER], {"tools": [WEATHER]}, [{"type": "function", "function": WEATHER}],
                  json.dumps([WEATHER])):
        ts = parse_tool_definitions(value)
        assert ts.names == ["get_weather"]
        assert ts.tools == [{"type": "function", "function": WEATHER}]
    assert parse_tool_definitions("") is None and parse_tool_definitions("  ") is None


@pytest.mark.parametrize("text, says", [
    ('[{"name": "a", ', "not valid JSON (Expecting property name enclosed in double quotes at line 1, column 16)"),
    ('"get_weather"', "expected a tool object or an array of them"),
    ('[{"description": "no name"}]', "tool 1 needs a \"name\""),
    ('[{"name": "a/b"}]', "tool 1 needs a \"name\""),
    ('[{"name": "a"}, {"name": "a"}]', "the tool “a” is defined twice"),
    ('[{"name": "a", "parameters": {"type": "objekt"}}]', "tool “a”: \"parameters\" is not a valid JSON Schema"),
    ('[{"name": "a", "parameters": []}]', "\"parameters\" must be a JSON Schema object"),
])
def test_malformed_tool_definitions_are_error_1630_naming_the_problem(text, says):
    with pytest.raises(FMScriptError) as ei:
        parse_tool_definitions(text)
    assert ei.value.code == E_JSON_INVALID
    assert says in ei.value.message and ei.value.message.startswith("Tool Definitions: ")


def test_hermes_tool_calls_are_parsed_back():
    text, calls = parse_tool_calls('Let me look.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}'
                                   '\n</tool_call><tool_call>{"name": "b", "arguments": {}}</tool_call>')
    assert text == "Let me look."
    assert [c["function"]["name"] for c in calls] == ["get_weather", "b"]
    assert json.loads(calls[0]["function"]["arguments"]) == {"city": "Paris"}
    assert calls[0]["type"] == "function" and calls[0]["id"].startswith("call_") and calls[0]["id"] != calls[1]["id"]


def test_llama3_json_tool_calls_are_parsed_back():
    for text in ('{"name": "get_weather", "parameters": {"city": "Paris"}}',
                 '<|python_tag|>{"name": "get_weather", "parameters": {"city": "Paris"}}'):
        content, calls = parse_tool_calls(text)
        assert content == "" and len(calls) == 1
        assert json.loads(calls[0]["function"]["arguments"]) == {"city": "Paris"}
    _, calls = parse_tool_calls('{"name": "a", "parameters": {"x": "}"}}; {"name": "b", "parameters": {}}')
    assert [c["function"]["name"] for c in calls] == ["a", "b"]


def test_text_that_is_no_tool_call_stays_text():
    for text in ("The weather is fine.", '{"answer": 42}', '{"name": broken'):
        assert parse_tool_calls(text) == (text, [])


def test_a_broken_hermes_call_keeps_its_text_as_arguments():
    _, calls = parse_tool_calls('<tool_call>{"name": "get_weather", "arguments": {"city": </tool_call>')
    assert calls[0]["function"]["name"] == "get_weather"
    assert calls[0]["function"]["arguments"].startswith('{"name": "get_weather"')


def test_streamed_text_never_shows_tool_call_markup():
    f = ToolTextFilter()
    out = "".join(f.feed(p) for p in ["The ", "answer <to", "ol_call>{\"name\": ", "\"a\"}</tool_call>"])
    assert out == "The answer "
    f = ToolTextFilter()
    assert "".join(f.feed(p) for p in ["Ready <t", "able>"]) + f.flush() == "Ready <table>"
    f = ToolTextFilter()
    assert "".join(f.feed(p) for p in [" {\"na", "me\": \"a\"}"]) == ""  # llama-3's form is held whole


def test_arguments_are_checked_against_the_tools_schema():
    ts = parse_tool_definitions([WEATHER])
    assert check_arguments(ts, make_call("get_weather", {"city": "Oslo"})) == ("get_weather", {"city": "Oslo"}, None)
    for call, kind, says in [
        (make_call("get_wether", {}), "unknown_tool", 'There is no tool named "get_wether".'),
        (make_call("get_weather", "{city"), "invalid_arguments", "The arguments are not valid JSON"),
        (make_call("get_weather", "[1]"), "invalid_arguments", "must be a JSON object"),
        (make_call("get_weather", {}), "invalid_arguments", "'city' is a required property"),
        (make_call("get_weather", {"city": 3}), "invalid_arguments", "3 is not of type 'string' (at city)"),
    ]:
        name, args, error = check_arguments(ts, call)
        assert args is None
        err = json.loads(error)["error"]
        assert err["type"] == kind and says in err["message"], err
    assert json.loads(check_arguments(ts, make_call("x", {}))[2])["error"]["tools"] == ["get_weather"]


def scripted(turns):
    """A chat_turn that answers the given turns in order and records the conversations it was asked."""
    asked = []

    def chat_turn(convo, tools, on_text):
        asked.append([dict(m) for m in convo])
        return turns[len(asked) - 1]
    return chat_turn, asked


def test_agentic_loop_runs_tools_and_returns_the_final_answer():
    ts = parse_tool_definitions([WEATHER])
    call = make_call("get_weather", {"city": "Paris"})
    bad = make_call("nope", {})
    chat_turn, asked = scripted([Turn("", [call, bad]), Turn("Sunny in Paris.")])
    ran = []
    r = run_agent(chat_turn, [{"role": "user", "content": "Weather?"}], ts, True,
                  lambda name, args: ran.append((name, args)) or "sunny")
    assert r.text == "Sunny in Paris." and r.tool_calls == [] and r.rounds == 2
    assert ran == [("get_weather", {"city": "Paris"})]  # the unknown tool never runs
    second = asked[1]
    assert second[1] == {"role": "assistant", "content": None, "tool_calls": [call, bad]}
    assert second[2] == {"role": "tool", "tool_call_id": call["id"], "name": "get_weather", "content": "sunny"}
    assert json.loads(second[3]["content"])["error"]["type"] == "unknown_tool"
    assert [m["role"] for m in r.new_messages] == ["assistant", "tool", "tool", "assistant"]


def test_agentic_mode_off_stops_at_the_first_tool_call_without_running_it():
    ts = parse_tool_definitions([WEATHER])
    call = make_call("get_weather", {"city": "Paris"})
    chat_turn, asked = scripted([Turn("", [call])])
    r = run_agent(chat_turn, [{"role": "user", "content": "Weather?"}], ts, False,
                  lambda name, args: pytest.fail("a tool ran with agentic mode Off"))
    assert r.tool_calls == [call] and r.text == "" and len(asked) == 1


def test_a_model_that_never_stops_calling_tools_is_error_14_after_the_bound():
    ts = parse_tool_definitions([WEATHER])
    runs = []

    def forever(convo, tools, on_text):
        return Turn("", [make_call("get_weather", {"city": "Rome"})])
    with pytest.raises(FMScriptError) as ei:
        run_agent(forever, [{"role": "user", "content": "?"}], ts, True, lambda n, a: runs.append(n) or "x")
    assert ei.value.code == E_OUT_OF_RANGE
    assert f"still calling tools after {MAX_ROUNDS} rounds" in ei.value.message
    assert len(runs) == MAX_ROUNDS - 1
