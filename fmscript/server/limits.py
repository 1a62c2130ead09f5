"""What the server accepts from a client, and what it refuses before doing any work (docs/limits.md).

Each refusal is a 4xx in OpenAI's error object naming the parameter, never a 500: a body too large is refused
from its ``Content-Length`` before it is read or spooled to disk (one sent without a length as soon as its count
passes the limit), a seed or token count out of range by the request models' types, a job's hyperparameters by
their number and size, and a client that sends its request too slowly by the read deadlines of :mod:`.protocol`.
"""
from __future__ import annotations

import json
import os
from typing import Annotated

from pydantic import Field

from .errors import APIError, error_body

#: The largest seed: the generator's seed is an unsigned 64-bit integer (mlx's ``random.seed``).
MAX_SEED = 2**64 - 1
Seed = Annotated[int, Field(ge=0, le=MAX_SEED)]
#: ``max_tokens`` and ``max_completion_tokens``: at least 1; the model's context bounds them further.
MaxTokens = Annotated[int, Field(ge=1)]

#: A job's hyperparameters: at most this many keys, this many bytes of JSON in all.
MAX_HYPERPARAMETERS = 64
MAX_HYPERPARAMETER_BYTES = 16 * 1024

#: The largest JSON body of any request but an upload (chat messages, job creation).
MAX_JSON_BODY = 16 * 1024 * 1024
#: Room for a multipart upload's headers and boundaries on top of the file's own limit.
MULTIPART_SLACK = 64 * 1024

#: Seconds a request's headers, and then its body, may take to arrive before the connection gets 408; each is
#: extended by a second for every MIN_READ_RATE bytes received, the headers' to twice this at most (Apache's
#: mod_reqtimeout defaults, header=20-40,MinRate=500 body=20,MinRate=500; ``FMSCRIPT_SERVER_READ_TIMEOUT``).
READ_TIMEOUT = 20.0
MIN_READ_RATE = 500


def read_timeout() -> float:
    """The read deadline in force (seconds)."""
    try:
        value = float(os.environ.get("FMSCRIPT_SERVER_READ_TIMEOUT", READ_TIMEOUT))
    except ValueError:
        return READ_TIMEOUT
    return value if 0 < value <= 3600 else READ_TIMEOUT


def check_hyperparameters(hp: dict) -> None:
    """400 for more keys or bytes than the limits, before any of them is read or written as an event."""
    if len(hp) > MAX_HYPERPARAMETERS:
        raise APIError(400, f"Too many hyperparameters: {len(hp)} given, at most {MAX_HYPERPARAMETERS} are "
                            "accepted.", param="hyperparameters", code="invalid_hyperparameters")
    size = len(json.dumps(hp, default=str).encode("utf-8", "surrogatepass"))
    if size > MAX_HYPERPARAMETER_BYTES:
        raise APIError(400, f"The hyperparameters are too large: {size} bytes of JSON, at most "
                            f"{MAX_HYPERPARAMETER_BYTES}.", param="hyperparameters", code="invalid_hyperparameters")


def context_bound(requested: int, context: int | None, prompt_tokens: int = 0) -> int:
    """``max_tokens`` as the model can honour it: no more than its context leaves after the prompt."""
    if context is None:
        return requested
    return max(1, min(requested, context - prompt_tokens))


class _BodyTooLarge(Exception):
    """Raised into the app by the counting ``receive`` once a body passes its limit."""


class BodyLimitMiddleware:
    """413 in OpenAI's error object for a request body over its limit: an upload (``POST /v1/files``) over
    ``upload_limit()`` plus room for the multipart framing, any other request over :data:`MAX_JSON_BODY`.

    A ``Content-Length`` over the limit is refused before the body is read; a body sent without one (chunked) is
    counted as the app reads it, and refused as soon as the count passes the limit: the app's read fails there
    (Starlette closes the parts it spooled), whatever the app answers to that is dropped, and this 413 goes out
    instead, closing the connection."""

    def __init__(self, app, upload_limit):
        self.app = app
        self.upload_limit = upload_limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = None
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    length = None
                break
        upload = scope.get("path", "").rstrip("/") == "/v1/files" and scope.get("method") == "POST"
        limit = self.upload_limit() + MULTIPART_SLACK if upload else MAX_JSON_BODY
        if length is not None and length > limit:
            return await self._refuse(scope, receive, send, f"({length} bytes)", upload)
        received, over, started = 0, False, False

        async def counted_receive():
            nonlocal received, over
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    over = True
                    raise _BodyTooLarge()
            return message

        async def guarded_send(message):
            nonlocal started
            if over:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except Exception:
            if not over:
                raise
        if over and not started:
            await self._refuse(scope, receive, send, f"(more than {limit} bytes, sent without a length)", upload)

    async def _refuse(self, scope, receive, send, size: str, upload: bool) -> None:
        from fastapi.responses import JSONResponse

        what = f"the server's upload limit of {self.upload_limit()} bytes" if upload else \
            f"the server's limit of {MAX_JSON_BODY} bytes for a request"
        resp = JSONResponse(error_body(f"The request body {size} is larger than {what}.",
                                       "invalid_request_error", "file" if upload else None,
                                       "file_too_large" if upload else "request_too_large"),
                            status_code=413, headers={"Connection": "close"})
        await resp(scope, receive, send)


def model_context(model_name: str) -> int | None:
    """The model's context length from its ``config.json`` (None when it does not say)."""
    from pathlib import Path

    from fmscript.ai import modelstore
    from fmscript.errors import FMScriptError

    try:
        base = modelstore.resolve_model(model_name).base_path
        cfg = json.loads((Path(base) / "config.json").read_text(encoding="utf-8")) if base else {}
    except (FMScriptError, OSError, ValueError):
        return None
    for key in ("max_position_embeddings", "n_positions", "max_seq_len", "seq_length"):
        v = cfg.get(key) if isinstance(cfg, dict) else None
        if isinstance(v, int) and v > 0:
            return v
    return None
