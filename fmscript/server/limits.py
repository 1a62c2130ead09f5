"""What the server accepts from a client, and what it refuses before doing any work (docs/limits.md).

Each refusal is a 4xx in OpenAI's error object naming the parameter, never a 500: a body too large is refused
from its ``Content-Length`` before it is read or spooled to disk, a seed or token count out of range by the
request models' types, and a job's hyperparameters by their number and size.
"""
from __future__ import annotations

import json
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


class BodyLimitMiddleware:
    """413 in OpenAI's error object for a request whose ``Content-Length`` is over its limit, before the body is
    read: an upload (``POST /v1/files``) over ``upload_limit()`` plus room for the multipart framing, any other
    request over :data:`MAX_JSON_BODY`.  A body sent without a length is counted by the upload route as it
    copies it."""

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
            from fastapi.responses import JSONResponse

            what = f"the server's upload limit of {self.upload_limit()} bytes" if upload else \
                f"the server's limit of {MAX_JSON_BODY} bytes for a request"
            resp = JSONResponse(error_body(f"The request body ({length} bytes) is larger than {what}.",
                                           "invalid_request_error", "file" if upload else None,
                                           "file_too_large" if upload else "request_too_large"),
                                status_code=413, headers={"Connection": "close"})
            return await resp(scope, receive, send)
        return await self.app(scope, receive, send)


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
