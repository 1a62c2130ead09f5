"""The console's login: a signed, HTTP-only, SameSite=Strict session cookie, and CSRF tokens for every form.

A person logs in with the server's ``FMSCRIPT_API_KEY`` or a named key (:mod:`.keys`). The cookie holds which key
(``env`` or the named key's id, plus a fingerprint of the server key) signed with itsdangerous, never the key; each
request checks it again, so revoking a named key or changing ``FMSCRIPT_API_KEY`` ends its sessions. The signing
secret is random, kept owner-only in the home (``console.secret``), so sessions survive a restart.

CSRF: a random ``fmscript_csrf`` cookie (HTTP-only, SameSite=Strict) and, in each form, a token that is that
cookie's value signed with the secret; a POST without the matching pair is refused.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer

from fmscript import home as fmhome

SESSION_COOKIE = "fmscript_session"
CSRF_COOKIE = "fmscript_csrf"
CSRF_FIELD = "csrf_token"
#: How long a login lasts (seconds).
SESSION_SECONDS = 12 * 3600


def _load_secret() -> bytes:
    p = fmhome.home(ensure=True) / "console.secret"
    try:
        data = p.read_bytes()
        if len(data) >= 32:
            return data
    except OSError:
        pass
    data = secrets.token_bytes(32)
    with fmhome.private():
        tmp = p.with_name(f".console.secret.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, p)
    return p.read_bytes()


@dataclass(frozen=True)
class Principal:
    """Who is logged in: ``env`` (the server's key), a named key's id, or ``open`` (a server without a key)."""

    key_id: str


class Auth:
    """Checks keys, signs and reads session cookies, and makes and checks CSRF tokens, for one server."""

    def __init__(self, api_key: str | None, keystore):
        self.api_key = api_key.encode() if api_key else None
        self.keystore = keystore
        self.secret = _load_secret()
        self.sessions = URLSafeTimedSerializer(self.secret, salt="fmscript-console-session")

    @property
    def required(self) -> bool:
        """A server without ``FMSCRIPT_API_KEY`` checks no key anywhere, the console included."""
        return self.api_key is not None

    def _fingerprint(self) -> str:
        return hashlib.sha256(b"console:" + (self.api_key or b"")).hexdigest()[:16]

    def key_id_for(self, given: str) -> str | None:
        """``env`` for the server's key, a named key's id, or None."""
        if not self.required or not given:
            return None
        raw = given.strip().encode()
        if hmac.compare_digest(raw, self.api_key):
            return "env"
        return self.keystore.find(raw)

    def session_cookie(self, key_id: str) -> str:
        return self.sessions.dumps({"k": key_id, "f": self._fingerprint()})

    def principal(self, cookies) -> Principal | None:
        if not self.required:
            return Principal("open")
        value = cookies.get(SESSION_COOKIE)
        if not value:
            return None
        try:
            data = self.sessions.loads(value, max_age=SESSION_SECONDS)
        except BadSignature:  # also SignatureExpired
            return None
        if not isinstance(data, dict) or data.get("f") != self._fingerprint():
            return None
        kid = data.get("k")
        if kid == "env" or (isinstance(kid, str) and self.keystore.is_active(kid)):
            return Principal(kid)
        return None

    # ------------------------------------------------------------------------------------------ CSRF
    @staticmethod
    def new_csrf_cookie() -> str:
        return secrets.token_urlsafe(32)

    def csrf_token(self, cookie_value: str) -> str:
        return hmac.new(self.secret, b"csrf:" + cookie_value.encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, cookie_value: str | None, token: str | None) -> bool:
        if not cookie_value or not token:
            return False
        return hmac.compare_digest(self.csrf_token(cookie_value), str(token))
