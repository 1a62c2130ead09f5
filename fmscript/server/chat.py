"""``POST /v1/chat/completions`` for base and tuned models, whole or streamed (server-sent events).

Generation runs in this process with mlx-lm, one step at a time (mlx's CPU stream is shared); answers take turns of
a few tokens each (round robin, :mod:`.genlock`), waiting on an async lock without holding a thread, so a short
answer is not held behind a long one and uploads and job requests are answered meanwhile.
Defaults differ from OpenAI's where the local engine's do: ``temperature`` 0 (greedy, so a tuned model answers
as trained) and ``max_tokens`` 256.

Tools: ``tools`` go to the model's chat template; the tool calls it writes (Hermes/Qwen ``<tool_call>`` or llama-3
JSON, :mod:`fmscript.ai.tools`) come back as OpenAI's ``tool_calls`` with ``finish_reason`` ``tool_calls``, whole or
as streamed deltas (the call's text is held back while streaming, then sent as one delta per call).
``tool_choice``: ``none`` answers without tools, ``auto`` and ``required`` offer them all (a model cannot be made
to call one), ``{"type": "function", "function": {"name": …}}`` offers only that one.
"""
from __future__ import annotations

import json
import sys
import time
import uuid
from typing import Any

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict

from fmscript.errors import E_OUT_OF_RANGE, FMScriptError

from . import schemas as S
from .errors import APIError, error_body, from_fmscript
from .genlock import Turns, complete_unless_gone
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
    tool_choice: str | dict[str, Any] | None = None


def _messages(raw: list[dict]) -> list[dict]:
    from fmscript.ai.generate import check_messages

    for i, m in enumerate(raw):
        role = m.get("role")
        if role not in ("system", "developer", "user", "assistant", "tool"):
            raise APIError(400, f"Invalid value for 'messages[{i}].role': {role!r}; this server answers system, "
                                "developer, user, assistant and tool messages.", param=f"messages[{i}].role",
                           code="invalid_value")
        content = m.get("content")
        if isinstance(content, list):
            m = {**m, "content": "".join(p.get("text", "") for p in content if isinstance(p, dict) and
                                         p.get("type") in (None, "text", "input_text"))}
            raw[i] = m
    if not raw:
        raise APIError(400, "'messages' must hold at least one message.", param="messages", code="invalid_value")
    try:
        return check_messages(raw)
    except FMScriptError as e:
        raise APIError(400, e.message, param="messages", code="invalid_value") from None


def _tools(body: "ChatRequest") -> list[dict] | None:
    """The tools offered to the model, as ``tool_choice`` says; 400 for definitions that cannot be used."""
    from fmscript.ai.tools import parse_tool_definitions

    if not body.tools or body.tool_choice == "none":
        return None
    try:
        ts = parse_tool_definitions(body.tools)
    except FMScriptError as e:
        raise APIError(400, e.message.replace("Tool Definitions: ", "Invalid 'tools': "), param="tools",
                       code="invalid_value") from None
    choice = body.tool_choice
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name")
        picked = [t for t in ts.tools if t["function"]["name"] == name]
        if not picked:
            raise APIError(400, f"Invalid 'tool_choice': no tool named {name!r} in 'tools'.", param="tool_choice",
                           code="invalid_value")
        return picked
    if choice not in (None, "auto", "required"):
        raise APIError(400, f"Invalid 'tool_choice': {choice!r}; use none, auto, required or a function.",
                       param="tool_choice", code="invalid_value")
    return ts.tools if ts else None


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
            seed: int | None, tools: list[dict] | None = None):
    """(text, prompt_tokens, completion_tokens, finish_reason) from the engine's one generation loop."""
    from fmscript.ai.generate import pieces

    for p in pieces(model_name, messages, temperature, max_tokens, top_p, seed, tools=tools):
        yield p.text, p.prompt_tokens, p.completion_tokens, p.finish_reason


class _Run:
    """One request's generation: pieces through the stop filter, with usage and the finish reason."""

    def __init__(self, body: ChatRequest, messages: list[dict], tools: list[dict] | None = None):
        from fmscript.ai.tools import ToolTextFilter

        self.model = body.model
        self.messages = messages
        self.tools = tools
        self.tool_filter = ToolTextFilter() if tools else None
        self.tool_calls: list[dict] = []
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
        self._it = _pieces(self.model, self.messages, self.temperature, self.max_tokens, self.top_p, self.seed,
                           self.tools)

    def next_text(self):
        """The next piece of answer text ('' is possible), or None at the end."""
        if self.filter.stopped:
            return None
        try:
            text, self.prompt_tokens, self.completion_tokens, finish = next(self._it)
        except StopIteration:
            tail = self.filter.flush()
            if tail and self.tool_filter is not None:
                tail = self.tool_filter.feed(tail)
            return tail or None
        if finish:
            self.finish_reason = "length" if finish == "length" else "stop"
        out = self.filter.feed(text)
        if self.filter.stopped:
            self.finish_reason = "stop"
        return out if self.tool_filter is None else self.tool_filter.feed(out)

    def finish_tools(self) -> str:
        """Once the answer is whole: parse its tool calls (``finish_reason`` becomes ``tool_calls``); the text
        held back when there were none."""
        if self.tool_filter is None:
            return ""
        from fmscript.ai.tools import parse_tool_calls

        text, self.tool_calls = parse_tool_calls(self.tool_filter.seen)
        if self.tool_calls:
            self.finish_reason = "tool_calls"
            return ""
        return self.tool_filter.flush()

    def close(self):
        if self._it is not None:
            self._it.close()

    @property
    def usage(self) -> dict:
        return {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
                "total_tokens": self.prompt_tokens + self.completion_tokens}


async def try_answer(request: Request, model: str, prompt: str, max_tokens: int) -> str:
    """The whole greedy answer to one user ``prompt``, made as a chat answer is (the prompt checked against the
    context, turns with the other requests, stopped when the client goes): the Admin Console's try-out."""
    from fmscript.ai import generate as gen

    body = ChatRequest(model=model, messages=[{"role": "user", "content": prompt}], max_tokens=max_tokens)
    messages = gen.check_messages(body.messages)
    await anyio.to_thread.run_sync(gen.load_model, model)
    prompt_tokens = await anyio.to_thread.run_sync(gen.check_prompt, model, messages, None)
    run = _Run(body, messages)
    run.max_tokens = context_bound(run.max_tokens, model_context(model), prompt_tokens)
    return await complete_unless_gone(request, request.app.state.generation, run, "a console try-out answer")


@router.post("/chat/completions", responses=S.ok(S.ChatCompletion),
             summary="Answer chat messages with a base or tuned model (stream: SSE)")
async def chat_completions(request: Request, body: ChatRequest):
    from fmscript.ai import generate as gen

    if body.n not in (None, 1):
        raise APIError(400, "Only n = 1 is supported.", param="n", code="invalid_value")
    messages = _messages(body.messages)
    tools = _tools(body)
    require_served(body.model)
    try:
        await anyio.to_thread.run_sync(gen.load_model, body.model)  # 404 before any answer starts
    except FMScriptError as e:
        raise from_fmscript(e, param="model") from None
    try:
        prompt_tokens = await anyio.to_thread.run_sync(gen.check_prompt, body.model, messages, tools)  # 400 first
    except FMScriptError as e:
        raise from_fmscript(e, param="messages", code="context_length_exceeded" if e.code == E_OUT_OF_RANGE
                            else None) from None
    run = _Run(body, messages, tools)
    run.max_tokens = context_bound(run.max_tokens, model_context(body.model), prompt_tokens)
    turns: Turns = request.app.state.generation
    cid = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())

    if not body.stream:
        try:
            text = await complete_unless_gone(request, turns, run)
        except FMScriptError as e:
            raise from_fmscript(e, param="messages") from None
        message = {"role": "assistant", "content": text, "refusal": None}
        if run.tool_calls:
            message["content"] = text or None
            message["tool_calls"] = run.tool_calls
        return {"id": cid, "object": "chat.completion", "created": created, "model": body.model,
                "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": run.finish_reason}],
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
        # Each turn's pieces are sent after the lock is let go, so a slow reader holds up only its own answer.
        turns.answers += 1
        run.start()
        done = False
        try:
            yield chunk({"role": "assistant", "content": ""})
            while not done:
                texts, done = await turns.turn(run)
                for text in texts:
                    if text:
                        yield chunk({"content": text})
            rest = run.finish_tools()
            if rest:
                yield chunk({"content": rest})
            for i, call in enumerate(run.tool_calls):
                yield chunk({"tool_calls": [{"index": i, "id": call["id"], "type": "function", "function": {
                    "name": call["function"]["name"], "arguments": call["function"]["arguments"]}}]})
            yield chunk({}, finish=run.finish_reason)
            if include_usage:
                yield chunk({}, usage=run.usage, choices=False)
            yield "data: [DONE]\n\n"
        except FMScriptError as e:
            done = True
            body_ = error_body(e.message, "server_error", None, "generation_failed")
            yield f"data: {json.dumps(body_)}\n\n"
        finally:
            turns.answers -= 1
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(run.close)
            if not done:
                sys.stderr.write("fmscript serve: a streamed chat answer was stopped: its client went away\n")

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
