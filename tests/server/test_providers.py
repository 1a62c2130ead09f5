"""The Custom and OpenAI providers from scripts, against the real server (and small stub servers for the HTTP
failures the real one never gives: 429, 5xx, a silent peer, a self-signed certificate)."""
from __future__ import annotations

import http.server
import json
import socket
import ssl
import threading
from pathlib import Path

import openai
import pytest

from fmscript.ai.remote import RemoteProvider
from fmscript.errors import FMScriptError
from fmscript.interpreter import Interpreter

from .harness import BASE, KEY, LEARN, QA, jsonl

DATA = Path(__file__).parent / "data"


def run(script: str) -> tuple[str, Interpreter]:
    fm = Interpreter(on_dialog=lambda title, message: None)
    return fm.run_text(script), fm


def account(endpoint: str, key: str = KEY, provider: str = "Custom", extra: str = "") -> str:
    return (f'Configure AI Account [ Account Name: "acct" ; Model Provider: {provider} ; Endpoint: "{endpoint}" ; '
            f'API key: "{key}"{extra} ]\n')


@pytest.mark.slow
def test_custom_provider_script_trains_waits_and_chats(drained, tmp_path, remote_env):
    server = drained
    path = tmp_path / "qa.jsonl"
    path.write_text(jsonl(), encoding="utf-8")
    params = json.dumps({**{k: str(v) for k, v in LEARN.items()}, "fine_tuned_model_name": "custom qa"})
    out, fm = run(account(server.base_url + "/") + f'''
Set Variable [ $file ; Value: "filelinux:{path}" ]
Fine-Tune Model [ Account Name: "acct" ; Base Model: "{BASE}" ; Training Data: File ; "$file" ; Response Target: $r ; Fine-Tune Parameters: {json.dumps(params)} ]
Set Variable [ $$r ; Value: $r ]
Wait for Fine-Tune Job [ Account Name: "acct" ; Job ID: JSONGetElement ( $r ; "result.id" ) ; Timeout: 150 ; Response Target: $w ]
Set Variable [ $$w ; Value: $w ]
Generate Response from Model [ Account Name: "acct" ; Model: JSONGetElement ( $r ; "result.fine_tuned_model" ) ; User Prompt: "What do bees make?" ; Response: $answer ]
Set Variable [ $$status ; Value: FineTuneJobStatus ( "acct" ; JSONGetElement ( $r ; "result.id" ) ) ]
Exit Script [ Text Result: $answer ]
''')
    g = fm.session.globals
    r = json.loads(str(g["$$r"]))["result"]
    assert set(r) == {"object", "id", "file_id", "model", "created_at", "fine_tuned_model", "status", "training_file",
                      "tags"}
    assert r["id"].startswith("fm-ftjob-") and r["file_id"].startswith("fm-ft-train-")
    assert r["created_at"] == int(r["id"].rsplit("-", 1)[1])  # milliseconds, as the AI Model Server gives them
    assert r["fine_tuned_model"] == "fm-mlx-custom-qa" and r["training_file"] == "qa.jsonl"
    assert r["model"] == BASE and r["status"] in ("queued", "running") and r["tags"] == ["fine-tune"]
    w = json.loads(str(g["$$w"]))["result"]
    assert w["status"] == "succeeded" and w["id"] == r["id"] and w["training_file"] == "qa.jsonl"
    assert json.loads(str(g["$$status"]))["result"]["status"] == "succeeded"
    assert out == "Honey."


def test_custom_provider_shows_the_servers_warnings(drained, tmp_path, remote_env, capsys):
    path = tmp_path / "qa.jsonl"
    path.write_text(jsonl(), encoding="utf-8")
    run(account(drained.base_url) + f'''Fine-Tune Model [ Account Name: "acct" ; Base Model: "{BASE}" ; Training Data: File ; "{path}" ; Response Target: $r ; Fine-Tune Parameters: "{{\\"max_steps\\": 1, \\"colour\\": \\"blue\\"}}" ]''')
    assert "Unknown fine-tune parameter 'colour' is ignored" in capsys.readouterr().err


def test_custom_provider_errors_are_filemaker_errors_without_the_key(server, remote_env, monkeypatch):
    secret = "sk-this-is-a-secret-key-0123456789"
    # Error capture on: Get ( LastError ) and the detail; the script goes on.
    out, _ = run(account(server.base_url, key=secret) + '''
Set Error Capture [ On ]
Generate Response from Model [ Account Name: "acct" ; Model: "fmscript/tiny-chat" ; User Prompt: "q" ; Response: $a ]
Exit Script [ Text Result: Get ( LastError ) & "|" & Get ( LastErrorDetail ) ]
''')
    code, detail = out.split("|", 1)
    assert code == "1711" and "HTTP 401" in detail and "API key was refused" in detail and secret not in detail
    # Error capture off: the script stops with the message (an FMScriptError, never a traceback).
    with pytest.raises(FMScriptError) as e:
        run(account(server.base_url, key=secret) +
            'Generate Response from Model [ Account Name: "acct" ; Model: "m" ; User Prompt: "q" ; Response: $a ]')
    assert e.value.code == 1711 and "401" in e.value.message and secret not in e.value.render()
    # A model the server does not have: 404.
    with pytest.raises(FMScriptError, match="HTTP 404 .*not found.*no-such"):
        run(account(server.base_url) +
            'Generate Response from Model [ Account Name: "acct" ; Model: "no-such" ; User Prompt: "q" ; Response: $a ]')
    # A bad training file is refused by the server, naming the line.
    with pytest.raises(FMScriptError, match="HTTP 400.*line 2") as e:
        bad = Path(server.home).parent / "bad.jsonl"
        bad.write_text(jsonl(QA[:1]) + "not json\n")
        run(account(server.base_url) + f'Fine-Tune Model [ Account Name: "acct" ; Base Model: "{BASE}" ; '
            f'Training Data: File ; "{bad}" ; Response Target: $r ]')
    # Nobody listening: 1631.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/v1/"
    with pytest.raises(FMScriptError, match="cannot reach") as e:
        run(account(dead) + 'Generate Response from Model [ Account Name: "acct" ; Model: "m" ; User Prompt: "q" ; '
                            'Response: $a ]')
    assert e.value.code == 1631
    # A peer that accepts and never answers: 1632 after FMSCRIPT_AI_TIMEOUT.
    monkeypatch.setenv("FMSCRIPT_AI_TIMEOUT", "0.5")
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(5)
        with pytest.raises(FMScriptError, match="did not answer in time") as e:
            run(account(f"http://127.0.0.1:{silent.getsockname()[1]}/v1") +
                'Generate Response from Model [ Account Name: "acct" ; Model: "m" ; User Prompt: "q" ; Response: $a ]')
    assert e.value.code == 1632


class _Stub(http.server.BaseHTTPRequestHandler):
    """Answers every request with the status in its path's first part (/429/v1/... → 429), OpenAI-style."""

    def _answer(self):
        status = int(self.path.strip("/").split("/")[0])
        body = json.dumps({"error": {"message": f"stub says {status}", "type": "x", "param": None,
                                     "code": None}}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *a):
        pass


@pytest.fixture
def stub():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Stub)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv
    srv.shutdown()


@pytest.fixture
def tls_stub():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Stub)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(DATA / "selfsigned.crt", DATA / "selfsigned.key")
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv
    srv.shutdown()


def test_rate_limits_and_server_errors_read_clearly(stub, remote_env):
    port = stub.server_address[1]
    for status, words in ((429, "rate limit or quota exceeded"), (500, "server error"), (503, "service unavailable")):
        out, _ = run(account(f"http://127.0.0.1:{port}/{status}/v1/") + '''
Set Error Capture [ On ]
Generate Response from Model [ Account Name: "acct" ; Model: "m" ; User Prompt: "q" ; Response: $a ]
Exit Script [ Text Result: Get ( LastError ) & "|" & Get ( LastErrorDetail ) ]
''')
        assert out == f"1711|Generate Response from Model: HTTP {status} from 127.0.0.1:{port} ({words}): " \
                      f"stub says {status}"


def test_verify_ssl_certificates_is_honoured(tls_stub, remote_env, capsys):
    endpoint = f"https://127.0.0.1:{tls_stub.server_address[1]}/429/v1/"
    ask = '''
Set Error Capture [ On ]
Generate Response from Model [ Account Name: "acct" ; Model: "m" ; User Prompt: "q" ; Response: $a ]
Exit Script [ Text Result: Get ( LastError ) & "|" & Get ( LastErrorDetail ) ]
'''
    # With the flag: the self-signed certificate is refused.
    out, _ = run(account(endpoint, extra=" ; Verify SSL Certificates") + ask)
    assert out.startswith("1631|") and "certificate could not be verified" in out
    # Without it: no verification (the request reaches the stub, which answers 429), and a warning on stderr.
    out, _ = run(account(endpoint) + ask)
    assert out.startswith("1711|") and "HTTP 429" in out
    assert "without Verify SSL Certificates" in capsys.readouterr().err


def test_openai_provider_request_shapes(drained, remote_env, monkeypatch, tmp_path, capsys):
    """The OpenAI provider, pointed at the test server with OPENAI_BASE_URL, sends what OpenAI documents:
    multipart upload with purpose fine-tune; a job with method.supervised.hyperparameters, suffix and seed; a chat
    completion with model and messages. Its response target is OpenAI's job object."""
    server = drained
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    sent = []

    def recording_client(self):
        def hook(request):
            sent.append((request.method, request.url.path, request.headers.get("content-type", ""),
                         request.read()))
        return openai.DefaultHttpxClient(verify=True, event_hooks={"request": [hook]})

    monkeypatch.setattr(RemoteProvider, "http_client", recording_client)
    path = tmp_path / "train.jsonl"
    path.write_text(jsonl(), encoding="utf-8")
    params = {"n_epochs": "2", "batch_size": 4, "learning_rate_multiplier": "0.5", "fine_tuned_model_name": "oa-shapes",
              "seed": 3, "max_steps": 5}
    _, fm = run(f'''Configure AI Account [ Account Name: "oa" ; Model Provider: OpenAI ; API key: "{KEY}" ]
Fine-Tune Model [ Account Name: "oa" ; Base Model: "{BASE}" ; Training Data: File ; "{path}" ; Response Target: $$r ; Fine-Tune Parameters: {json.dumps(json.dumps(params))} ]
Set Variable [ $$status ; Value: FineTuneJobStatus ( "oa" ; JSONGetElement ( $$r ; "id" ) ) ]
Generate Response from Model [ Account Name: "oa" ; Model: "{BASE}" ; User Prompt: "Hello" ; Parameters: "{{\\"max_tokens\\": 4, \\"temperature\\": 0}}" ; Response: $$a ]
''')
    assert "'max_steps' has no OpenAI equivalent" in capsys.readouterr().err
    (up_m, up_path, up_type, up_body), (job_m, job_path, job_type, job_body) = sent[:2]
    assert (up_m, up_path) == ("POST", "/v1/files") and up_type.startswith("multipart/form-data; boundary=")
    assert b'name="purpose"\r\n\r\nfine-tune' in up_body and b'filename="train.jsonl"' in up_body
    assert jsonl().encode() in up_body
    assert (job_m, job_path, job_type) == ("POST", "/v1/fine_tuning/jobs", "application/json")
    fid = json.loads(job_body)["training_file"]
    assert fid.startswith("fm-ft-train-")
    assert json.loads(job_body) == {"model": BASE, "training_file": fid, "suffix": "oa-shapes", "seed": 3,
                                    "method": {"type": "supervised", "supervised": {"hyperparameters": {
                                        "n_epochs": 2, "batch_size": 4, "learning_rate_multiplier": 0.5}}}}
    status_m, status_path, _, _ = sent[2]
    chat_m, chat_path, _, chat_body = sent[-1]
    assert (chat_m, chat_path) == ("POST", "/v1/chat/completions")
    assert json.loads(chat_body) == {"model": BASE, "messages": [{"role": "user", "content": "Hello"}],
                                     "max_tokens": 4, "temperature": 0.0}
    assert status_m == "GET" and status_path.startswith("/v1/fine_tuning/jobs/fm-ftjob-")
    # OpenAI's job object, unchanged: seconds, file id, no {"result": …} wrapper.
    job = json.loads(str(fm.session.globals["$$r"]))
    assert job["object"] == "fine_tuning.job" and "result" not in job and job["training_file"] == fid
    assert 1e9 < job["created_at"] < 1e11 and job["fine_tuned_model"] is None
    assert job["method"]["supervised"]["hyperparameters"]["n_epochs"] == 2
    assert json.loads(str(fm.session.globals["$$status"]))["id"] == job["id"]
    assert isinstance(str(fm.session.globals["$$a"]), str)


def test_endpoint_forms_and_openai_parameter_mapping():
    from fmscript.ai.accounts import Account
    from fmscript.ai.remote import make_provider, normalize_endpoint

    assert normalize_endpoint("https://myserver.example.com/llm/v1/") == "https://myserver.example.com/llm/v1/"
    assert normalize_endpoint("http://h:8765") == "http://h:8765/v1/"
    assert normalize_endpoint("http://h:8765/v1/chat/completions") == "http://h:8765/v1/"
    warnings = []
    p = make_provider("OpenAI", Account("a", "OpenAI", "k"))
    args = p.openai_job_args({"max_steps": "1500", "learning_rate": "1e-4", "batch_size": "2", "n_epochs": "auto",
                              "fine_tuned_model_name": "product-expert-v2", "lora_layers": 6}, warnings.append)
    assert args == {"suffix": "product-expert-v2", "method": {"type": "supervised", "supervised": {
        "hyperparameters": {"batch_size": 2, "n_epochs": "auto"}}}}
    assert [w.split("'")[1] for w in warnings] == ["max_steps", "learning_rate", "lora_layers"]
    assert "k" not in repr(p) and make_provider("Custom", Account("c", "Custom", "k", "http://x/v1")).spec_shape
    with pytest.raises(FMScriptError):
        make_provider("Anthropic", Account("a", "Anthropic", "k"))


class _ModelServerStub(http.server.BaseHTTPRequestHandler):
    """An AI Model Server-like endpoint that answers job requests in the spec's {"result": …} shape itself."""

    RESULT = {"result": {"object": "fine_tuning.job", "id": "fm-ftjob-1753297022103",
                         "file_id": "fm-ft-train-1753297022070", "model": "google/codegemma-7b-it",
                         "created_at": 1753297022103, "fine_tuned_model": "fm-mlx-my-fine-tuned-model-name",
                         "status": "queued", "training_file": "my-training-data.jsonl", "tags": ["fine-tune"]}}

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.endswith("/files"):
            body = {"id": "fm-ft-train-1753297022070", "object": "file", "bytes": 10, "created_at": 1753297022,
                    "filename": "my-training-data.jsonl", "purpose": "fine-tune", "status": "processed"}
        else:
            body = self.RESULT
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *a):
        pass


def test_a_server_answering_in_the_spec_shape_is_passed_through(tmp_path, remote_env):
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _ModelServerStub)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        path = tmp_path / "my-training-data.jsonl"
        path.write_text(jsonl(), encoding="utf-8")
        out, _ = run(account(f"http://127.0.0.1:{srv.server_address[1]}/llm/v1/") + f'''
Fine-Tune Model [ Account Name: "acct" ; Base Model: "google/codegemma-7b-it" ; Training Data: File ; "{path}" ; Response Target: $r ; Fine-Tune Parameters: "{{\\"fine_tuned_model_name\\": \\"my-fine-tuned-model-name\\"}}" ]
Exit Script [ Text Result: $r ]
''')
    finally:
        srv.shutdown()
    assert json.loads(out) == _ModelServerStub.RESULT
