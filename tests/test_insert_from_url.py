"""Insert from URL against a real HTTP server on loopback: methods, headers, data from variables, headers dumped
to a variable, basic auth, redirects, cookies, forms, timeouts, refused connections, --fail, containers."""
from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from fmscript import Interpreter
from fmscript.calc.values import Container
from fmscript.errors import (E_AUTH_FAILED, E_COMMAND_INVALID, E_CONNECTION_FAILED, E_CONNECTION_TIMED_OUT,
                             E_JSON_INVALID, E_PROTOCOL_UNSUPPORTED, FMScriptError)

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(40))


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def _body(self) -> bytes:
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _send(self, code: int, body: bytes, ctype="application/json", extra=()):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _echo(self):
        body = self._body()
        info = {"method": self.command, "path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body.decode("utf-8", "replace")}
        path = self.path.split("?")[0]
        if path == "/slow":
            time.sleep(3)
        if path == "/redirect":
            return self._send(302, b"", extra=[("Location", "/echo?from=redirect")])
        if path == "/secret":
            if self.headers.get("Authorization") != "Basic dXNlcjpwYXNz":  # user:pass
                return self._send(401, b'{"error":"no"}', extra=[("WWW-Authenticate", 'Basic realm="x"')])
        if path == "/login":
            return self._send(200, b"ok", "text/plain", extra=[("Set-Cookie", "session=abc123; Path=/")])
        if path == "/image.png":
            return self._send(200, PNG, "image/png")
        if path == "/missing":
            return self._send(404, b"not here", "text/plain")
        self._send(200, json.dumps(info).encode(), extra=[("X-Echo", "yes")])

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _echo


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a client that gave up (--max-time) closes its socket: not the test's business


@pytest.fixture(scope="module")
def server():
    httpd = QuietServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture
def fm():
    fm = Interpreter(on_dialog=lambda t, m: None)
    yield fm
    fm.close()


def echo(fm, script: str) -> dict:
    return json.loads(fm.run_text(script + "\nExit Script [ $r ]"))


def test_a_get_puts_the_body_in_the_variable(fm, server):
    got = echo(fm, f'Insert from URL [ Select ; With dialog: Off ; Target: $r ; "{server}/echo?q=1" ]')
    assert got["method"] == "GET" and got["path"] == "/echo?q=1"


def test_post_json_with_headers_and_data_from_a_variable(fm, server):
    got = echo(fm, f"""
Set Variable [ $body ; Value: JSONSetElement ( "{{}}" ; "name" ; "Ada" ; JSONString ) ]
Insert from URL [ Select ; With dialog: Off ; Target: $r ; "{server}/items" ;
  cURL options: "-X POST --header \\"Content-Type: application/json\\" -H \\"X-Trace: t1\\" --data @$body" ]""")
    assert got["method"] == "POST" and json.loads(got["body"]) == {"name": "Ada"}
    assert got["headers"]["content-type"] == "application/json" and got["headers"]["x-trace"] == "t1"


def test_data_alone_posts_form_encoded_and_urlencode_escapes(fm, server):
    got = echo(fm, f"""Insert from URL [ Target: $r ; "{server}/f" ;
  cURL options: "-d a=1 -d b=2 --data-urlencode \\"c=x y&z\\"" ]""")
    assert got["method"] == "POST" and got["body"] == "a=1&b=2&c=x+y%26z"
    assert got["headers"]["content-type"] == "application/x-www-form-urlencoded"
    got = echo(fm, f'Insert from URL [ Target: $r ; "{server}/g" ; cURL options: "-G -d a=1" ]')
    assert got["method"] == "GET" and got["path"] == "/g?a=1"


def test_dump_header_and_trace_go_to_variables(fm, server):
    result = fm.run_text(f"""
Insert from URL [ Target: $r ; "{server}/echo" ; cURL options: "-D $headers --trace $$trace -u user:pass" ]
Exit Script [ $headers ]""")
    assert result.startswith("HTTP/1.1 200 OK\r") and "X-Echo: yes" in result
    trace = next(v for k, v in fm.session.globals.items() if "trace" in k.lower())
    assert "> GET " in trace and "< HTTP/1.1 200" in trace and "Authorization: ***" in trace.replace("authorization", "Authorization")
    assert "user:pass" not in trace and "dXNlcjpwYXNz" not in trace


def test_basic_auth_and_fail(fm, server):
    ok = fm.run_text(f'Insert from URL [ Target: $r ; "{server}/secret" ; cURL options: "--user user:pass" ]\n'
                     'Exit Script [ $r ]')
    assert "secret" in json.loads(ok)["path"]
    # without --fail an HTTP error is an answer, as in curl; with it, FileMaker's error
    assert fm.run_text(f'Insert from URL [ Target: $r ; "{server}/missing" ]\nExit Script [ $r ]') == "not here"
    assert fm.run_text(f"""Set Error Capture [ On ]
Insert from URL [ Target: $r ; "{server}/secret" ; cURL options: "--fail" ]
Set Variable [ $e1 ; Value: Get ( LastError ) ]
Insert from URL [ Target: $r ; "{server}/missing" ; cURL options: "-f" ]
Exit Script [ $e1 & "|" & Get ( LastError ) ]""") == f"{E_AUTH_FAILED}|{E_CONNECTION_FAILED}"


def test_redirects_are_followed_only_with_location(fm, server):
    assert fm.run_text(f'Insert from URL [ Target: $r ; "{server}/redirect" ; cURL options: "-D $h" ]\n'
                       'Exit Script [ Left ( $h ; 12 ) ]') == "HTTP/1.1 302"
    got = echo(fm, f'Insert from URL [ Target: $r ; "{server}/redirect" ; cURL options: "-L" ]')
    assert got["path"] == "/echo?from=redirect"


def test_cookie_jar_and_cookie_from_a_variable(fm, server):
    got = echo(fm, f"""
Insert from URL [ Target: $r ; "{server}/login" ; cURL options: "--cookie-jar $jar" ]
Insert from URL [ Target: $r ; "{server}/echo" ; cURL options: "--cookie $jar" ]""")
    assert got["headers"]["cookie"] == "session=abc123"
    got = echo(fm, f'Insert from URL [ Target: $r ; "{server}/echo" ; cURL options: "-b \\"a=1; b=2\\"" ]')
    assert got["headers"]["cookie"] == "a=1; b=2"


def test_binary_responses_are_container_data_and_forms_send_them(fm, server):
    fm.run_text(f'Insert from URL [ Target: $$img ; "{server}/image.png" ]')
    img = next(v for k, v in fm.session.globals.items() if "img" in k.lower())
    assert isinstance(img, Container) and img.name == "image.png" and img.data == PNG
    got = echo(fm, f'Insert from URL [ Target: $r ; "{server}/up" ; cURL options: "-F name=Ada -F photo=@$$img" ]')
    assert got["method"] == "POST" and got["headers"]["content-type"].startswith("multipart/form-data")
    assert 'name="photo"; filename="image.png"' in got["body"] and "Ada" in got["body"]


def test_automatically_encode_url(fm, server):
    got = echo(fm, f'Insert from URL [ Target: $r ; "{server}/a b?q=x y" ; Automatically encode URL ]')
    assert got["path"] == "/a%20b?q=x%20y"


def test_the_url_is_encoded_by_default_and_sent_as_written_when_the_step_says_not_to(fm, server):
    """FileMaker's default: a space and a non-ASCII letter arrive percent-encoded (an escape already there
    stays one, a lone % is encoded); with Do not automatically encode URL the URL arrives as written."""
    got = echo(fm, f'Insert from URL [ Target: $r ; "{server}/a b/é?q=x y&p=%41&pct=5%" ]')
    assert got["path"] == "/a%20b/%C3%A9?q=x%20y&p=%41&pct=5%25"
    got = echo(fm, f'Insert from URL [ Target: $r ; "{server}/a%20b/%C3%A9?q=%2F&pct=5%25" ; '
                   'Do not automatically encode URL ]')
    assert got["path"] == "/a%20b/%C3%A9?q=%2F&pct=5%25"
    for raw in ("a b", "é"):  # what an HTTP request line cannot carry as written: FileMaker's 1630
        assert _error(fm, f'Insert from URL [ Target: $r ; "{server}/{raw}" ; Do not automatically encode URL ; '
                          'No dialog ]') == E_JSON_INVALID


def test_filemakers_older_text_without_target_label_reads_the_target_then_the_url(fm, server):
    got = echo(fm, f'Insert from URL [ Select ; No dialog ; $r ; "{server}/old?x=1" ]')
    assert got["path"] == "/old?x=1"
    got = echo(fm, f'Insert from URL [ $r ; "{server}/older" ; Do not automatically encode URL ; Select ]')
    assert got["path"] == "/older"


def _error(fm, script: str) -> int:
    return int(fm.run_text("Set Error Capture [ On ]\n" + script + "\nExit Script [ Get ( LastError ) ]"))


def test_a_time_limit_a_refused_connection_and_bad_urls_are_filemaker_errors(fm, server):
    assert _error(fm, f'Insert from URL [ Target: $r ; "{server}/slow" ; cURL options: "--max-time 0.5" ]') \
        == E_CONNECTION_TIMED_OUT
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    assert _error(fm, f'Insert from URL [ Target: $r ; "http://127.0.0.1:{port}/" ]') == E_CONNECTION_FAILED
    assert _error(fm, 'Insert from URL [ Target: $r ; "not a url" ]') == E_JSON_INVALID  # 1630: URL format is incorrect
    assert _error(fm, 'Insert from URL [ Target: $r ; "gopher://127.0.0.1/" ]') == E_PROTOCOL_UNSUPPORTED
    assert _error(fm, f'Insert from URL [ Target: $r ; "{server}/" ; cURL options: "--upload-file x" ]') \
        == E_COMMAND_INVALID
    assert _error(fm, f'Insert from URL [ Target: $r ; "{server}/" ; cURL options: "-D notavariable" ]') \
        == E_COMMAND_INVALID


def test_a_failed_request_leaves_the_target_as_it_was(fm, server):
    assert fm.run_text(f"""Set Error Capture [ On ]
Set Variable [ $r ; Value: "before" ]
Insert from URL [ Target: $r ; "{server}/slow" ; cURL options: "-m 0.3" ]
Exit Script [ $r ]""") == "before"


def test_without_error_capture_the_run_stops_with_the_url_named(fm, server):
    with pytest.raises(FMScriptError) as e:
        fm.run_text('Insert from URL [ Target: $r ; "http://127.0.0.1:1/x" ]')
    assert e.value.code == E_CONNECTION_FAILED and "127.0.0.1:1" in e.value.message


def test_zh_hans(fm, server):
    got = json.loads(fm.run_text(f'从 URL 插入 [ 选择 ; 目标: $r ; "{server}/zh" ; cURL 选项: "-X PUT" ]\n退出脚本 [ $r ]'))
    assert got["method"] == "PUT"
