"""``fmscript serve`` on the command line: loopback by default, no remote bind without a key, clear errors."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile

import pytest

from fmscript.server import DEFAULT_PORT
from fmscript.server.commands import is_loopback

from .harness import ServerProcess, free_port, http


def _serve(*args, key=None, timeout=30):
    env = dict(os.environ)
    env.pop("FMSCRIPT_API_KEY", None)
    if key:
        env["FMSCRIPT_API_KEY"] = key
    with tempfile.TemporaryDirectory() as cwd:
        return subprocess.run([sys.executable, "-m", "fmscript", "serve", *args], env=env, capture_output=True,
                              text=True, timeout=timeout, cwd=cwd)


def test_loopback_detection():
    for host in ("127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]"):
        assert is_loopback(host), host
    for host in ("0.0.0.0", "::", "192.168.1.10", "10.0.0.1"):
        assert not is_loopback(host), host
    assert DEFAULT_PORT == 8765


def test_refuses_a_non_loopback_address_without_a_key():
    r = _serve("--host", "0.0.0.0", "--port", str(free_port()))
    assert r.returncode == 2 and "refusing to listen on 0.0.0.0 without an API key" in r.stderr
    assert "Traceback" not in r.stderr


def test_a_busy_port_is_a_usage_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        r = _serve("--port", str(s.getsockname()[1]))
    assert r.returncode == 2 and "cannot listen on 127.0.0.1" in r.stderr and "Traceback" not in r.stderr


def test_remote_bind_without_key_only_when_told(tmp_path):
    srv = ServerProcess(tmp_path / "fmhome", key=None)
    srv.start_args = ["--host", "0.0.0.0", "--allow-remote-without-key"]
    srv.start()
    try:
        assert http("GET", f"http://127.0.0.1:{srv.port}/health").json()["status"] == "ok"
        assert "listening on http://0.0.0.0:" in srv.log() and "no API key" in srv.log()
    finally:
        srv.stop()


@pytest.mark.parametrize("model", ["/etc", "../models/x", "~/x", "a/b/c"])
def test_clients_cannot_name_server_paths(server, model):
    r = server.post("/chat/completions", json_body={"model": model, "messages": [{"role": "user", "content": "q"}]})
    assert r.status_code == 404 and r.json()["error"]["code"] == "model_not_found"
