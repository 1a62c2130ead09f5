"""``POST /v1/chat/completions`` for base and tuned models, whole or streamed (server-sent events).

Generation runs in this process with mlx-lm, one answer at a time (mlx's CPU stream is shared): requests wait
their turn on an async lock without holding a thread, so uploads and job requests are answered meanwhile.
Defaults differ from OpenAI's where the local engine's do: ``temperature`` 0 (greedy, so a tuned model answers
as trained) and ``max_tokens`` 256.
"""
from __future__ import annotations

import json
import time
import uuid
from typing import Any

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict

from fmscript.errors import FMScriptError

from . import schemas as S
from .errors import APIError, error_body, from_fmscript
from .genlock import complete_unless_gone
from .limits import MaxTokens, Seed, context_bound, model_context
from .models import require_served

router = APIRouter(prefix="/v1", tags=["chat"], responses=S.COMMON_ERRORS)

DEFAULT_MAX_TOKENS = 256


class ChatRequest(BaseModel):
    """OpenAI's chat-completion body; unknown keys are accepted and ignored."""

    model_config = ConfigDict(extra="allow")
    model: str
    messages: list[dict[str, Any]]
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: MaxTokens | None = None
    max_completion_tokens: MaxTokens | None = None
    n: int | None = None
    stream: bool | None = False
    stream_options: dict[str, Any] | None = None
    stop: str | list[str] | None = None
    seed: Seed | None = None
    tools: list[dict[str, Any]] | None = None


def _messages(raw: list[dict]) -> list[dict]:
    out = []
    for i, m in enumerate(raw):
        role = m.get("role")
        if role == "developer":
            role = "system"
        if role not in ("system", "user", "assistant"):
            raise APIError(400, f"Invalid value for 'messages[{i}].role': {role!r}; this server answers system, "
                                "developer, user and assistant messages.", param=f"messages[{i}].role",
                           code="invalid_value")
        content = m.get("content")
        if isinstance(content, list):
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") in
                              (None, "text", "input_text"))
        out.append({"role": role, "content": "" if content is None else str(content)})
    if not out:
        raise APIError(400, "'messages' must hold at least one message.", param="messages", code="invalid_value")
    return out


class _StopFilter:
    """Cuts the answer before the first stop sequence, holding back text that may be the start of one."""

    def __init__(self, stops: list[str]):
        self.stops = [s for s in stops if s]
        self.pending = ""
        self.stopped = False

    def feed(self, text: str) -> str:
        if not self.stops:
            return text
        self.pending += text
        cut = min((i for i in (self.pending.find(s) for s in self.stops) if i >= 0), default=-1)
        if cut >= 0:
            out, self.pending, self.stopped = self.pending[:cut], "", True
            return out
        keep = 0
        for s in self.stops:
            for k in range(min(len(s) - 1, len(self.pending)), 0, -1):
                if self.pending.endswith(s[:k]):
                    keep = max(keep, k)
                    break
        out = self.pending[:len(self.pending) - keep]
        self.pending = self.pending[len(self.pending) - keep:]
        return out

    def flush(self) -> str:
        out, self.pending = self.pending, ""
        return out


def _pieces(model_name: str, messages: list[dict], temperature: float, max_tokens: int, top_p: float,
            seed: int | None):
    """(text, prompt_tokens, completion_tokens, finish_reason) from the engine's one generation loop."""
    from fmscript.ai.generate import pieces

    for p in pieces(model_name, messages, temperature, max_tokens, top_p, seed):
        yield p.text, p.prompt_tokens, p.completion_tokens, p.finish_reason


class _Run:
    """One request's generation: pieces through the stop filter, with usage and the finish reason."""

    def __init__(self, body: ChatRequest, messages: list[dict]):
        self.model = body.model
        self.messages = messages
        self.temperature = 0.0 if body.temperature is None else float(body.temperature)
        self.top_p = 1.0 if body.top_p is None else float(body.top_p)
        self.max_tokens = body.max_completion_tokens or body.max_tokens or DEFAULT_MAX_TOKENS
        self.seed = body.seed
        stops = [body.stop] if isinstance(body.stop, str) else list(body.stop or [])
        self.filter = _StopFilter(stops)
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.finish_reason = "stop"
        self._it = None

    def start(self):
        self._it = _pieces(self.model, self.messages, self.temperature, self.max_tokens, self.top_p, self.seed)

    def next_text(self):
        """The next piece of answer text ('' is possible), or None at the end."""
        if self.filter.stopped:
            return None
        try:
            text, self.prompt_tokens, self.completion_tokens, finish = next(self._it)
        except StopIteration:
            tail = self.filter.flush()
            return tail or None
        if finish:
            self.finish_reason = "length" if finish == "length" else "stop"
        out = self.filter.feed(text)
        if self.filter.stopped:
            self.finish_reason = "stop"
        return out

    def close(self):
        if self._it is not None:
            self._it.close()

    def complete(self) -> str:
        self.start()
        try:
            parts = []
            while (t := self.next_text()) is not None:
                parts.append(t)
            return "".join(parts)
        finally:
            self.close()

    @property
    def usage(self) -> dict:
        return {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
                "total_tokens": self.prompt_tokens + self.completion_tokens}


@router.post("/chat/completions", responses=S.ok(S.ChatCompletion),
             summary="Answer chat messages with a base or tuned model (stream: SSE)")
async def chat_completions(request: Request, body: ChatRequest):
    from fmscript.ai import generate as gen

    if body.n not in (None, 1):
        raise APIError(400, "Only n = 1 is supported.", param="n", code="invalid_value")
    if body.tools:
        raise APIError(400, "Tool calls are not supported by this server's models.", param="tools",
                       code="unsupported_parameter")
    messages = _messages(body.messages)
    require_served(body.model)
    try:
        await anyio.to_thread.run_sync(gen.load_model, body.model)  # 404 before any answer starts
    except FMScriptError as e:
        raise from_fmscript(e, param="model") from None
    run = _Run(body, messages)
    run.max_tokens = context_bound(run.max_tokens, model_context(body.model))
    lock: anyio.Lock = request.app.state.generation_lock
    cid = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())

    if not body.stream:
        async with lock:
            try:
                text = await complete_unless_gone(request, run)
            except FMScriptError as e:
                raise from_fmscript(e, param="messages") from None
        return {"id": cid, "object": "chat.completion", "created": created, "model": body.model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text, "refusal": None},
                             "logprobs": None, "finish_reason": run.finish_reason}],
                "usage": run.usage, "system_fingerprint": "fmscript"}

    include_usage = bool((body.stream_options or {}).get("include_usage"))

    def chunk(delta: dict, finish=None, usage=None, choices=True) -> str:
        d = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": body.model,
             "system_fingerprint": "fmscript",
             "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}] if choices else []}
        if include_usage:
            d["usage"] = usage
        return f"data: {json.dumps(d, ensure_ascii=False)}\n\n"

    async def events():
        async with lock:
            await anyio.to_thread.run_sync(run.start)
            try:
                yield chunk({"role": "assistant", "content": ""})
                while True:
                    text = await anyio.to_thread.run_sync(run.next_text)
                    if text is None:
                        break
                    if text:
                        yield chunk({"content": text})
                yield chunk({}, finish=run.finish_reason)
                if include_usage:
                    yield chunk({}, usage=run.usage, choices=False)
                yield "data: [DONE]\n\n"
            except FMScriptError as e:
                body_ = error_body(e.message, "server_error", None, "generation_failed")
                yield f"data: {json.dumps(body_)}\n\n"
            finally:
                with anyio.CancelScope(shield=True):
                    await anyio.to_thread.run_sync(run.close)

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
