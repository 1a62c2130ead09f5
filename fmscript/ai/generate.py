"""Text generation with a base model or a tuned model (base + adapter), in this process.

Loaded models are cached by (base folder, adapter folder): a tuned model that is replaced by a newer job points
at a new folder, so the next call loads the new adapter. Greedy decoding unless a temperature is given; decoding
stops at the tokenizer's end-of-sequence token(s).
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Iterator

from fmscript.errors import E_AI_REQUEST_FAILED, E_INVALID_PARAMETER, FMScriptError

_CACHE: "OrderedDict[tuple, tuple]" = OrderedDict()
_CACHE_SIZE = 2
_LOCK = threading.RLock()
_GEN_LOCK = threading.Lock()  # a plain Lock: a streamed answer may be read on another thread


def _load(resolved):
    from fmscript.ai import blas

    blas.load_into_this_process()  # before mlx's first import: generation on Linux CPUs gets MKL too
    from mlx_lm.utils import load

    key = resolved.cache_key
    with _LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
        model, tokenizer = load(str(resolved.base_path),
                                adapter_path=str(resolved.adapter_path.resolve()) if resolved.adapter_path else None)
        model.eval()
        _CACHE[key] = (model, tokenizer)
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
        return model, tokenizer


def load_model(model_name: str):
    """(model, tokenizer) for a model name, loading it once per process."""
    from fmscript.ai import modelstore

    r = modelstore.resolve_model(model_name, fetch=True)
    return _load(r)


def clear_cache() -> None:
    with _LOCK:
        _CACHE.clear()


def _check_messages(messages) -> list[dict]:
    if isinstance(messages, str):
        return [{"role": "user", "content": messages}]
    out = []
    for m in messages or []:
        role, content = m.get("role"), m.get("content")
        if role not in ("system", "user", "assistant"):
            raise FMScriptError(f"A message has role {role!r}; the Local engine knows system, user and assistant.",
                                code=E_INVALID_PARAMETER)
        if isinstance(content, list):  # OpenAI's content parts: keep the text ones
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        out.append({"role": role, "content": "" if content is None else str(content)})
    if not out:
        raise FMScriptError("There is no message to answer.", code=E_INVALID_PARAMETER)
    return out


@dataclass
class Piece:
    """One step of an answer: its new text, the token counts so far, and why it ended (None while going)."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str | None


def pieces(model_name: str, messages: list[dict], temperature: float = 0.0, max_tokens: int = 256,
           top_p: float = 1.0, seed: int | None = None) -> Iterator[Piece]:
    """The one generation loop (steps and server): the answer piece by piece, one generation at a time per
    process (mlx's CPU stream is shared). ``messages`` are role/content dicts already checked by the caller."""
    try:
        max_tokens = int(max_tokens)
        temperature = float(temperature)
    except (TypeError, ValueError):
        raise FMScriptError("max_tokens and temperature must be numbers.", code=E_INVALID_PARAMETER) from None
    if max_tokens < 1:
        raise FMScriptError("max_tokens must be at least 1.", code=E_INVALID_PARAMETER)
    model, tokenizer = load_model(model_name)
    import mlx.core as mx
    from mlx_lm.generate import stream_generate
    from mlx_lm.sample_utils import make_sampler

    if seed is not None:
        mx.random.seed(int(seed))
    try:
        from fmscript.ai.families import chat_messages, render

        prompt = render(tokenizer, chat_messages(tokenizer, messages), add_generation_prompt=True)
    except Exception as e:
        raise FMScriptError(f"The model {model_name!r} could not format the messages: {e}",
                            code=E_AI_REQUEST_FAILED) from None
    sampler = make_sampler(temp=max(temperature, 0.0), top_p=top_p if 0 < top_p < 1 else 0.0)
    with _GEN_LOCK:
        for r in stream_generate(model, tokenizer, prompt, max_tokens=max_tokens, sampler=sampler):
            yield Piece(r.text, r.prompt_tokens, r.generation_tokens, r.finish_reason)
            if r.finish_reason:
                break


def stream(model_name: str, messages, temperature: float = 0.0, max_tokens: int = 256, top_p: float = 1.0,
           seed: int | None = None) -> Iterator[str]:
    """Yield the answer's text piece by piece (messages as a list of role/content dicts, or one user text)."""
    for piece in pieces(model_name, _check_messages(messages), temperature, max_tokens, top_p, seed):
        if piece.text:
            yield piece.text


def generate(model_name: str, messages, temperature: float = 0.0, max_tokens: int = 256, **opts) -> str:
    """The whole answer of ``model_name`` to chat ``messages`` (a list of role/content dicts, or one user text)."""
    return "".join(stream(model_name, messages, temperature=temperature, max_tokens=max_tokens, **opts))
