"""Generate Response from Model with tools through the OpenAI provider (the official ``openai`` client) against a
loopback server speaking OpenAI's chat-completion shapes, whole and streamed, with scripted answers: agentic mode
On and Off, scripts as tools, streaming into the Response target, message history, the rounds bound, bad input,
and Set AI Call Logging."""
from __future__ import annotations

import http.server
import json
import os
import threading

import pytest

from fmscript.interpreter import Interpreter

KEY = "sk-test-0123456789abcdefghij"
WEATHER = [{"name": "get_weather", "description": "The weather of a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]


class OpenAIShapes(http.server.ThreadingHTTPServer):
    """Answers POST /v1/chat/completions with the next scripted turn ({"content"} or {"tool_calls"}); keeps every
    request body. Past the script it repeats the last turn."""

    daemon_threads = True

    def __init__(self, turns):
        super().__init__(("127.0.0.1", 0), Handler)
        self.turns = list(turns)
        self.requests: list[dict] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        srv = self.server
        srv.requests.append(body)
        turn = srv.turns[min(len(srv.requests), len(srv.turns)) - 1]
        calls = [{"id": f"call_{len(srv.requests)}_{i}", "type": "function",
                  "function": {"name": n, "arguments": json.dumps(a) if not isinstance(a, str) else a}}
                 for i, (n, a) in enumerate(turn.get("tool_calls", []))]
        finish = "tool_calls" if calls else "stop"
        usage = {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}
        base = {"id": "chatcmpl-1", "created": 1, "model": body["model"]}
        if not body.get("stream"):
            msg = {"role": "assistant", "content": turn.get("content")}
            if calls:
                msg["tool_calls"] = calls
            out = json.dumps({**base, "object": "chat.completion", "usage": usage,
                              "choices": [{"index": 0, "message": msg, "finish_reason": finish}]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()

        def send(delta, finish_reason=None, with_usage=False):
            d = {**base, "object": "chat.completion.chunk",
                 "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]}
            if with_usage:
                d = {**d, "choices": [], "usage": usage}
            self.wfile.write(f"data: {json.dumps(d)}\n\n".encode())
            self.wfile.flush()
        send({"role": "assistant", "content": ""})
        for word in (turn.get("content") or "").split(" "):
            if word:
                send({"content": word + " "})
        for i, c in enumerate(calls):  # a call in two deltas, as OpenAI streams them
            send({"tool_calls": [{"index": i, "id": c["id"], "type": "function",
                                  "function": {"name": c["function"]["name"], "arguments": ""}}]})
            send({"tool_calls": [{"index": i, "function": {"arguments": c["function"]["arguments"]}}]})
        send({}, finish)
        send({}, with_usage=True)
        self.wfile.write(b"data: [DONE]\n\n")


@pytest.fixture
def shapes():
    servers = []

    def start(*turns):
        srv = OpenAIShapes(turns)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
        return srv
    yield start
    for s in servers:
        s.shutdown()
        s.server_close()


@pytest.fixture(autouse=True)
def fast(monkeypatch, tmp_path):
    monkeypatch.setenv("FMSCRIPT_AI_MAX_RETRIES", "0")
    monkeypatch.setenv("FMSCRIPT_DOCUMENTS", str(tmp_path / "Documents"))
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


def script(srv, generate: str, extra: str = "", tools=WEATHER) -> str:
    defs = json.dumps(json.dumps(tools))
    return f'''
Script "main"
Configure AI Account [ Account Name: "acct" ; Model Provider: OpenAI ; Endpoint: "{srv.url}" ; API key: "{KEY}" ]
Set Variable [ $defs ; Value: {defs} ]
{generate}
{extra}
End Script
Script "get_weather"
Set Variable [ $$asked ; Value: $$asked & Get ( ScriptParameter ) & ¶ ]
Exit Script [ Text Result: "Sunny, 21 degrees in " & JSONGetElement ( Get ( ScriptParameter ) ; "city" ) ]
End Script
'''


def run(text: str, **kw):
    fm = Interpreter(on_dialog=lambda t, m: None, **kw)
    return fm.run_text(text), fm


GEN = ('Generate Response from Model [ Account Name: "acct" ; Model: "gpt-4.1-mini" ; User Prompt: "Weather in Paris?" ; '
       'Tool Definitions: $defs ; Response: $$answer ; Save Message History To: $$history ; {more} ]')


@pytest.mark.parametrize("stream", ["", "Stream ;"])
def test_agentic_mode_on_runs_the_script_of_the_tool_and_returns_the_final_answer(shapes, stream):
    srv = shapes({"tool_calls": [("get_weather", {"city": "Paris"})]}, {"content": "It is sunny in Paris."})
    _, fm = run(script(srv, GEN.format(more=stream + " Agentic mode: On ; Tool Calls from Model: $$calls")))
    g = fm.session.globals
    assert str(g["$$answer"]).strip() == "It is sunny in Paris."
    assert json.loads(str(g["$$asked"]).strip()) == {"city": "Paris"}  # the script got the arguments
    assert str(g["$$calls"]) == ""
    first, second = srv.requests
    assert first["tools"] == [{"type": "function", "function": WEATHER[0]}]
    assert bool(first.get("stream")) == bool(stream)
    tool_msg = second["messages"][-1]
    assert tool_msg["role"] == "tool" and tool_msg["content"] == "Sunny, 21 degrees in Paris"
    assert second["messages"][-2]["tool_calls"][0]["function"]["name"] == "get_weather"
    assert tool_msg["tool_call_id"] == second["messages"][-2]["tool_calls"][0]["id"]
    history = json.loads(str(g["$$history"]))
    assert [m["role"] for m in history] == ["user", "assistant", "tool", "assistant"]


def test_agentic_mode_off_stops_at_the_tool_call_and_gives_it_to_the_script(shapes):
    srv = shapes({"tool_calls": [("get_weather", {"city": "Oslo"})]})
    _, fm = run(script(srv, 'Set Variable [ $$answer ; Value: "old" ]\n' + GEN.format(
        more="Agentic mode: Off ; Tool Calls from Model: $$calls")))
    g = fm.session.globals
    calls = json.loads(str(g["$$calls"]))
    assert calls[0]["function"]["name"] == "get_weather" and json.loads(calls[0]["function"]["arguments"]) == {
        "city": "Oslo"}
    assert "$$asked" not in g  # not executed
    assert str(g["$$answer"]) == "" and len(srv.requests) == 1


def test_streaming_fills_the_response_piece_by_piece_and_the_trace_sees_it(shapes):
    srv = shapes({"content": "one two three"})
    seen, events = [], []

    def on_step(e):
        events.append(e)
        if "stream" in e:
            seen.append(str(fm.session.globals.get("$$answer")))
    fm = Interpreter(on_dialog=lambda t, m: None, on_step=on_step)
    fm.run_text(script(srv, GEN.format(more="Stream")))
    assert seen == ["one ", "one two ", "one two three "]
    assert [e["stream"] for e in events if "stream" in e] == ["one ", "two ", "three "]
    assert all(e["step"] == "Generate Response from Model" for e in events if "stream" in e)


def test_message_history_count_keeps_the_latest_messages_and_messages_carry_on(shapes):
    srv = shapes({"content": "Second answer."})
    prior = json.dumps([{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}])
    _, fm = run(script(srv, f'Set Variable [ $prior ; Value: {json.dumps(prior)} ]\n' + GEN.format(
        more='Messages: $prior ; Message History Count: 3 ; Instructions: "Be brief."')))
    history = json.loads(str(fm.session.globals["$$history"]))
    assert history == [{"role": "assistant", "content": "Hello!"}, {"role": "user", "content": "Weather in Paris?"},
                       {"role": "assistant", "content": "Second answer."}]
    sent = srv.requests[0]["messages"]
    assert sent[0] == {"role": "system", "content": "Be brief."} and len(sent) == 4


def test_unknown_tools_and_bad_arguments_go_back_to_the_model(shapes):
    srv = shapes({"tool_calls": [("get_wether", {"city": "Paris"}), ("get_weather", {"town": "Paris"})]},
                 {"content": "Sorry."})
    _, fm = run(script(srv, GEN.format(more="Agentic mode: On")))
    errors = [json.loads(m["content"])["error"] for m in srv.requests[1]["messages"] if m["role"] == "tool"]
    assert [e["type"] for e in errors] == ["unknown_tool", "invalid_arguments"]
    assert "'city' is a required property" in errors[1]["message"]
    assert str(fm.session.globals["$$answer"]) == "Sorry." and "$$asked" not in fm.session.globals


def test_a_tool_call_loop_that_never_ends_is_error_14_and_writes_nothing(shapes):
    srv = shapes({"content": "Checking.", "tool_calls": [("get_weather", {"city": "Rome"})]})
    out, fm = run(script(srv, 'Set Error Capture [ On ]\nSet Variable [ $$answer ; Value: "untouched" ]\n'
                         + GEN.format(more="Agentic mode: On ; Stream"),
                         'Exit Script [ Text Result: Get ( LastError ) & "|" & Get ( LastErrorDetail ) ]'))
    code, detail = out.split("|", 1)
    assert code == "14" and "still calling tools after 10 rounds" in detail
    assert len(srv.requests) == 10
    g = fm.session.globals
    assert str(g["$$answer"]) == "" and "$$history" not in g  # the streamed "Checking." is not left behind


@pytest.mark.parametrize("defs, says", [
    ('"[{\\"name\\": "', "Tool Definitions: not valid JSON"),
    ('"[{\\"name\\": \\"a b/c\\"}]"', "Tool Definitions: tool 1 needs a"),
])
def test_malformed_tool_definitions_are_refused_before_the_model_is_asked(shapes, defs, says):
    srv = shapes({"content": "never"})
    out, fm = run(script(srv, 'Set Error Capture [ On ]\n' + GEN.format(more="Agentic mode: On").replace(
        "$defs", defs), 'Exit Script [ Text Result: Get ( LastError ) & "|" & Get ( LastErrorDetail ) ]'))
    code, detail = out.split("|", 1)
    assert code == "1630" and says in detail
    assert srv.requests == [] and "$$answer" not in fm.session.globals


def test_ai_call_logging_writes_every_call_with_the_key_masked(shapes, tmp_path):
    srv = shapes({"tool_calls": [("get_weather", {"city": "Paris"})]}, {"content": "Sunny."})
    gen = GEN.format(more="Agentic mode: On").replace('"Weather in Paris?"', f'"Weather in Paris? {KEY}"')
    run(script(srv, 'Set AI Call Logging [ On ; Verbose: On ]\n' + gen + '\nSet AI Call Logging [ Off ]\n' + gen))
    log = tmp_path / "Documents" / "LLMDebug.log"
    assert oct(os.stat(log).st_mode & 0o777) == "0o600"
    text = log.read_text(encoding="utf-8")
    assert KEY not in text and "••••ghij" in text
    entries = [json.loads(line) for line in text.splitlines()]
    assert len(entries) == 2 and len(srv.requests) == 3  # the call after Off is not logged
    first, second = entries
    assert first["provider"] == "OpenAI" and first["model"] == "gpt-4.1-mini" and first["account"] == "acct"
    assert first["prompt"].startswith("Weather in Paris?") and first["tokens"] == {"prompt_tokens": 11,
                                                                                 "completion_tokens": 7}
    assert first["details"]["tool_calls"][0]["function"]["name"] == "get_weather"
    assert second["response"] == "Sunny." and second["duration_ms"] >= 0


def test_call_log_without_verbose_has_no_details_and_truncates(shapes, tmp_path):
    srv = shapes({"content": "x" * 2000})
    run(script(srv, 'Set AI Call Logging [ On ; Filename: "calls.log" ; Truncate Messages: On ]\n'
               + GEN.format(more="Agentic mode: Off")))
    e = json.loads((tmp_path / "Documents" / "calls.log").read_text(encoding="utf-8"))
    assert "details" not in e and len(e["response"]) < 600 and "characters left out" in e["response"]


def test_the_step_in_zh_hans(shapes):
    srv = shapes({"tool_calls": [("get_weather", {"city": "北京"})]}, {"content": "北京晴。"})
    text = script(srv, '从模型生成回复 [ 账户名称: "acct" ; 模型: "gpt-4.1-mini" ; 用户提示: "北京天气？" ; 代理模式: 打开 ; '
                       '工具定义: $defs ; 来自模型的工具调用: $$calls ; 回复: $$answer ; 流 ]')
    _, fm = run(text)
    g = fm.session.globals
    assert str(g["$$answer"]).strip() == "北京晴。" and json.loads(str(g["$$asked"]).strip()) == {"city": "北京"}
    assert srv.requests[0]["stream"] is True and str(g["$$calls"]) == ""


def test_a_failing_tool_script_tells_the_model_and_warns(shapes, capsys):
    srv = shapes({"tool_calls": [("get_weather", {"city": "Paris"})]}, {"content": "Could not check."})
    text = script(srv, GEN.format(more="Agentic mode: On")).replace(
        'Set Variable [ $$asked', 'Go to Layout [ "No such layout" ]\nSet Variable [ $$asked')
    _, fm = run(text)
    err = json.loads(srv.requests[1]["messages"][-1]["content"])["error"]
    assert err["type"] == "script_error" and err["code"] == 105
    assert str(fm.session.globals["$$answer"]) == "Could not check."
    assert "the tool script “get_weather” failed" in capsys.readouterr().err


def test_a_provider_without_tool_calling_says_so_with_error_21():
    class Echo:
        def __init__(self, account):
            pass

        def chat(self, model, messages, params):
            return "echo"
    fm = Interpreter(on_dialog=lambda t, m: None)
    fm.register_provider("Echo", Echo)
    out = fm.run_text(f'''Set Error Capture [ On ]
Configure AI Account [ Account Name: "e" ; Model Provider: Echo ]
Generate Response from Model [ Account Name: "e" ; Model: "m" ; User Prompt: "hi" ; Tool Definitions: {json.dumps(json.dumps(WEATHER))} ; Response: $r ]
Set Variable [ $code ; Value: Get ( LastError ) ]
Generate Response from Model [ Account Name: "e" ; Model: "m" ; User Prompt: "hi" ; Stream ; Response: $r ]
Exit Script [ Text Result: $code & "|" & $r ]''')
    assert out == "21|echo"
