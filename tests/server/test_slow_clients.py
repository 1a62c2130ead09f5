"""Slow clients and bodies sent without a length (issue 17), on a server of their own with a read deadline of one
second (``FMSCRIPT_SERVER_READ_TIMEOUT``) and an upload limit of 1 MiB: a request that trickles in gets 408 and
its connection closed; a chunked body over its limit gets 413 as soon as the count passes the limit, before the
body ends, with nothing of it left on disk."""
from __future__ import annotations

import http.client
import json
import os
import select
import socket
import time

import pytest

from fmscript.server.limits import MAX_JSON_BODY, MULTIPART_SLACK

from .harness import BASE, ServerProcess, make_models

UPLOAD_LIMIT = 1 << 20


@pytest.fixture(scope="module")
def strict(tmp_path_factory):
    home = tmp_path_factory.mktemp("strict") / "fmhome"
    tmp = home.parent / "tmp"
    tmp.mkdir()
    make_models(home)
    srv = ServerProcess(home, extra_env={"FMSCRIPT_SERVER_READ_TIMEOUT": "1", "TMPDIR": str(tmp),
                                         "FMSCRIPT_SERVER_MAX_UPLOAD": str(UPLOAD_LIMIT)}).start()
    srv.tmp = tmp
    try:
        yield srv
    finally:
        srv.stop()


def closed_by_server(s: socket.socket) -> bool:
    return bool(select.select([s], [], [], 0)[0])


def read_all(s: socket.socket) -> bytes:
    out = b""
    while chunk := s.recv(65536):
        out += chunk
    return out


def trickle(server, head: bytes, byte: bytes, most: int) -> tuple[int, bytes]:
    """Send ``head``, then ``byte`` at a time until the server answers or ``most`` were sent: (sent, answer)."""
    s = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    try:
        s.sendall(head)
        sent = 0
        while sent < most and not closed_by_server(s):
            s.sendall(byte)
            sent += 1
            time.sleep(0.05)
        return sent, read_all(s)
    finally:
        s.close()


def timed_out(answer: bytes, what: str) -> None:
    status, _, rest = answer.partition(b"\r\n")
    assert status.startswith(b"HTTP/1.1 408"), answer[:200]
    err = json.loads(rest.split(b"\r\n\r\n", 1)[1])["error"]
    assert err["code"] == "request_timeout" and f"request {what} did not arrive in time" in err["message"]


def test_headers_sent_a_byte_at_a_time_get_408(strict):
    # 400 bytes at one per 50 ms would take 20 s; the headers may take 2 s at most here (twice the deadline).
    sent, answer = trickle(strict, b"GET /health HTTP/1.1\r\nHost: x\r\nX-Pad: ", b"a", 400)
    assert sent < 400
    timed_out(answer, "headers")
    assert "its request headers did not arrive in time" in strict.log()


def test_a_connection_that_sends_nothing_is_closed(strict):
    with socket.create_connection(("127.0.0.1", strict.port), timeout=30) as s:
        timed_out(read_all(s), "headers")


def test_a_body_sent_a_byte_at_a_time_gets_408(strict):
    head = "".join(f"{k}: {v}\r\n" for k, v in strict.headers.items())
    sent, answer = trickle(strict, f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n{head}Content-Type: "
                                   "application/json\r\nContent-Length: 100000\r\n\r\n".encode(), b" ", 2000)
    assert sent < 2000
    timed_out(answer, "body")
    assert "its request body did not arrive in time" in strict.log()
    assert "Traceback" not in strict.log() and "internal error" not in strict.log()


def test_a_kept_alive_connection_may_wait_between_requests(strict):
    # The deadline runs while a request arrives, not while the connection waits for the next one (uvicorn's
    # keep-alive of 5 s does that), nor while the server works on an answer.
    conn = http.client.HTTPConnection("127.0.0.1", strict.port, timeout=60)
    try:
        body = json.dumps({"model": BASE, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 300})
        for _ in range(2):
            conn.request("POST", "/v1/chat/completions", body=body,
                         headers={**strict.headers, "Content-Type": "application/json"})
            r = conn.getresponse()
            assert r.status == 200, r.read()
            r.read()
            time.sleep(1.5)
    finally:
        conn.close()


def test_a_big_upload_at_full_speed_is_not_cut(strict):
    # Nearly the whole upload limit in one body, read while Starlette spools it: the body deadline grows with it.
    from .harness import QA, jsonl

    body = (jsonl(QA) * 2000)[:UPLOAD_LIMIT - 4096]
    body = body[:body.rindex("\n") + 1].encode()
    f = strict.client().files.create(file=("big.jsonl", body), purpose="fine-tune")
    assert f.bytes == len(body)
    strict.client().files.delete(f.id)


def leftovers(server) -> list[str]:
    """Files of an upload left behind: in the server's temporary folder, open in the server, or in the home."""
    fds = []
    for fd in os.listdir(f"/proc/{server.proc.pid}/fd"):
        try:
            target = os.readlink(f"/proc/{server.proc.pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith(str(server.tmp)):
            fds.append(target)
    return fds + os.listdir(server.tmp) + [p.name for p in (server.home / "files").glob(".upload-*")]


def chunked_over_the_limit(server, path: str, head: str, first: bytes, limit: int) -> bytes:
    """Send a chunked body a little past ``limit`` and stop without ending it; the server's answer."""
    s = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    try:
        auth = "".join(f"{k}: {v}\r\n" for k, v in server.headers.items())
        s.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\n{auth}{head}Transfer-Encoding: chunked\r\n\r\n".encode())
        s.sendall(b"%x\r\n%s\r\n" % (len(first), first))
        sent = len(first)
        while sent <= limit:
            # Up to the limit exactly, then one byte past it, and no more: the server has read every byte sent
            # when it answers, so its close is not a reset that would drop the answer.
            n = min(64 << 10, limit - sent) or 1
            s.sendall(b"%x\r\n%s\r\n" % (n, b"x" * n))
            sent += n
        # No last chunk: a server that waited for the end of the body would never answer.
        return read_all(s)
    finally:
        s.close()


def too_large(answer: bytes, code: str) -> dict:
    status, _, rest = answer.partition(b"\r\n")
    assert status.startswith(b"HTTP/1.1 413"), answer[:300]
    err = json.loads(rest.split(b"\r\n\r\n", 1)[1])["error"]
    assert err["code"] == code and "sent without a length" in err["message"]
    return err


def test_a_chunked_upload_over_the_limit_is_refused_before_it_ends_and_nothing_is_kept(strict):
    before = leftovers(strict)  # (mlx keeps a folder of its own there)
    assert not [f for f in before if "deleted" in f or f.startswith(".upload-")]
    part = (b'--b\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nfine-tune\r\n'
            b'--b\r\nContent-Disposition: form-data; name="file"; filename="big.jsonl"\r\n'
            b"Content-Type: application/octet-stream\r\n\r\n")
    answer = chunked_over_the_limit(strict, "/v1/files", "Content-Type: multipart/form-data; boundary=b\r\n", part,
                                    UPLOAD_LIMIT + MULTIPART_SLACK)
    err = too_large(answer, "file_too_large")
    assert err["param"] == "file" and f"upload limit of {UPLOAD_LIMIT} bytes" in err["message"]
    assert leftovers(strict) == before  # the part Starlette spooled past 1 MiB was a temporary file: closed, gone
    assert strict.get("/files").json()["data"] == []
    assert "internal error" not in strict.log()


def test_a_chunked_json_body_over_the_limit_is_refused_before_it_ends(strict):
    answer = chunked_over_the_limit(strict, "/v1/chat/completions", "Content-Type: application/json\r\n",
                                    b'{"model": "' + BASE.encode() + b'", "messages": [], "pad": "', MAX_JSON_BODY)
    too_large(answer, "request_too_large")
    assert "internal error" not in strict.log()
