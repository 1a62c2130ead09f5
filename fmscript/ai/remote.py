"""The OpenAI and Custom providers: HTTP through the official ``openai`` SDK.

- **OpenAI**: ``api.openai.com`` (or ``OPENAI_BASE_URL`` when set, as the SDK reads it), the account's key (else
  ``OPENAI_API_KEY``), certificates always verified. Fine-Tune Model's response target is OpenAI's job object,
  as OpenAI returns it; AI Model Server keys that mean nothing to OpenAI are dropped with a warning.
- **Custom**: the same SDK with ``base_url`` = the account's Endpoint (an fmscript server, an AI Model Server or
  another OpenAI-compatible server); certificates are verified only when the script gives Verify SSL
  Certificates. Fine-Tune Model's response target is the AI Model Server's ``{"result": {...}}`` shape
  (millisecond ``created_at``, the training file's *name*): passed through when the server answers in it, else
  built from OpenAI's job object (an fmscript server puts the missing pieces in the job's ``metadata``).

Failures become FileMaker-style errors (``Get ( LastError )``) with a readable detail, never a traceback, and never
the API key: a connection failure is 1631, a timeout 1632, an HTTP error from the server (400, 401, 404, 429, 5xx)
1711 with the status and the server's message.
"""
from __future__ import annotations

import os
import time
from urllib.parse import urlsplit

from fmscript.ai.accounts import Provider
from fmscript.errors import (E_AI_REQUEST_FAILED, E_CONNECTION_FAILED, E_INVALID_PARAMETER, E_OUT_OF_RANGE, E_TIMEOUT,
                             FMScriptError)
from fmscript.redact import redact

TERMINAL = ("succeeded", "failed", "cancelled")
#: The OpenAI chat parameters passed through as they are; other keys of Parameters go in the body unchanged.
CHAT_KEYS = ("temperature", "top_p", "max_tokens", "max_completion_tokens", "stop", "seed", "presence_penalty",
             "frequency_penalty", "response_format", "logit_bias", "user", "n", "reasoning_effort",
             "tools", "tool_choice", "parallel_tool_calls", "metadata", "store", "service_tier", "verbosity")
#: The AI Model Server's keys and what OpenAI calls them (None: OpenAI has no such setting).
_OPENAI_KEYS = {"n_epochs": "n_epochs", "epochs": "n_epochs", "batch_size": "batch_size",
                "learning_rate_multiplier": "learning_rate_multiplier"}


def _env_float(name: str, default: float | None) -> float | None:
    try:
        v = os.environ.get(name)
        return float(v) if v else default
    except ValueError:
        return default


def _env_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


def normalize_endpoint(endpoint: str) -> str:
    """The SDK's ``base_url`` for a Custom Endpoint: ``…/v1/`` as given; a full ``…/chat/completions`` URL is
    cut back to its base; a bare ``http://host:port`` gets ``/v1``."""
    e = endpoint.strip()
    for tail in ("/chat/completions", "/chat/completions/", "/completions"):
        if e.endswith(tail):
            e = e[: -len(tail)]
    if urlsplit(e).path in ("", "/"):
        e = e.rstrip("/") + "/v1"  # a bare host: OpenAI-compatible servers answer under /v1
    return e.rstrip("/") + "/"


def _num(v, as_int: bool):
    if isinstance(v, str):
        t = v.strip()
        if t == "auto":
            return "auto"
        try:
            f = float(t)
        except ValueError:
            return v  # let the server say what is wrong
        return int(f) if as_int and f == int(f) else f
    return v


class RemoteProvider(Provider):
    """An OpenAI-compatible HTTP provider (``kind`` is ``OpenAI`` or ``Custom``) for one AI account."""

    def __init__(self, kind: str, account):
        self.kind = kind
        self.provider_name = kind
        self.account = account
        self._client = None

    def cancel_hint(self, job_id: str) -> str:
        base = normalize_endpoint(self.where)
        return f"cancel it with: curl -X POST {base}fine_tuning/jobs/{job_id}/cancel (with the account's key)"

    # ------------------------------------------------------------------------------------------ plumbing
    @property
    def spec_shape(self) -> bool:
        """Custom answers in the AI Model Server's shape; OpenAI in its own."""
        return self.kind != "OpenAI"

    @property
    def where(self) -> str:
        if self.kind == "OpenAI" and not self.account.endpoint:
            return os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1"
        return self.account.endpoint

    def http_client(self):
        """The SDK's HTTP client with certificate verification as the account says (tests wrap this)."""
        import openai

        verify = True if self.kind == "OpenAI" else bool(self.account.verify_ssl)
        return openai.DefaultHttpxClient(verify=verify)

    @property
    def client(self):
        if self._client is None:
            import openai

            key = self.account.api_key or None
            if self.kind == "Custom":
                if not self.account.endpoint:
                    raise FMScriptError("a Custom provider needs an Endpoint", code=E_INVALID_PARAMETER)
                base_url = normalize_endpoint(self.account.endpoint)
                key = key or "no-key"  # the SDK wants one; a server without a key ignores it
            else:
                base_url = normalize_endpoint(self.account.endpoint) if self.account.endpoint else None
                key = key or os.environ.get("OPENAI_API_KEY")
                if not key:
                    raise FMScriptError(f"the AI account “{self.account.name}” has no API key for OpenAI: give "
                                        "one in Configure AI Account", code=E_AI_REQUEST_FAILED)
            kwargs = {"api_key": key, "http_client": self.http_client(),
                      "max_retries": _env_int("FMSCRIPT_AI_MAX_RETRIES", 2)}
            if base_url:
                kwargs["base_url"] = base_url
            timeout = _env_float("FMSCRIPT_AI_TIMEOUT", None)
            if timeout:
                kwargs["timeout"] = timeout
            try:
                self._client = openai.OpenAI(**kwargs)
            except openai.OpenAIError as e:
                raise FMScriptError(redact(f"{self.kind}: {e}"), code=E_AI_REQUEST_FAILED) from None
        return self._client

    def _call(self, what: str, fn):
        """Run one SDK call; its failures become :class:`FMScriptError` with a readable, key-free message."""
        import openai

        try:
            return fn()
        except FMScriptError:
            raise
        except openai.APITimeoutError:
            raise FMScriptError(f"{what}: {self.where} did not answer in time (timeout).", code=E_TIMEOUT) from None
        except openai.APIConnectionError as e:
            raise FMScriptError(f"{what}: cannot reach {self.where}: {self._cause(e)}",
                                code=E_CONNECTION_FAILED) from None
        except openai.APIStatusError as e:
            code = getattr(e, "code", None) or ((getattr(e, "body", None) or {}).get("code")
                                                if isinstance(getattr(e, "body", None), dict) else None)
            raise FMScriptError(self._status_message(what, e), code=E_OUT_OF_RANGE if code ==
                                "context_length_exceeded" else E_AI_REQUEST_FAILED) from None
        except openai.OpenAIError as e:
            raise FMScriptError(redact(f"{what}: {e}"), code=E_AI_REQUEST_FAILED) from None

    def _cause(self, e: Exception) -> str:
        cause = e.__cause__ or e.__context__
        seen = 0
        while cause is not None and (cause.__cause__ or cause.__context__) is not None and seen < 5:
            if "CERTIFICATE_VERIFY_FAILED" in str(cause):
                break
            cause = cause.__cause__ or cause.__context__
            seen += 1
        text = str(cause or e).strip() or type(cause or e).__name__
        if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text.lower():
            return ("the server's TLS certificate could not be verified (" + text[:200] + "); turn off Verify SSL "
                    "Certificates only for a server you trust.")
        return redact(text[:300])

    def _status_message(self, what: str, e) -> str:
        status = e.status_code
        msg = ""
        try:
            body = e.response.json()
            err = body.get("error") if isinstance(body, dict) else None
            msg = (err.get("message") if isinstance(err, dict) else err) or body.get("detail") or ""
        except Exception:
            msg = (e.response.text or "")[:300] if getattr(e, "response", None) is not None else ""
        msg = " ".join(str(msg).split())[:500]
        host = urlsplit(self.where).netloc or self.where
        label = {400: "bad request", 401: "the API key was refused", 403: "not allowed", 404: "not found",
                 409: "conflict", 413: "too large", 422: "invalid request", 429: "rate limit or quota exceeded",
                 500: "server error", 502: "bad gateway", 503: "service unavailable",
                 504: "gateway timeout"}.get(status, "server error" if status >= 500 else "request failed")
        if status in (401, 403):
            msg = ""  # servers echo parts of a refused key; say nothing of it
        text = f"{what}: HTTP {status} from {host} ({label})" + (f": {msg}" if msg else ".")
        return redact(text)

    @staticmethod
    def _json(raw) -> dict:
        return raw.http_response.json()

    # ------------------------------------------------------------------------------------------ shapes
    def _spec_result(self, job: dict, training_file_name: str | None = None) -> dict:
        """The AI Model Server's response shape from OpenAI's job object (or the server's own, passed through)."""
        if isinstance(job.get("result"), dict):
            return job
        meta = job.get("metadata") or {}
        jid = str(job.get("id", ""))
        created_ms = meta.get("created_at_ms")
        if created_ms is None and jid.startswith("fm-ftjob-") and jid[9:].isdigit():
            created_ms = jid[9:]
        created = int(created_ms) if created_ms is not None and str(created_ms).isdigit() else \
            int(job.get("created_at") or 0) * 1000
        name = training_file_name or meta.get("training_file_name")
        if not name and job.get("training_file"):
            try:
                name = self.client.files.retrieve(job["training_file"]).filename
            except Exception:
                name = job["training_file"]
        return {"result": {
            "object": "fine_tuning.job",
            "id": jid,
            "file_id": job.get("training_file"),
            "model": job.get("model"),
            "created_at": created,
            "fine_tuned_model": job.get("fine_tuned_model") or meta.get("fine_tuned_model_name"),
            "status": job.get("status"),
            "training_file": name,
            "tags": ["fine-tune"],
        }}

    def _shape(self, job: dict, training_file_name: str | None = None) -> dict:
        return self._spec_result(job, training_file_name) if self.spec_shape else job

    # ------------------------------------------------------------------------------------------ fine-tuning
    def openai_job_args(self, params: dict, on_warning=None) -> dict:
        """OpenAI's create-job arguments for Fine-Tune Parameters (``method`` supervised, ``suffix``, ``seed``)."""
        hp, args = {}, {}
        for k, v in (params or {}).items():
            if v is None:
                continue
            if k in _OPENAI_KEYS:
                hp[_OPENAI_KEYS[k]] = _num(v, as_int=k != "learning_rate_multiplier")
            elif k in ("fine_tuned_model_name", "suffix"):
                args["suffix"] = str(v)
            elif k == "seed":
                args["seed"] = _num(v, as_int=True)
            elif k in ("metadata", "validation_file", "integrations"):
                args[k] = v
            elif on_warning:
                on_warning(f"the fine-tune parameter {k!r} has no OpenAI equivalent and is not sent to OpenAI "
                           "(OpenAI takes n_epochs, batch_size, learning_rate_multiplier, suffix and seed).")
        if hp:
            args["method"] = {"type": "supervised", "supervised": {"hyperparameters": hp}}
        return args

    def fine_tune(self, base_model: str, training_path: str, params: dict | None = None,
                  training_file_name: str | None = None, on_warning=None) -> dict:
        """Upload the JSONL (purpose fine-tune), create the job, return the response target's JSON."""
        client = self.client
        name = training_file_name or os.path.basename(training_path)

        def upload():
            with open(training_path, "rb") as fh:
                return client.files.create(file=(name, fh, "application/jsonl"), purpose="fine-tune")

        f = self._call("Fine-Tune Model (uploading the training file)", upload)
        if self.kind == "OpenAI":
            args = self.openai_job_args(params, on_warning)
        else:
            # Server-specific parameters travel inside hyperparameters (conventions.md), as the script gave them.
            args = {"hyperparameters": dict(params or {})} if params else {}
        raw = self._call("Fine-Tune Model", lambda: client.fine_tuning.jobs.with_raw_response.create(
            model=base_model, training_file=f.id, **args))
        job = self._json(raw)
        if self.kind == "Custom" and on_warning and isinstance(job.get("id"), str):
            self._relay_warnings(job["id"], on_warning)
        return self._shape(job, name)

    def _relay_warnings(self, job_id: str, on_warning) -> None:
        """Show the server's warnings about the new job (an fmscript server reports unknown parameters as
        ``warn`` events); a server without events is fine."""
        try:
            page = self._call("fine-tuning job events",
                              lambda: self.client.fine_tuning.jobs.list_events(job_id, limit=20))
        except FMScriptError:
            return
        for ev in reversed(page.data or []):
            if ev.level == "warn":
                on_warning(ev.message)

    def _retrieve(self, job_id: str, what: str) -> dict:
        raw = self._call(what, lambda: self.client.fine_tuning.jobs.with_raw_response.retrieve(job_id))
        return self._json(raw)

    def job_status(self, job_id: str) -> dict:
        return self._shape(self._retrieve(job_id, "fine-tuning job status"))

    def cancel(self, job_id: str) -> dict:
        raw = self._call("cancelling the fine-tuning job",
                         lambda: self.client.fine_tuning.jobs.with_raw_response.cancel(job_id))
        return self._shape(self._json(raw))

    def _new_events(self, job_id: str, seen: set) -> list[dict]:
        """Events not seen yet, oldest first, in the local engine's event shape (for progress bars)."""
        page = self._call("fine-tuning job events",
                          lambda: self.client.fine_tuning.jobs.list_events(job_id, limit=100))
        out = []
        for ev in reversed(page.data):
            if ev.id in seen:
                continue
            seen.add(ev.id)
            data = ev.data if isinstance(ev.data, dict) else None
            out.append({"id": ev.id, "ts": int(ev.created_at) * 1000, "level": {"warn": "warning"}.get(
                ev.level, ev.level), "message": ev.message, "data": data})
        return out

    def wait(self, job_id: str, timeout: float | None = None, on_progress=None) -> dict:
        """Poll until the job ends or ``timeout`` seconds pass; returns the job (current status on timeout)."""
        poll = _env_float("FMSCRIPT_AI_POLL", 2.0 if self.kind == "Custom" else 10.0)
        deadline = None if timeout is None else time.monotonic() + timeout
        seen: set = set()
        while True:
            job = self._retrieve(job_id, "Wait for Fine-Tune Job")
            if on_progress is not None:
                for ev in self._new_events(job_id, seen):
                    on_progress(ev)
            if job.get("status") in TERMINAL:
                return self._shape(job)
            if deadline is not None and time.monotonic() >= deadline:
                return self._shape(job)
            time.sleep(poll if deadline is None else max(0.0, min(poll, deadline - time.monotonic())))

    # ------------------------------------------------------------------------------------------ chat
    @staticmethod
    def _chat_kwargs(params: dict | None) -> dict:
        kwargs, extra = {}, {}
        for k, v in (params or {}).items():
            if k in ("temperature", "top_p", "presence_penalty", "frequency_penalty"):
                kwargs[k] = _num(v, as_int=False)
            elif k in ("max_tokens", "max_completion_tokens", "seed", "n"):
                kwargs[k] = _num(v, as_int=True)
            elif k in CHAT_KEYS:
                kwargs[k] = v
            else:
                extra[k] = v
        if extra:
            kwargs["extra_body"] = extra
        return kwargs

    def chat(self, model: str, messages: list[dict], params: dict) -> str:
        """Generate Response from Model: one chat completion; the answer's text."""
        return self.chat_turn(model, messages, params).text

    def chat_turn(self, model: str, messages: list[dict], params: dict | None, tools: list[dict] | None = None,
                  on_text=None):
        """One chat completion with ``tools`` passed through (OpenAI's shape) and, when ``on_text`` is given,
        streamed; a ``tools.Turn`` with the text, the tool calls and the usage."""
        from fmscript.ai.tools import Turn

        kwargs = self._chat_kwargs(params)
        if tools:
            kwargs["tools"] = tools
        if on_text is None:
            resp = self._call("Generate Response from Model", lambda: self.client.chat.completions.create(
                model=model, messages=messages, **kwargs))
            if not resp.choices:
                return Turn("")
            msg = resp.choices[0].message
            calls = [{"id": c.id, "type": "function", "function": {"name": c.function.name,
                                                                    "arguments": c.function.arguments or ""}}
                     for c in (msg.tool_calls or []) if getattr(c, "function", None) is not None]
            usage = ({"prompt_tokens": resp.usage.prompt_tokens, "completion_tokens": resp.usage.completion_tokens}
                     if resp.usage else {})
            return Turn(msg.content or "", calls, usage, resp.choices[0].finish_reason or "stop")

        def streamed():
            text, calls, usage, finish = [], {}, {}, "stop"
            stream = self.client.chat.completions.create(model=model, messages=messages, stream=True,
                                                         stream_options={"include_usage": True}, **kwargs)
            for chunk in stream:
                if chunk.usage:
                    usage = {"prompt_tokens": chunk.usage.prompt_tokens,
                             "completion_tokens": chunk.usage.completion_tokens}
                for ch in chunk.choices or []:
                    d = ch.delta
                    if d is not None and d.content:
                        text.append(d.content)
                        on_text(d.content)
                    for tc in (d.tool_calls or []) if d is not None else []:
                        c = calls.setdefault(tc.index, {"id": "", "type": "function",
                                                        "function": {"name": "", "arguments": ""}})
                        if tc.id:
                            c["id"] = tc.id
                        if tc.function is not None:
                            c["function"]["name"] += tc.function.name or ""
                            c["function"]["arguments"] += tc.function.arguments or ""
                    if ch.finish_reason:
                        finish = ch.finish_reason
            return Turn("".join(text), [calls[i] for i in sorted(calls)], usage, finish)

        return self._call("Generate Response from Model", streamed)

    # ------------------------------------------------------------------------------------------ embeddings
    def embed(self, model: str, inputs: list[str], params: dict | None = None) -> list:
        """``embeddings.create`` (float encoding); one vector per input, in the inputs' order."""
        kwargs = {}
        for k, v in (params or {}).items():
            if k == "dimensions":
                kwargs["dimensions"] = _num(v, as_int=True)
            elif k == "user":
                kwargs["user"] = str(v)
        resp = self._call("Embeddings", lambda: self.client.embeddings.create(
            model=model, input=list(inputs), encoding_format="float", **kwargs))
        data = sorted(resp.data, key=lambda d: d.index)
        if len(data) != len(inputs):
            raise FMScriptError(f"Embeddings: {self.where} returned {len(data)} vectors for {len(inputs)} inputs",
                                code=E_AI_REQUEST_FAILED)
        return [d.embedding for d in data]

    def __repr__(self) -> str:
        return f"RemoteProvider({self.kind!r}, endpoint={self.account.endpoint!r})"


def make_provider(kind: str, account) -> RemoteProvider:
    """The provider object for ``Model Provider: OpenAI`` or ``Custom`` (see :mod:`fmscript.ai.accounts`)."""
    if kind not in ("OpenAI", "Custom"):
        raise FMScriptError(f"unknown remote provider {kind!r}", code=E_AI_REQUEST_FAILED)
    return RemoteProvider(kind, account)

