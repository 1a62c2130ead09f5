"""Training data: find the JSONL file a script names, and check all of it before any job exists.

FileMaker's File option takes a list of paths, one per line, each with a ``file``-family prefix; the first file
that exists wins. A bad line is reported with its number, so a person can fix the file in one go.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from fmscript.limits import json_loads
from fmscript.errors import E_INVALID_DATE, FMScriptError

ROLES = ("system", "user", "assistant", "tool")


class TrainingDataError(FMScriptError):
    """A training file that cannot be used; ``line`` is the 1-based line at fault (0 for the whole file)."""

    code = E_INVALID_DATE

    def __init__(self, message: str, line: int = 0, path: str | None = None):
        where = f"line {line}: " if line else ""
        super().__init__(f"{'Training data ' + repr(path) + ', ' if path else 'Training data, '}{where}{message}")
        self.line = line
        self.path = path
        self.problem = message


@dataclass
class TrainingSummary:
    """What validation learnt about a file: its example count and bytes, for the job and the file record."""

    path: Path
    examples: int
    bytes: int
    longest: int = 0  # UTF-8 bytes of the longest example's messages plus role markers: a bound on its tokens


def validate_example(obj, line: int = 0, path: str | None = None) -> dict:
    """Check one chat example; return it unchanged. Raises :class:`TrainingDataError` naming the problem."""
    if not isinstance(obj, dict):
        raise TrainingDataError(f"expected a JSON object, found {_json_kind(obj)}.", line, path)
    if "messages" not in obj:
        raise TrainingDataError("the object has no \"messages\" key.", line, path)
    msgs = obj["messages"]
    if not isinstance(msgs, list) or not msgs:
        raise TrainingDataError("\"messages\" must be a non-empty list of {\"role\", \"content\"} objects.",
                                line, path)
    seen = set()
    for i, m in enumerate(msgs, 1):
        if not isinstance(m, dict):
            raise TrainingDataError(f"message {i} is {_json_kind(m)}, not an object.", line, path)
        role = m.get("role")
        if role not in ROLES:
            raise TrainingDataError(f"message {i} has role {json.dumps(role, ensure_ascii=False)}; "
                                    "the known roles are system, user, assistant and tool.", line, path)
        if role == "assistant" and m.get("tool_calls") is not None:
            _check_tool_calls(m["tool_calls"], i, line, path)
            if m.get("content") is None:
                seen.add(role)
                continue
        if "content" not in m:
            raise TrainingDataError(f"message {i} ({role}) has no \"content\".", line, path)
        if not isinstance(m["content"], str):
            raise TrainingDataError(f"message {i} ({role}) has content that is {_json_kind(m['content'])}, "
                                    "not text.", line, path)
        seen.add(role)
    if "tools" in obj and not (isinstance(obj["tools"], list) and all(isinstance(t, dict) for t in obj["tools"])):
        raise TrainingDataError("\"tools\" must be a list of tool definitions (objects).", line, path)
    if "user" not in seen:
        raise TrainingDataError("there is no \"user\" message.", line, path)
    if "assistant" not in seen:
        raise TrainingDataError("there is no \"assistant\" message.", line, path)
    if msgs[-1].get("role") != "assistant":
        raise TrainingDataError("the last message must be the assistant's answer (the text the model learns).",
                                line, path)
    return obj


def _check_tool_calls(calls, i: int, line: int, path) -> None:
    if not isinstance(calls, list) or not calls:
        raise TrainingDataError(f"message {i} (assistant) has \"tool_calls\" that is not a non-empty list.",
                                line, path)
    for c in calls:
        fn = c.get("function") if isinstance(c, dict) else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            raise TrainingDataError(f"message {i} (assistant) has a tool call without a function name.", line, path)


def _json_kind(v) -> str:
    return {dict: "an object", list: "a list", str: "text", bool: "true/false", type(None): "null",
            int: "a number", float: "a number"}.get(type(v), type(v).__name__)


def iter_examples(path: str | os.PathLike):
    """Yield ``(line_number, example)`` for every non-blank line, validating as it goes."""
    p = str(path)
    try:
        f = open(path, "rb")
    except OSError as e:
        raise TrainingDataError(f"the file cannot be read ({e.strerror}).", 0, p) from None
    with f:
        for n, raw in enumerate(f, 1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise TrainingDataError("the line is not UTF-8 text.", n, p) from None
            if n == 1:
                text = text.lstrip("\ufeff")
            if not text.strip():
                continue
            try:
                obj = json_loads(text)
            except json.JSONDecodeError as e:
                raise TrainingDataError(f"not valid JSON ({e.msg} at column {e.colno}).", n, p) from None
            except RecursionError:
                raise TrainingDataError("the JSON is nested too deeply.", n, p) from None
            except ValueError as e:  # an integer of more than 4,300 digits
                raise TrainingDataError(f"not usable JSON ({e}).", n, p) from None
            yield n, validate_example(obj, n, p)


def _message_bytes(m: dict) -> int:
    """A message's size for the memory estimate: its text, and the tool calls an assistant message may hold
    instead (their content is null)."""
    n = len((m.get("content") or "").encode())
    if m.get("tool_calls"):
        n += len(json.dumps(m["tool_calls"]).encode())
    return n


def validate_file(path: str | os.PathLike) -> TrainingSummary:
    """Validate a whole JSONL file. An empty file (no examples) is an error."""
    count = longest = 0
    for _, ex in iter_examples(path):
        count += 1
        tools = len(json.dumps(ex["tools"]).encode()) if ex.get("tools") else 0
        longest = max(longest, sum(_message_bytes(m) + 16 for m in ex["messages"]) + tools + 8)
    if count == 0:
        raise TrainingDataError("the file holds no training examples (it is empty).", 0, str(path))
    return TrainingSummary(Path(path), count, os.path.getsize(path), longest)


def load_examples(path: str | os.PathLike) -> list[dict]:
    return [ex for _, ex in iter_examples(path)]


# ---------------------------------------------------------------------------------------------- path lists

def resolve_training_file(path_list_text: str, base_dir: str | os.PathLike | None = None) -> Path:
    """The first existing file of a FileMaker path list, by the rules every step uses
    (:mod:`fmscript.data.paths`): relative paths in ``base_dir`` (the script's folder), then the current
    directory; none found: FileMaker's error 100, listing every path tried."""
    from fmscript.data.paths import resolve_input
    return resolve_input(path_list_text, base_dir, what="training file")
