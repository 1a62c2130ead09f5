"""Tool calling: Tool Definitions, the model's tool calls, and the agentic loop of Generate Response from Model.

- **Tool Definitions** are read in FileMaker's form (``{"name", "description", "parameters"}``, one object, an array
  of them, or ``{"tools": [...]}``) and in OpenAI's (``{"type": "function", "function": {...}}``); they are
  checked before any model is asked (names, JSON Schema of the parameters) and handed on in OpenAI's shape.
- **Tool calls in text** (the Local engine): the Hermes/Qwen form ``<tool_call>{"name": …, "arguments": …}
  </tool_call>`` and the llama-3 JSON form (the whole answer is ``{"name": …, "parameters": …}``, optionally after
  ``<|python_tag|>``, several joined by ``;``) are parsed back into OpenAI's ``tool_calls``.
- **The loop** (:func:`run_agent`): the provider answers; with agentic mode Off the first tool call ends the step
  unexecuted; with it On each call goes to ``call_tool(name, arguments)`` (the step runs the script of that name)
  and its result goes back to the model, for at most ``max_rounds`` rounds. An unknown tool or arguments that do
  not fit the tool's schema go back to the model as a structured error, never as a crash.

This module knows nothing of scripts: the step hands in ``call_tool``.
"""
from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Callable

from fmscript.limits import json_loads
from fmscript.errors import E_JSON_INVALID, E_OUT_OF_RANGE, FMScriptError

#: Model rounds one Generate Response from Model may take in agentic mode before it gives up.
MAX_ROUNDS = 10
_NAME = re.compile(r"^[A-Za-z0-9_.\- ]{1,64}$")


@dataclass
class Turn:
    """One answer of a model: its text, the tool calls it made (OpenAI's shape) and the token counts."""

    text: str
    tool_calls: list[dict] = field(default_factory=list)
    usage: dict = field(default_factory=dict)
    finish_reason: str = "stop"


@dataclass
class ToolSet:
    """Checked tool definitions: OpenAI's ``tools`` list and each tool's parameter schema by name."""

    tools: list[dict]
    schemas: dict[str, dict]

    @property
    def names(self) -> list[str]:
        return list(self.schemas)


def _bad(msg: str) -> FMScriptError:
    return FMScriptError(f"Tool Definitions: {msg}", code=E_JSON_INVALID)


def parse_tool_definitions(value) -> ToolSet | None:
    """Tool Definitions (text or parsed JSON) → :class:`ToolSet`; empty → None. Raises error 1630 naming the
    problem (the JSON error's place, the tool, the key)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str):
        try:
            value = json_loads(value)
        except json.JSONDecodeError as e:
            raise _bad(f"not valid JSON ({e.msg} at line {e.lineno}, column {e.colno})") from None
    if isinstance(value, dict) and "tools" in value and not ("name" in value or "function" in value):
        value = value["tools"]
    items = [value] if isinstance(value, dict) else value
    if not isinstance(items, list):
        raise _bad("expected a tool object or an array of them")
    tools, schemas = [], {}
    for i, t in enumerate(items, 1):
        if not isinstance(t, dict):
            raise _bad(f"tool {i} is not an object")
        fn = t.get("function") if t.get("type") == "function" or "function" in t else t
        if not isinstance(fn, dict):
            raise _bad(f"tool {i}: \"function\" must be an object")
        name = fn.get("name")
        if not isinstance(name, str) or not _NAME.match(name):
            raise _bad(f"tool {i} needs a \"name\" of 1 to 64 letters, digits, spaces, '_', '.' or '-'"
                       + (f" (got {json.dumps(name, ensure_ascii=False)})" if name is not None else ""))
        if name in schemas:
            raise _bad(f"the tool “{name}” is defined twice")
        desc = fn.get("description", "")
        if not isinstance(desc, str):
            raise _bad(f"tool “{name}”: \"description\" must be text")
        params = fn.get("parameters", fn.get("input_schema", {"type": "object", "properties": {}}))
        if not isinstance(params, dict):
            raise _bad(f"tool “{name}”: \"parameters\" must be a JSON Schema object")
        import jsonschema

        try:
            jsonschema.validators.validator_for(params).check_schema(params)
        except jsonschema.SchemaError as e:
            raise _bad(f"tool “{name}”: \"parameters\" is not a valid JSON Schema ({e.message})") from None
        schemas[name] = params
        tools.append({"type": "function", "function": {"name": name, "description": desc, "parameters": params}})
    if not tools:
        return None
    return ToolSet(tools, schemas)


def new_call_id() -> str:
    return "call_" + uuid.uuid4().hex[:24]


def make_call(name: str, arguments) -> dict:
    """A tool call in OpenAI's shape (``arguments`` as JSON text)."""
    args = arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)
    return {"id": new_call_id(), "type": "function", "function": {"name": str(name), "arguments": args}}


# ------------------------------------------------------------------------------------------ tool calls in text
TOOL_CALL_OPEN = "<tool_call>"
TOOL_CALL_CLOSE = "</tool_call>"
_HERMES = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.S)
PYTHON_TAG = "<|python_tag|>"


def _call_from_obj(obj) -> dict | None:
    if not isinstance(obj, dict) or not isinstance(obj.get("name"), str):
        return None
    if "function" in obj and isinstance(obj["function"], dict):  # an OpenAI-shaped call written as text
        return _call_from_obj(obj["function"])
    args = obj.get("arguments", obj.get("parameters", {}))
    if isinstance(args, str):
        return make_call(obj["name"], args)
    return make_call(obj["name"], args if args is not None else {})


def parse_tool_calls(text: str) -> tuple[str, list[dict]]:
    """(the answer's text without its tool calls, the calls in OpenAI's shape). A call whose JSON is broken is
    kept as a call with the raw text as its arguments, so the model hears what was wrong."""
    if TOOL_CALL_OPEN in text:
        calls = []
        for m in _HERMES.finditer(text):
            body = m.group(1).strip()
            try:
                call = _call_from_obj(json_loads(body))
            except json.JSONDecodeError:
                call = None
            if call is None:
                name = re.search(r'"name"\s*:\s*"([^"]*)"', body)
                call = make_call(name.group(1) if name else "", body)
            calls.append(call)
        return text[:text.index(TOOL_CALL_OPEN)].strip(), calls
    stripped = text.strip()
    if stripped.startswith(PYTHON_TAG):
        stripped = stripped[len(PYTHON_TAG):].strip()
    if stripped.startswith("{") and '"name"' in stripped:
        calls = []
        for part in _split_json_objects(stripped):
            try:
                call = _call_from_obj(json_loads(part))
            except json.JSONDecodeError:
                return text, []
            if call is None:
                return text, []
            calls.append(call)
        return "", calls
    return text, []


def _split_json_objects(text: str) -> list[str]:
    """``{…}; {…}`` → the objects' texts (llama-3 joins parallel calls with ``;``)."""
    parts, depth, start, in_str, esc = [], 0, None, False, False
    for i, ch in enumerate(text):
        if in_str:
            esc = (ch == "\\") and not esc
            if ch == '"' and not esc:
                in_str = False
            continue
        if ch == '"':
            in_str, esc = True, False
        elif ch == "{":
            if depth == 0:
                start = i
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0 and start is not None:
                parts.append(text[start:i + 1])
                start = None
        elif depth == 0 and ch not in " \t\r\n;":
            return [text]
    return parts or [text]


class ToolTextFilter:
    """Streams an answer's text while holding back what may be a tool call (so a streamed Response never shows
    ``<tool_call>`` markup): text from ``<tool_call>`` on, or a whole answer that starts like a JSON call."""

    def __init__(self):
        self.seen = ""
        self.sent = 0
        self.held = False

    def feed(self, piece: str) -> str:
        self.seen += piece
        if self.held:
            return ""
        if self.sent == 0:
            head = self.seen.lstrip()
            if not head or PYTHON_TAG.startswith(head):
                return ""  # nothing yet, or maybe the start of llama-3's tag
            if head.startswith("{") or head.startswith(PYTHON_TAG):
                self.held = True
                return ""
        cut = self.seen.find(TOOL_CALL_OPEN, self.sent)
        if cut >= 0:
            out, self.sent, self.held = self.seen[self.sent:cut], cut, True
            return out
        keep = 0
        for k in range(min(len(TOOL_CALL_OPEN) - 1, len(self.seen) - self.sent), 0, -1):
            if self.seen.endswith(TOOL_CALL_OPEN[:k]):
                keep = k
                break
        end = len(self.seen) - keep
        out, self.sent = self.seen[self.sent:end], end
        return out

    def flush(self) -> str:
        """What is left once the answer is whole and has no tool call."""
        out, self.sent = self.seen[self.sent:], len(self.seen)
        return out


# ------------------------------------------------------------------------------------------ the loop
def tool_error(kind: str, message: str, **more) -> str:
    """The structured error a model gets back instead of a tool's result."""
    return json.dumps({"error": {"type": kind, "message": message, **more}}, ensure_ascii=False)


def check_arguments(tools: ToolSet, call: dict) -> tuple[str, dict | None, str | None]:
    """(name, arguments, None) for a call that can run, else (name, None, the error for the model)."""
    fn = call.get("function") or {}
    name = fn.get("name", "")
    if name not in tools.schemas:
        return name, None, tool_error("unknown_tool", f"There is no tool named {json.dumps(name)}.",
                                      tools=tools.names)
    raw = fn.get("arguments") or "{}"
    try:
        args = json_loads(raw) if isinstance(raw, str) else raw
    except json.JSONDecodeError as e:
        return name, None, tool_error("invalid_arguments", f"The arguments are not valid JSON: {e.msg}.",
                                      tool=name)
    if not isinstance(args, dict):
        return name, None, tool_error("invalid_arguments", "The arguments must be a JSON object.", tool=name)
    import jsonschema

    errors = sorted(jsonschema.validators.validator_for(tools.schemas[name])(tools.schemas[name])
                    .iter_errors(args), key=lambda e: list(e.path))
    if errors:
        e = errors[0]
        where = "/".join(str(p) for p in e.path)
        return name, None, tool_error("invalid_arguments", e.message + (f" (at {where})" if where else ""),
                                      tool=name)
    return name, args, None


@dataclass
class AgentResult:
    """What the loop ends with: the final text, the messages it added, and (agentic mode Off) the unexecuted
    tool calls."""

    text: str
    new_messages: list[dict]
    tool_calls: list[dict] = field(default_factory=list)
    rounds: int = 0
    usage: dict = field(default_factory=dict)


def assistant_message(turn: Turn) -> dict:
    m: dict = {"role": "assistant", "content": turn.text}
    if turn.tool_calls:
        m["content"] = turn.text or None
        m["tool_calls"] = turn.tool_calls
    return m


def run_agent(chat_turn: Callable[..., Turn], messages: list[dict], tools: ToolSet | None, agentic: bool,
              call_tool: Callable[[str, dict], str] | None, on_text: Callable[[str], None] | None = None,
              max_rounds: int = MAX_ROUNDS) -> AgentResult:
    """Ask, run tools, ask again, until the model answers without a tool call. ``chat_turn(messages, tools,
    on_text)`` is one model call (the provider's); ``call_tool(name, arguments)`` runs a tool and returns its
    result as text. Past ``max_rounds`` rounds: error 14 (out of range), and nothing is returned."""
    convo = list(messages)
    added: list[dict] = []
    usage = {"prompt_tokens": 0, "completion_tokens": 0}
    rounds = 0
    while True:
        rounds += 1
        turn = chat_turn(convo, tools.tools if tools else None, on_text)
        for k in usage:
            usage[k] += int(turn.usage.get(k) or 0)
        msg = assistant_message(turn)
        convo.append(msg)
        added.append(msg)
        if not turn.tool_calls:
            return AgentResult(turn.text, added, [], rounds, usage)
        if not agentic or tools is None or call_tool is None:
            return AgentResult("", added, turn.tool_calls, rounds, usage)
        if rounds >= max_rounds:
            raise FMScriptError(f"the model was still calling tools after {max_rounds} rounds (last: "
                                f"{', '.join(c['function']['name'] for c in turn.tool_calls)}); no answer was "
                                "written", code=E_OUT_OF_RANGE)
        for call in turn.tool_calls:
            name, args, error = check_arguments(tools, call)
            result = error if error is not None else call_tool(name, args)
            tool_msg = {"role": "tool", "tool_call_id": call["id"], "name": name, "content": result}
            convo.append(tool_msg)
            added.append(tool_msg)
