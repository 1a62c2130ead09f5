"""A browser-less client for the Admin Console: a cookie jar, the page's CSRF token, multipart uploads."""
from __future__ import annotations

import http.cookiejar
import re
import urllib.error
import urllib.parse
import urllib.request
import uuid

from .harness import Response

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class ConsoleClient:
    """One person's browser session against ``root`` (``http://127.0.0.1:<port>``), redirects not followed."""

    def __init__(self, root: str):
        self.root = root
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), NoRedirect())
        self.last_set_cookies: list[str] = []

    def request(self, method: str, path: str, data: bytes | None = None, headers: dict | None = None) -> Response:
        req = urllib.request.Request(self.root + path, data=data, headers=dict(headers or {}), method=method)
        try:
            with self.opener.open(req, timeout=60) as r:
                resp = Response(r.status, r.headers, r.read())
                self.last_set_cookies = r.headers.get_all("Set-Cookie") or []
        except urllib.error.HTTPError as e:
            resp = Response(e.code, e.headers, e.read())
            self.last_set_cookies = e.headers.get_all("Set-Cookie") or []
        return resp

    def get(self, path: str) -> Response:
        return self.request("GET", path)

    def csrf(self, path: str | None = None) -> str:
        """The token of a page's forms (the login page's, or a logged-in page's once logged in)."""
        r = self.get(path or "/console/login")
        if r.status_code == 303:
            r = self.get("/console/jobs")
        return CSRF_RE.search(r.content.decode()).group(1)

    def post(self, path: str, fields: dict, csrf: bool | str = True) -> Response:
        fields = dict(fields)
        if csrf is True:
            fields["csrf_token"] = self.csrf()
        elif csrf:
            fields["csrf_token"] = csrf
        body = urllib.parse.urlencode(fields).encode()
        return self.request("POST", path, body, {"Content-Type": "application/x-www-form-urlencoded"})

    def post_multipart(self, path: str, fields: dict, files: dict[str, tuple[str, bytes]]) -> Response:
        fields = {"csrf_token": self.csrf(), **fields}
        boundary = uuid.uuid4().hex
        parts = []
        for k, v in fields.items():
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode())
        for k, (filename, content) in files.items():
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"; filename="{filename}"\r\n'
                         f'Content-Type: application/octet-stream\r\n\r\n'.encode() + content + b"\r\n")
        parts.append(f"--{boundary}--\r\n".encode())
        return self.request("POST", path, b"".join(parts),
                            {"Content-Type": f"multipart/form-data; boundary={boundary}"})

    def login(self, key: str) -> Response:
        return self.post("/console/login", {"key": key, "next": "/console/jobs"})
