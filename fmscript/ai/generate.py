"""Text generation with a base model or a tuned model (base + adapter), in this process.

Loaded models are cached by (base folder, adapter folder): a tuned model that is replaced by a newer job points
at a new folder, so the next call loads the new adapter. Greedy decoding unless a temperature is given; decoding
stops at the tokenizer's end-of-sequence token(s).

Tool calling goes through the model's own chat template (``apply_chat_template(messages, tools=…)``); the answer's
tool calls are parsed back by :mod:`fmscript.ai.tools` (the Hermes/Qwen ``<tool_call>`` form and llama-3's JSON
form). A prompt longer than the model's context (``max_position_embeddings``) is refused before any generation
(error 14).
"""
from __future__ import annotations

import itertools
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Iterator

from fmscript.limits import json_loads
from fmscript.errors import E_AI_REQUEST_FAILED, E_INVALID_PARAMETER, E_OUT_OF_RANGE, FMScriptError

_CACHE: "OrderedDict[tuple, tuple]" = OrderedDict()
_CACHE_SIZE = 2
_LOCK = threading.RLock()
_GEN_LOCK = threading.Lock()  # one step at a time (mlx's stream is shared); a plain Lock: steps run on any thread


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
    from fmscript.ai.embeddings import require_kind

    r = modelstore.resolve_model(model_name, fetch=True)
    require_kind(r, "chat", model_name)  # an embedding model makes vectors, not answers (error 882)
    return _load(r)


def clear_cache() -> None:
    with _LOCK:
        _CACHE.clear()


def _arguments(v):
    """A tool call's arguments as a dict for the chat template (Hugging Face's convention; OpenAI sends text)."""
    if isinstance(v, str):
        try:
            parsed = json_loads(v)
        except json.JSONDecodeError:
            return v
        return parsed if isinstance(parsed, dict) else v
    return v


def check_messages(messages) -> list[dict]:
    """Role/content dicts the chat template can take: system, user, assistant (with ``tool_calls``) and tool."""
    if isinstance(messages, str):
        return [{"role": "user", "content": messages}]
    out = []
    for m in messages or []:
        role, content = m.get("role"), m.get("content")
        if role == "developer":
            role = "system"
        if role not in ("system", "user", "assistant", "tool"):
            raise FMScriptError(f"A message has role {role!r}; the Local engine knows system, user, assistant "
                                "and tool.", code=E_INVALID_PARAMETER)
        if isinstance(content, list):  # OpenAI's content parts: keep the text ones
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        msg = {"role": role, "content": "" if content is None else str(content)}
        if role == "assistant" and m.get("tool_calls"):
            calls = []
            for c in m["tool_calls"]:
                fn = (c.get("function") if isinstance(c, dict) else None) or {}
                calls.append({"id": c.get("id", ""), "type": "function",
                              "function": {"name": fn.get("name", ""), "arguments": _arguments(
                                  fn.get("arguments", {}))}})
            msg["tool_calls"] = calls
        if role == "tool":
            msg["tool_call_id"] = m.get("tool_call_id", "")
            if m.get("name"):
                msg["name"] = m["name"]
        out.append(msg)
    if not out:
        raise FMScriptError("There is no message to answer.", code=E_INVALID_PARAMETER)
    return out


def context_length(model, tokenizer) -> int | None:
    """How many tokens the model reads at most (its config's ``max_position_embeddings``), if it says."""
    args = getattr(model, "args", None)
    n = getattr(args, "max_position_embeddings", None) if args is not None else None
    if not n:
        n = getattr(tokenizer, "model_max_length", None)
    try:
        n = int(n)
    except (TypeError, ValueError):
        return None
    return n if 0 < n < 10_000_000 else None


def prompt_tokens(model_name: str, model, tokenizer, messages: list[dict], tools: list[dict] | None = None) -> list:
    """The prompt's tokens through the model's chat template; error 14 when they do not fit its context."""
    from fmscript.ai.families import chat_messages, render

    try:
        prompt = render(tokenizer, chat_messages(tokenizer, messages, tools), add_generation_prompt=True, tools=tools)
    except Exception as e:
        raise FMScriptError(f"The model {model_name!r} could not format the messages"
                            + (" with tools" if tools else "") + f": {e}", code=E_AI_REQUEST_FAILED) from None
    limit = context_length(model, tokenizer)
    if limit is not None and len(prompt) >= limit:
        raise FMScriptError(f"The prompt is {len(prompt)} tokens long; the model {model_name!r} reads at most "
                            f"{limit} (its context length). Shorten the prompt or the message history.",
                            code=E_OUT_OF_RANGE)
    return prompt


def check_prompt(model_name: str, messages: list[dict], tools: list[dict] | None = None) -> int:
    """How many tokens the prompt has, checked against the context before an answer starts (the server's 400)."""
    model, tokenizer = load_model(model_name)
    return len(prompt_tokens(model_name, model, tokenizer, messages, tools))


@dataclass
class Piece:
    """One step of an answer: its new text, the token counts so far, and why it ended (None while going)."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str | None


def pieces(model_name: str, messages: list[dict], temperature: float = 0.0, max_tokens: int = 256,
           top_p: float = 1.0, seed: int | None = None, tools: list[dict] | None = None) -> Iterator[Piece]:
    """The one generation loop (steps and server): the answer piece by piece, one step at a time per process
    (mlx's CPU stream is shared), so answers read side by side interleave step by step. ``messages`` are
    role/content dicts already checked by the caller."""
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

    prompt = prompt_tokens(model_name, model, tokenizer, messages, tools)
    sampler = make_sampler(temp=max(temperature, 0.0), top_p=top_p if 0 < top_p < 1 else 0.0)
    steps = stream_generate(model, tokenizer, prompt, max_tokens=max_tokens, sampler=sampler)
    try:
        for i in itertools.count():
            # The lock is held for one step, not the whole answer, so the server can interleave answers; mlx's
            # random state is per thread and a step may run on any thread, so a seed is applied at every step.
            with _GEN_LOCK:
                if seed is not None:
                    mx.random.seed(step_seed(int(seed), i))
                r = next(steps, None)
            if r is None:
                break
            yield Piece(r.text, r.prompt_tokens, r.generation_tokens, r.finish_reason)
            if r.finish_reason:
                break
    finally:
        with _GEN_LOCK:
            steps.close()


def step_seed(seed: int, step: int) -> int:
    """The generator seed of one step of a seeded answer: the same answer for the same seed, whichever thread
    runs each step and whatever other answers run between them."""
    return (seed + step * 0x9E3779B97F4A7C15) % 2**64


def stream(model_name: str, messages, temperature: float = 0.0, max_tokens: int = 256, top_p: float = 1.0,
           seed: int | None = None) -> Iterator[str]:
    """Yield the answer's text piece by piece (messages as a list of role/content dicts, or one user text)."""
    for piece in pieces(model_name, check_messages(messages), temperature, max_tokens, top_p, seed):
        if piece.text:
            yield piece.text


def turn(model_name: str, messages, tools: list[dict] | None = None, on_text=None, temperature: float = 0.0,
         max_tokens: int = 256, top_p: float = 1.0, seed: int | None = None):
    """One answer as a :class:`fmscript.ai.tools.Turn`: its text (``on_text`` sees it as it comes, without
    tool-call markup), the tool calls parsed from it, and the token counts."""
    from fmscript.ai.tools import ToolTextFilter, Turn, parse_tool_calls

    filt = ToolTextFilter() if tools else None
    text, last = [], None
    for piece in pieces(model_name, check_messages(messages), temperature, max_tokens, top_p, seed, tools=tools):
        last = piece
        if piece.text:
            text.append(piece.text)
            out = filt.feed(piece.text) if filt is not None else piece.text
            if out and on_text is not None:
                on_text(out)
    whole = "".join(text)
    usage = {"prompt_tokens": last.prompt_tokens, "completion_tokens": last.completion_tokens} if last else {}
    finish = "length" if last is not None and last.finish_reason == "length" else "stop"
    if not tools:
        return Turn(whole, [], usage, finish)
    content, calls = parse_tool_calls(whole)
    if not calls and on_text is not None:
        rest = filt.flush()
        if rest:
            on_text(rest)
    return Turn(content if calls else whole, calls, usage, "tool_calls" if calls else finish)


def generate(model_name: str, messages, temperature: float = 0.0, max_tokens: int = 256, **opts) -> str:
    """The whole answer of ``model_name`` to chat ``messages`` (a list of role/content dicts, or one user text)."""
    return "".join(stream(model_name, messages, temperature=temperature, max_tokens=max_tokens, **opts))
