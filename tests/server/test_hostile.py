"""The server under hostile input (issue 17): every case is a 4xx in OpenAI's error object naming the problem,
never a 500, and an abandoned answer does not hold the generation lock."""
from __future__ import annotations

import json
import socket

import openai
import pytest

from fmscript.server.limits import MAX_HYPERPARAMETERS, MAX_JSON_BODY, context_bound, model_context

from .harness import BASE, QA, http, jsonl, wait_until


def upload(server, name: str, body: bytes):
    with pytest.raises(openai.BadRequestError) as e:
        server.client().files.create(file=(name, body), purpose="fine-tune")
    return e.value


@pytest.mark.parametrize("line,problem", [
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ('{"messages": [{"role": "user", "content": "q"}], "n": ' + "9" * 5000 + "}", "a number has more than 4,300 digits"),
], ids=["nested-100000", "int-5000-digits"])
def test_a_hostile_jsonl_line_is_400_naming_the_line(server, line, problem):
    err = upload(server, "hostile.jsonl", (jsonl(QA[:2]) + line + "\n").encode())
    assert err.status_code == 400 and err.body["code"] == "invalid_file" and err.body["param"] == "file"
    assert "line 3" in err.body["message"] and problem in err.body["message"]
    assert "internal error" not in server.log()


def chat(server, **extra) -> "Response":  # noqa: F821 - harness.Response
    body = {"model": BASE, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2, **extra}
    return http("POST", f"{server.base_url}/chat/completions", headers=server.headers, json_body=body)


@pytest.mark.parametrize("param,value", [("seed", 2**70), ("seed", -1), ("max_tokens", -1), ("max_tokens", 0),
                                         ("max_completion_tokens", -5)])
def test_chat_parameters_out_of_range_are_400(server, param, value):
    r = chat(server, **{param: value})
    assert r.status_code == 400, r.content
    err = r.json()["error"]
    assert err["param"] == param and err["type"] == "invalid_request_error" and "Invalid value" in err["message"]


def test_chat_seed_at_the_top_of_its_range_answers(server):
    assert chat(server, seed=2**64 - 1).status_code == 200
    assert chat(server, seed=0).status_code == 200


def test_max_tokens_is_bounded_by_the_models_context(tmp_path, monkeypatch):
    from fmscript.ai.tinymodel import create_tiny

    monkeypatch.setenv("FMSCRIPT_HOME", str(tmp_path / "home"))
    create_tiny(BASE, home=tmp_path / "home")
    assert model_context(BASE) == 2048  # the tiny model's max_position_embeddings
    assert context_bound(1_000_000, model_context(BASE)) == 2048
    assert context_bound(1_000_000, 2048, prompt_tokens=48) == 2000 and context_bound(7, 2048) == 7
    assert context_bound(5, None) == 5 and model_context("no-such-model") is None


@pytest.mark.parametrize("body", [b"[" * 100_000 + b"]" * 100_000,
                                  b'{"model": "x", "messages": [], "seed": ' + b"9" * 5000 + b"}",
                                  b'{"model": "x", "messages": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}"],
                         ids=["nested", "int-5000-digits", "nested-message"])
def test_a_hostile_json_body_is_400(server, body):
    import urllib.request
    import urllib.error

    req = urllib.request.Request(f"{server.base_url}/chat/completions", data=body, method="POST",
                                 headers={**server.headers, "Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=30)
    assert e.value.code == 400
    assert "error" in json.loads(e.value.read())


def raw_request(server, method: str, path: str, headers: dict, body: bytes = b"", read: bool = True) -> bytes:
    """One HTTP/1.1 request on a plain socket (to send what a well-behaved client would not)."""
    s = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    try:
        head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in {**server.headers, **headers}.items())
        s.sendall(head.encode() + b"\r\n" + body)
        if not read:
            return b""
        out = b""
        while chunk := s.recv(65536):
            out += chunk
        return out
    finally:
        s.close()


def test_an_upload_over_the_limit_is_refused_from_its_length_before_it_is_read(server):
    # The length claims 100 GB and no byte of the body is sent: the answer comes at once, nothing is spooled.
    out = raw_request(server, "POST", "/v1/files", {"Content-Type": "multipart/form-data; boundary=x",
                                                   "Content-Length": str(100 * 2**30)})
    status, _, rest = out.partition(b"\r\n")
    assert b" 413 " in status
    err = json.loads(rest.split(b"\r\n\r\n", 1)[1])["error"]
    assert err["code"] == "file_too_large" and err["param"] == "file"
    out = raw_request(server, "POST", "/v1/chat/completions", {"Content-Type": "application/json",
                                                              "Content-Length": str(MAX_JSON_BODY + 1)})
    assert b" 413 " in out.partition(b"\r\n")[0]


def test_the_length_check_comes_after_the_key_check(server):
    out = raw_request(server, "POST", "/v1/files", {"Authorization": "Bearer wrong", "Content-Length": "99999999999"})
    assert b" 401 " in out.partition(b"\r\n")[0]


def job_body(**hp) -> dict:
    return {"model": BASE, "training_file": "file-none", "hyperparameters": hp}


def test_too_many_or_too_large_hyperparameters_are_400_before_anything_is_stored(drained):
    many = {f"unknown_{i}": i for i in range(20_000)}
    r = http("POST", f"{drained.base_url}/fine_tuning/jobs", headers=drained.headers, json_body=job_body(**many))
    assert r.status_code == 400 and r.json()["error"]["param"] == "hyperparameters"
    assert f"at most {MAX_HYPERPARAMETERS}" in r.json()["error"]["message"]
    big = {"note": "x" * 100_000}
    r = http("POST", f"{drained.base_url}/fine_tuning/jobs", headers=drained.headers, json_body=job_body(**big))
    assert r.status_code == 400 and "too large" in r.json()["error"]["message"]


@pytest.mark.parametrize("name", ["模" * 200, "é" * 100, "x" * 193], ids=["cjk-200", "e-acute-100", "ascii-193"])
def test_fine_tuned_model_name_is_counted_in_bytes(drained, name):
    r = http("POST", f"{drained.base_url}/fine_tuning/jobs", headers=drained.headers,
             json_body=job_body(fine_tuned_model_name=name))
    assert r.status_code == 400, r.content
    msg = r.json()["error"]["message"]
    assert "bytes" in msg and "at most 192" in msg
    assert str(drained.home) not in msg and "/" not in msg.replace("hyperparameters", "")


def test_a_name_of_192_bytes_passes_the_name_check(drained):
    # The request fails on its training file, after the name was accepted.
    r = http("POST", f"{drained.base_url}/fine_tuning/jobs", headers=drained.headers,
             json_body=job_body(fine_tuned_model_name="模" * 64))
    assert r.status_code == 400 and r.json()["error"]["param"] == "training_file"


def test_an_abandoned_answer_is_stopped_and_the_next_chat_is_answered(server):
    body = json.dumps({"model": BASE, "messages": [{"role": "user", "content": "tell me everything"}],
                       "max_tokens": 1_000_000, "temperature": 1.0, "seed": 1}).encode()
    # The client sends its request and goes away without reading the answer.
    raw_request(server, "POST", "/v1/chat/completions", {"Content-Type": "application/json",
                                                        "Content-Length": str(len(body))}, body, read=False)
    wait_until(lambda: "a chat answer was stopped: its client went away" in server.log(), timeout=120,
               what="the abandoned answer to stop")
    assert chat(server).status_code == 200


def test_slow_clients_do_not_hold_up_others(server):
    # Ten clients that send half a request line and then nothing, and one that trickles its body: every other
    # request is answered meanwhile (uvicorn reads each connection without blocking the others).
    idle = []
    try:
        for _ in range(10):
            s = socket.create_connection(("127.0.0.1", server.port), timeout=30)
            s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Le")
            idle.append(s)
        trickle = socket.create_connection(("127.0.0.1", server.port), timeout=30)
        idle.append(trickle)
        head = "".join(f"{k}: {v}\r\n" for k, v in server.headers.items())
        trickle.sendall(f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n{head}Content-Type: application/json\r\n"
                        "Content-Length: 100000\r\n\r\n{\"model\": ".encode())
        assert server.health()["status"] == "ok"
        assert chat(server).status_code == 200
        assert http("GET", f"{server.base_url}/models", headers=server.headers).status_code == 200
    finally:
        for s in idle:
            s.close()
