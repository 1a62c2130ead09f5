"""``POST /v1/embeddings``: OpenAI's embeddings endpoint over the local embedding models.

``input`` is a string, a list of strings, or token ids (a list of integers, or a list of such lists: decoded with
the model's tokenizer); ``encoding_format`` is ``float`` (JSON numbers) or ``base64`` (the little-endian float32
bytes, as OpenAI sends them and as fmscript's container fields store them); ``dimensions`` cuts each vector to
its first N numbers and normalises it again (Matryoshka-style, as OpenAI's ``text-embedding-3`` models do). A chat
model named here is a 400, as OpenAI answers for a model that does not embed.
"""
from __future__ import annotations

import base64
from typing import Any

import anyio
from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict

from fmscript.errors import FMScriptError

from . import schemas as S
from .errors import APIError, from_fmscript
from .genlock import Turns, slices, unless_gone
from .models import served

router = APIRouter(prefix="/v1", tags=["embeddings"], responses=S.COMMON_ERRORS)

#: OpenAI's limit on the inputs of one request.
MAX_INPUTS = 2048


class EmbeddingRequest(BaseModel):
    """OpenAI's embeddings body; unknown keys are accepted and ignored."""

    model_config = ConfigDict(extra="allow")
    model: str
    input: str | list[str] | list[int] | list[list[int]]
    encoding_format: str | None = "float"
    dimensions: int | None = None
    user: str | None = None


def _texts(body: EmbeddingRequest) -> list[str]:
    raw = body.input
    if isinstance(raw, str):
        items: list = [raw]
    else:
        items = list(raw)
    if not items:
        raise APIError(400, "'input' must not be empty.", param="input")
    if len(items) > MAX_INPUTS:
        raise APIError(400, f"'input' holds {len(items)} items; at most {MAX_INPUTS} per request.", param="input")
    if all(isinstance(i, int) for i in items):
        items = [items]  # one input given as token ids
    if any(isinstance(i, list) for i in items):
        from fmscript.ai.embeddings import decode_tokens

        try:
            return [decode_tokens(body.model, ids) for ids in items]
        except FMScriptError as e:
            raise from_fmscript(e, param="input") from None
    for i, t in enumerate(items):
        if not isinstance(t, str) or t == "":
            raise APIError(400, f"input[{i}] must be a non-empty string.", param="input")
    return items


def _known(name: str) -> bool:
    from fmscript.ai.tinymodel import BUILTIN_EMBEDDING_MODELS

    return served(name) or name in BUILTIN_EMBEDDING_MODELS


def _token_counts(model: str, texts: list[str]) -> list[int]:
    """Each input's tokens (``usage``, and how the inputs are sliced into turns); a chat model is error 882 before
    it is loaded as an embedding model."""
    from fmscript.ai import modelstore
    from fmscript.ai.embeddings import count_tokens, require_kind

    require_kind(modelstore.resolve_model(model, fetch=True), "embedding", model)
    return [count_tokens(model, t) for t in texts]


@router.post("/embeddings", summary="Create embeddings")
async def create_embeddings(request: Request, body: EmbeddingRequest) -> dict:
    """Vectors for the inputs, in OpenAI's list shape, in the inputs' order."""
    import numpy as np

    if body.encoding_format not in (None, "float", "base64"):
        raise APIError(400, "'encoding_format' must be 'float' or 'base64'.", param="encoding_format")
    if body.dimensions is not None and body.dimensions < 1:
        raise APIError(400, "'dimensions' must be at least 1.", param="dimensions")
    if not _known(body.model):
        raise APIError(404, f"The model '{body.model}' does not exist on this server (GET /v1/models lists its "
                            "models).", param="model", code="model_not_found")
    texts = _texts(body)
    engine = request.app.state.engine
    turns: Turns = request.app.state.generation
    try:
        sizes = await anyio.to_thread.run_sync(_token_counts, body.model, texts)
        parts = [texts[r.start:r.stop] for r in slices(sizes)]
        vectors = await unless_gone(request, "an embeddings request",
                                    lambda gone: turns.in_slices(lambda p: engine.embed(body.model, p, {}),
                                                                 parts, gone))
    except FMScriptError as e:
        raise from_fmscript(e, param="model") from None
    if vectors is None:  # the client went away: no one reads this
        return Response(status_code=499)
    tokens = sum(sizes)
    data: list[dict[str, Any]] = []
    for i, v in enumerate(vectors):
        v = np.asarray(v, dtype=np.float32)
        if body.dimensions is not None:
            if body.dimensions > v.size:
                raise APIError(400, f"'dimensions' is {body.dimensions}; the model's vectors have {v.size}.",
                               param="dimensions")
            v = v[: body.dimensions]
            n = float(np.linalg.norm(v))
            v = v / n if n else v
        emb: Any = (base64.b64encode(v.astype("<f4").tobytes()).decode("ascii") if body.encoding_format == "base64"
                    else [float(x) for x in v.tolist()])
        data.append({"object": "embedding", "index": i, "embedding": emb})
    return {"object": "list", "data": data, "model": body.model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}
