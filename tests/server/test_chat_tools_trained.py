"""A tiny model taught to call a tool, end to end: trained through ``fmscript serve`` (the official ``openai``
client), then asked with tools by the raw client (OpenAI's ``tool_calls``, whole and as streamed deltas) and by
Generate Response from Model in agentic mode on the Custom, OpenAI and Local providers: the model calls the right
script with the right arguments and returns the final answer it learnt for that script's result."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from fmscript.interpreter import Interpreter

from .harness import BASE, KEY

DATA = Path(__file__).parent / "data" / "tool_dialogues.jsonl"
TOOLS = json.loads(DATA.read_text(encoding="utf-8").splitlines()[0])["tools"]
WEATHER = {"Paris": ("Sunny, 21 degrees", "It is sunny in Paris."), "Oslo": ("Snow, -3 degrees", "It is snowing in Oslo."),
           "Rome": ("Rain, 14 degrees", "It is raining in Rome."), "Cairo": ("Hot, 35 degrees", "It is hot in Cairo.")}
#: What the 2-core machine needs for the model to learn the nine dialogues (prompts hold the tools' block).
TEACH = {"max_steps": 150, "learning_rate": "3e-3", "batch_size": 4, "steps_per_report": 25}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tool_model(server):
    c = server.client()
    f = c.files.create(file=("tool_dialogues.jsonl", DATA.read_bytes(), "application/jsonl"), purpose="fine-tune")
    job = c.fine_tuning.jobs.create(model=BASE, training_file=f.id,
                                    hyperparameters={**TEACH, "fine_tuned_model_name": "tool caller"})
    done = server.wait_job(job.id, timeout=1500)
    assert done["status"] == "succeeded", done
    return done["fine_tuned_model"]


def test_the_server_returns_openais_tool_calls_whole_and_streamed(server, tool_model):
    c = server.client()
    q = [{"role": "user", "content": "What is the weather in Rome?"}]
    r = c.chat.completions.create(model=tool_model, messages=q, tools=TOOLS)
    choice = r.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content is None
    (call,) = choice.message.tool_calls
    assert call.type == "function" and call.id.startswith("call_") and call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Rome"}

    chunks = list(c.chat.completions.create(model=tool_model, messages=q, tools=TOOLS, stream=True))
    deltas = [ch.choices[0].delta for ch in chunks if ch.choices]
    assert not any(d.content for d in deltas)  # no <tool_call> markup leaks into the content
    calls = [tc for d in deltas for tc in (d.tool_calls or [])]
    assert len(calls) == 1 and calls[0].index == 0 and calls[0].function.name == "get_weather"
    assert json.loads(calls[0].function.arguments) == {"city": "Rome"}
    assert [ch.choices[0].finish_reason for ch in chunks if ch.choices][-1] == "tool_calls"

    # The tool's result goes back as a tool message; the model answers from it.
    follow = q + [{"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
                  {"role": "tool", "tool_call_id": call.id, "content": WEATHER["Rome"][0]}]
    final = c.chat.completions.create(model=tool_model, messages=follow, tools=TOOLS)
    assert final.choices[0].finish_reason == "stop" and final.choices[0].message.content == WEATHER["Rome"][1]
    # Without tools offered the model is not asked to call one: the answer is text.
    plain = c.chat.completions.create(model=tool_model, messages=[{"role": "user", "content": "What do bees make?"}],
                                      tools=TOOLS)
    assert plain.choices[0].message.content == "Honey." and plain.choices[0].message.tool_calls is None


def script(account: str, model: str, city: str, mode: str = "On") -> str:
    return f'''
Script "main"
{account}
Generate Response from Model [ Account Name: "acct" ; Model: "{model}" ; User Prompt: "What is the weather in {city}?" ; Agentic mode: {mode} ; Tool Definitions: {json.dumps(json.dumps(TOOLS))} ; Tool Calls from Model: $$calls ; Response: $$answer ; Stream ]
End Script
Script "get_weather"
Set Variable [ $$asked ; Value: $$asked & Get ( ScriptParameter ) ]
Set Variable [ $city ; Value: JSONGetElement ( Get ( ScriptParameter ) ; "city" ) ]
Exit Script [ Text Result: Case ( {" ; ".join(f'$city = "{c}" ; "{r}"' for c, (r, _) in WEATHER.items())} ; "unknown city" ) ]
End Script
'''


@pytest.mark.parametrize("provider", ["Custom", "OpenAI", "Local"])
def test_agentic_generate_response_calls_the_right_script_and_returns_the_final_answer(server, tool_model, provider,
                                                                                       monkeypatch, remote_env):
    monkeypatch.setenv("FMSCRIPT_HOME", str(server.home))  # the Local provider reads the server's tuned model
    if provider == "Local":
        acct = 'Configure AI Account [ Account Name: "acct" ; Model Provider: Local ]'
    else:
        acct = (f'Configure AI Account [ Account Name: "acct" ; Model Provider: {provider} ; '
                f'Endpoint: "{server.base_url}" ; API key: "{KEY}" ]')
    for city in ("Paris", "Cairo"):
        fm = Interpreter(on_dialog=lambda t, m: None)
        fm.run_text(script(acct, tool_model, city))
        g = fm.session.globals
        assert json.loads(str(g["$$asked"])) == {"city": city}, provider
        assert str(g["$$answer"]) == WEATHER[city][1], provider
        assert str(g["$$calls"]) == ""


def test_agentic_mode_off_leaves_the_call_to_the_script(server, tool_model, monkeypatch, remote_env):
    monkeypatch.setenv("FMSCRIPT_HOME", str(server.home))
    fm = Interpreter(on_dialog=lambda t, m: None)
    fm.run_text(script('Configure AI Account [ Account Name: "acct" ; Model Provider: Local ]', tool_model, "Oslo",
                       mode="Off"))
    g = fm.session.globals
    (call,) = json.loads(str(g["$$calls"]))
    assert call["function"]["name"] == "get_weather" and json.loads(call["function"]["arguments"]) == {"city": "Oslo"}
    assert "$$asked" not in g and str(g["$$answer"]) == ""
