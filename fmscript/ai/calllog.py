"""Set AI Call Logging: every AI call of a session, one JSON line per call, appended to the log files that are on.

FileMaker writes ``LLMDebug.log`` (or the Filename given) in the user's Documents folder and appends to it; so does
fmscript (the step resolves the path). Each line holds ``time`` (UTC), ``call`` (the provider method: ``chat``,
``fine_tune``, ``embed``…), ``provider``, ``account``, ``model``, ``prompt``, ``response``, ``tokens`` (when the
provider counts them), ``duration_ms`` and ``error`` (when the call failed). Verbose adds ``details`` (the whole
messages, parameters, tool definitions and tool calls, embedding vectors); Truncate Messages shortens long
texts and vectors in them. Secrets are masked (:func:`fmscript.redact.redact`) before a line is written, and a
log file is created owner-only (0600).

Every call made through an account's provider is recorded here, by :class:`LoggedProvider` (the one door of
:attr:`fmscript.ai.accounts.Account.provider`). Code that makes an AI call some other way records it with
:func:`record`.
"""
from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from fmscript.errors import E_CANNOT_CREATE_FILE, FMScriptError
from fmscript.redact import redact

DEFAULT_FILENAME = "LLMDebug.log"
#: Truncate Messages: texts longer than this keep their start and end; vectors keep their first items.
TRUNCATE_CHARS = 500
TRUNCATE_ITEMS = 8
EXTENSION_KEY = "ai_call_log"
_WRITE_LOCK = threading.Lock()


@dataclass
class LogFile:
    path: Path
    verbose: bool = False
    truncate: bool = False


class CallLog:
    """The log files that are on for one session (FileMaker: for the file, until it closes or logging is Off)."""

    def __init__(self):
        self.files: dict[str, LogFile] = {}

    def turn_on(self, path: str | os.PathLike, verbose: bool = False, truncate: bool = False) -> None:
        p = Path(path)
        self.files[str(p)] = LogFile(p, verbose, truncate)

    def turn_off(self) -> None:
        """Off stops logging in every log file (FileMaker needs no filename for it)."""
        self.files.clear()

    @property
    def active(self) -> bool:
        return bool(self.files)

    def write(self, entry: dict, details: dict | None = None) -> None:
        for lf in list(self.files.values()):
            e = dict(entry)
            if lf.verbose and details:
                e["details"] = details
            if lf.truncate:
                e = _shorten(e)
            line = redact(json.dumps(e, ensure_ascii=False, default=str)) + "\n"
            _append(lf.path, line)


def _append(path: Path, line: str) -> None:
    with _WRITE_LOCK:
        try:
            if not path.parent.exists():
                path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            with os.fdopen(fd, "a", encoding="utf-8") as fh:
                fh.write(line)
        except OSError as e:
            raise FMScriptError(f"the AI call log {path} cannot be written ({e.strerror})",
                                code=E_CANNOT_CREATE_FILE) from None


def _shorten(v, top: bool = True):
    if isinstance(v, str) and len(v) > TRUNCATE_CHARS:
        half = TRUNCATE_CHARS // 2
        return f"{v[:half]}…[{len(v) - 2 * half} characters left out]…{v[-half:]}"
    if isinstance(v, list):
        if len(v) > TRUNCATE_ITEMS and all(isinstance(x, (int, float)) for x in v):
            return v[:TRUNCATE_ITEMS] + [f"…{len(v) - TRUNCATE_ITEMS} more"]
        return [_shorten(x, False) for x in v]
    if isinstance(v, dict):
        return {k: (_shorten(x, False) if (k != "time" or not top) else x) for k, x in v.items()}
    return v


def for_session(session) -> CallLog:
    """The session's call log (created on first use; it lives in ``session.extensions``)."""
    log = session.extensions.get(EXTENSION_KEY)
    if log is None:
        log = session.extensions[EXTENSION_KEY] = CallLog()
    return log


def record(target, *, call: str, provider: str = "", model: str = "", prompt=None, response=None,
           tokens: dict | None = None, duration_s: float | None = None, error: str | None = None,
           account: str = "", details: dict | None = None) -> None:
    """Write one AI call to the log files that are on (nothing when logging is off). ``target`` is a session or
    a :class:`CallLog`. ``details`` appear only in verbose logs."""
    log = target if isinstance(target, CallLog) else (target.extensions.get(EXTENSION_KEY) if target is not None
                                                       else None)
    if log is None or not log.active:
        return
    entry = {"time": datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
             "call": call, "provider": provider, "account": account, "model": model, "prompt": prompt,
             "response": response}
    if tokens:
        entry["tokens"] = tokens
    if duration_s is not None:
        entry["duration_ms"] = round(duration_s * 1000, 1)
    if error is not None:
        entry["error"] = error
    log.write(entry, details)


# ------------------------------------------------------------------------------------------ the one door
#: Provider methods that are not AI calls (help texts).
_NOT_CALLS = frozenset({"unsupported", "cancel_hint"})


def _last_user(messages) -> str | None:
    if isinstance(messages, str):
        return messages
    for m in reversed(messages or []):
        if isinstance(m, dict) and m.get("role") == "user":
            return m.get("content")
    return None


def _describe(name: str, args: tuple, kwargs: dict, result) -> dict:
    """prompt, response, tokens and details of one provider call, from its arguments and result."""
    model = kwargs.get("model") or kwargs.get("base_model") or (args[0] if args and isinstance(args[0], str)
                                                                 else "")
    out: dict = {"model": model, "details": {}}
    messages = kwargs.get("messages", args[1] if len(args) > 1 and isinstance(args[1], list) else None)
    if messages is not None:
        out["prompt"] = _last_user(messages)
        out["details"]["messages"] = messages
    else:
        rest = [a for a in args[1:] if isinstance(a, (str, int, float, list, dict))]
        out["prompt"] = rest[0] if len(rest) == 1 else (rest or None)
    for k in ("params", "tools"):
        v = kwargs.get(k, None)
        if v is None and k == "params" and len(args) > 2 and isinstance(args[2], dict):
            v = args[2]
        if v:
            out["details"][k] = v
    text = getattr(result, "text", None)
    if text is not None:  # a Turn
        out["response"] = text
        if getattr(result, "tool_calls", None):
            out["details"]["tool_calls"] = result.tool_calls
        usage = getattr(result, "usage", None) or {}
        if usage:
            out["tokens"] = usage
    elif isinstance(result, dict) and "vectors" in result:
        out["response"] = f"{len(result['vectors'])} vector(s)"
        out["details"]["vectors"] = result["vectors"]
    else:
        out["response"] = result
    return out


class LoggedProvider:
    """An account's provider as the AI steps see it: every method call is timed and, when the session logs AI
    calls, recorded. Attributes other than methods pass straight through."""

    def __init__(self, provider, account, log: CallLog):
        object.__setattr__(self, "_provider", provider)
        object.__setattr__(self, "_account", account)
        object.__setattr__(self, "_log", log)

    @property
    def wrapped(self):
        """The provider itself."""
        return self._provider

    def __getattr__(self, name: str):
        attr = getattr(self._provider, name)
        if name.startswith("_") or name in _NOT_CALLS or not callable(attr):
            return attr
        log, acct, provider = self._log, self._account, self._provider

        def logged(*args, **kwargs):
            if not log.active:
                return attr(*args, **kwargs)
            start = time.perf_counter()
            try:
                result = attr(*args, **kwargs)
            except BaseException as e:
                d = _describe(name, args, kwargs, None)
                record(log, call=name, provider=getattr(provider, "provider_name", ""), account=acct.name,
                       model=d["model"], prompt=d.get("prompt"), response=None,
                       duration_s=time.perf_counter() - start,
                       error=getattr(e, "message", None) or f"{type(e).__name__}: {e}", details=d["details"])
                raise
            d = _describe(name, args, kwargs, result)
            record(log, call=name, provider=getattr(provider, "provider_name", ""), account=acct.name,
                   model=d["model"], prompt=d.get("prompt"), response=d.get("response"), tokens=d.get("tokens"),
                   duration_s=time.perf_counter() - start, details=d["details"])
            return result
        return logged

    def __setattr__(self, name, value):
        setattr(self._provider, name, value)

    def __repr__(self) -> str:
        return repr(self._provider)
