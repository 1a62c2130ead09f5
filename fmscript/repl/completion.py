"""Tab completion for the REPL: what may come at the cursor, read from the text before it.

* at the start of a line: step names in English and zh-Hans (and calculation names, since a line may be a
  calculation);
* at the start of an option inside a step's ``[ … ]``: that step's option labels, in the language the step
  was typed in first;
* after ``Account Name:``, ``Model:`` / ``Base Model:``, ``Model Provider:`` or an On/Off option: the
  session's accounts, the models of the fmscript home, the providers, On/Off;
* in a calculation: functions (with their signature), ``Get ( … )`` names, ``$``/``$$`` variables and
  ``Table::Field`` names from the open database;
* after ``:``: the meta commands, and script names, files or on/off after them.

:func:`completions` is plain Python (the tests call it); :class:`FMScriptCompleter` wraps it for prompt-toolkit.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass

from .. import catalog

try:  # prompt-toolkit is a runtime dependency; keep the analysis importable without it
    from prompt_toolkit.completion import Completer, Completion
except ImportError:  # pragma: no cover
    Completer = object  # type: ignore[misc,assignment]
    Completion = None  # type: ignore[assignment]


@dataclass
class Candidate:
    text: str          # what replaces the word
    start: int         # negative offset of the word being replaced
    display: str = ""
    meta: str = ""


@dataclass
class Context:
    kind: str                  # meta | line | segment | value | string | none
    word: str = ""
    step: object = None        # catalog StepInfo of the step being typed
    label: str | None = None   # canonical label of the option being typed
    zh: bool = False
    line: str = ""


_CJK = re.compile(r"[\u3400-\u9fff]")
_LABEL_COLON = re.compile(r"^\s*([^:：;；\[\]()\"“”]+?)\s*[:：](?!:)")
_MODEL_LABELS = ("Model", "Base Model", "Embedding Model")
_TOKEN = re.compile(r"(?:\$\$?[\w.]*|[^\W\d][\w.]*::[^;；()\[\]\"“&+*/=<>≠≤≥^,]*|[^\W\d][\w.]*)$")


def analyse(text: str) -> Context:
    """Where the cursor is, for a buffer whose text up to the cursor is ``text``."""
    stripped = text.lstrip()
    if stripped.startswith(":") and not stripped.startswith("::"):
        return Context("meta", word=stripped)
    n = len(text)
    i = 0
    depth = 0
    in_opts = False
    line_start = 0
    seg_start = 0
    step = None
    while i < n:
        ch = text[i]
        if ch == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            if j >= n:
                return _string_context(text, i + 1, step, seg_start if in_opts and depth == 1 else None)
            i = j + 1
            continue
        if ch == "“":
            j = text.find("”", i + 1)
            if j == -1:
                return _string_context(text, i + 1, step, seg_start if in_opts and depth == 1 else None)
            i = j + 1
            continue
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            if j == -1:
                return Context("none")
            i = j + 2
            continue
        if text.startswith("//", i) and (depth > 0 or not text[line_start:i].strip()):
            j = text.find("\n", i)
            if j == -1:
                return Context("none")
            i = j
            continue
        if ch == "#" and depth == 0 and not text[line_start:i].strip():
            j = text.find("\n", i)
            if j == -1:
                return Context("none")
            i = j
            continue
        if ch == "\n" and depth == 0:
            line_start, in_opts, step = i + 1, False, None
        elif ch in "[［":
            if depth == 0 and not in_opts:
                info = catalog.step(text[line_start:i].strip())
                if info is not None:
                    step, in_opts, seg_start = info, True, i + 1
            depth += 1
        elif ch in "(（{":
            depth += 1
        elif ch in ")）]］}":
            depth = max(0, depth - 1)
            if depth == 0 and in_opts:
                in_opts = False
        elif ch in ";；" and in_opts and depth == 1:
            seg_start = i + 1
        i += 1
    zh = bool(step is not None and _CJK.search(text[line_start:]))
    if depth == 0 and not in_opts:
        line = text[line_start:]
        if "[" not in line and "［" not in line:
            return Context("line", word=line.lstrip(), line=line)
        return Context("none")
    if in_opts and depth == 1:
        seg = text[seg_start:]
        m = _LABEL_COLON.match(seg)
        if m:
            label = catalog.label(m.group(1))
            return Context("value", word=_token(seg[m.end():]), step=step, label=label, zh=zh)
        return Context("segment", word=seg.lstrip(), step=step, zh=zh)
    return Context("value", word=_token(text[max(line_start, 0):]), step=step, zh=zh)


def _string_context(text: str, start: int, step, seg_start) -> Context:
    label = None
    if seg_start is not None:
        m = _LABEL_COLON.match(text[seg_start:])
        if m:
            label = catalog.label(m.group(1))
    return Context("string", word=text[start:], step=step, label=label, line=text[start - 1])


def _token(text: str) -> str:
    m = _TOKEN.search(text)
    return m.group(0) if m else ""


def _match(word: str, *names: str) -> int:
    """0: prefix match, 1: contains, -1: no match (case- and blank-insensitive)."""
    w = catalog.norm(word)
    best = -1
    for name in names:
        k = catalog.norm(name)
        if k.startswith(w):
            return 0
        if w and len(w) >= 2 and w in k:
            best = 1
    return best


class CompletionSource:
    """Everything that can be offered, read from a :class:`~fmscript.repl.session.ReplSession` (or None)."""

    def __init__(self, repl=None):
        self.repl = repl
        self._models: tuple[float, list[str]] = (0.0, [])

    # -- names ---------------------------------------------------------------------------------------------
    def steps(self):
        return catalog.steps().items

    def functions(self):
        from ..calc.functions import registry
        seen = {}
        for d in registry().values():
            seen.setdefault(d.name, d)
        return list(seen.values())

    def variables(self) -> list[str]:
        if self.repl is None:
            return []
        return sorted(self.repl.variables(), key=lambda n: (n.startswith("$$"), n.casefold()))

    def tables(self):
        db = self.repl.database() if self.repl is not None else None
        if db is None:
            return {}
        try:
            return {name: db.table_of(name) for name, _ in db.occurrences().values()}
        except Exception:  # noqa: BLE001 - a locked or broken file must not break typing
            return {}

    def accounts(self) -> list[str]:
        if self.repl is None:
            return []
        return [getattr(a, "name", str(a)) for a in self.repl.session.accounts.values()]

    def models(self) -> list[str]:
        at, names = self._models
        if time.monotonic() - at > 5:
            try:
                from ..ai.modelstore import list_models
                names = [m["id"] for m in list_models()]
            except Exception:  # noqa: BLE001 - no AI stack, no home: no names
                names = []
            self._models = (time.monotonic(), names)
        return names

    def scripts(self) -> list[str]:
        return [cs.name for cs in self.repl.session.scripts.values()] if self.repl is not None else []


def completions(text: str, source: CompletionSource | None = None) -> list[Candidate]:
    """Candidates for the cursor at the end of ``text``, best first."""
    src = source or CompletionSource()
    m = _GET_ARG.search(text)
    if m and analyse(text).kind in ("line", "value", "segment"):
        return get_names(m.group(1))
    ctx = analyse(text)
    if ctx.kind == "meta":
        return _meta(ctx.word, src)
    if ctx.kind == "line":
        out = _steps(ctx.word, src)
        if re.fullmatch(r"[\w$.:]*", ctx.word):
            out += _calc(ctx.word, src)
        return out
    if ctx.kind == "segment":
        out = _labels(ctx, src)
        if out and ctx.word.strip():
            return out  # a label that fits beats a function of the same prefix
        return out + (_calc(_token(ctx.word), src) if _token(ctx.word) else [])
    if ctx.kind == "string":
        w, close = ctx.word, ("”" if ctx.line == "“" else '"')
        return [Candidate(n + close, -len(w), n, meta) for n, meta in _string_names(ctx, src)
                if _match(w, n) >= 0]
    if ctx.kind == "value":
        out = _values(ctx, src)
        return out + _calc(ctx.word, src)
    return []


def _meta(word: str, src) -> list[Candidate]:
    from .commands import COMMANDS
    cmd, sep, arg = word[1:].partition(" ")
    if not sep:
        return [Candidate(":" + c.name, -len(word), ":" + c.name, c.help) for c in COMMANDS.values()
                if c.name.startswith(cmd.casefold())]
    c = cmd.casefold()
    if c == "trace":
        return [Candidate(v, -len(arg), v) for v in ("on", "off") if v.startswith(arg.casefold())]
    if c == "run":
        return [Candidate(_quote_if_spaced(n), -len(arg), n, "script") for n in src.scripts()
                if _match(arg, n) >= 0]
    if c == "help":
        out = [Candidate(s.name, -len(arg), s.name, s.zh_name) for s in src.steps() if _match(arg, s.name, *s.zh) == 0]
        out += [Candidate(d.name, -len(arg), d.name, d.signature) for d in src.functions() if _match(arg, d.name) == 0]
        return sorted(out, key=lambda c: c.text.casefold())[:200]
    if c == "load":
        return _paths(arg)
    return []


def _quote_if_spaced(name: str) -> str:
    return f'"{name}"' if " " in name else name


def _paths(arg: str) -> list[Candidate]:
    import os
    from pathlib import Path

    p = Path(os.path.expanduser(arg or "."))
    folder, stem = (p, "") if arg.endswith("/") or not arg else (p.parent, p.name)
    out = []
    try:
        for child in sorted(folder.iterdir()):
            if child.name.startswith(".") or not child.name.startswith(stem):
                continue
            if child.is_dir() or child.suffix in (".fmscript", ".txt"):
                out.append(Candidate(child.name + ("/" if child.is_dir() else ""), -len(stem), child.name))
    except OSError:
        pass
    return out


def _steps(word: str, src) -> list[Candidate]:
    if not word.strip():
        return []
    first, second = [], []
    zh = bool(_CJK.search(word))
    for s in src.steps():
        names = (s.zh if zh else (s.name, *s.aliases)) or (s.name,)
        m = _match(word, *names)
        if m < 0:
            m2 = _match(word, s.name, *s.zh, *s.aliases)
            if m2 < 0:
                continue
            names, m = (s.name, *s.zh, *s.aliases), m2
        shown = next((n for n in names if _match(word, n) == m), names[0])
        meta = s.name if shown != s.name else (s.zh_name if s.zh else s.category)
        (first if m == 0 else second).append(Candidate(shown, -len(word), shown, meta))
    return first + second


def _labels(ctx: Context, src) -> list[Candidate]:
    from ..script.steps import builtin_steps
    step_labels, label_kind = builtin_steps().labels_of, builtin_steps().label_kind

    if ctx.step is None:
        return []
    word = ctx.word
    zh_typed = ctx.zh or bool(_CJK.search(word))
    out = []
    for label in step_labels(ctx.step.name):
        info = catalog.labels().get(label)
        zh_names = info.zh if info else ()
        flag = label_kind(label) == "flag"
        suffix = "" if flag else ": "
        name, meta = (zh_names[0], label) if zh_typed and zh_names else (label, zh_names[0] if zh_names else "")
        if _match(word, name) == 0 or (zh_typed and _match(word, label) == 0):
            out.append(Candidate(name + suffix, -len(word), name + ("" if flag else ":"),
                                 (meta + " · flag") if flag else meta))
    return out


def _values(ctx: Context, src) -> list[Candidate]:
    label, w = ctx.label, ctx.word
    if label is None:
        return []
    out = []
    if label == "Account Name":
        out += [Candidate(f'"{n}"', -len(w), n, "account") for n in src.accounts() if _match(w, n) >= 0]
    elif label in _MODEL_LABELS:
        out += [Candidate(f'"{n}"', -len(w), n, "model") for n in src.models() if _match(w, n) >= 0]
    elif label == "Model Provider":
        out += [Candidate(n, -len(w), n, "provider") for n in ("Local", "OpenAI", "Custom", "Anthropic")
                if _match(w, n) == 0]
    if label == "With dialog" or (ctx.step is not None and _on_off(ctx.step.syntax, label)):
        out += [Candidate(v, -len(w), v) for v in ("On", "Off") if _match(w, v) == 0]
    return out


def _on_off(syntax: str, label: str) -> bool:
    return bool(re.search(re.escape(label) + r"\s*:\s*On/Off", syntax, re.I))


def _string_names(ctx: Context, src) -> list[tuple[str, str]]:
    if ctx.label == "Account Name":
        return [(n, "account") for n in src.accounts()]
    if ctx.label in _MODEL_LABELS:
        return [(n, "model") for n in src.models()]
    return []


def _calc(word: str, src) -> list[Candidate]:
    if not word:
        return []
    out: list[Candidate] = []
    if word.startswith("$"):
        return [Candidate(v, -len(word), v, "variable") for v in src.variables()
                if v.casefold().startswith(word.casefold())]
    if "::" in word:
        table, _, prefix = word.partition("::")
        tables = src.tables()
        ti = next((t for name, t in tables.items() if name.casefold() == table.casefold()), None)
        if ti is None:
            return []
        return [Candidate(f"{table}::{f.name}", -len(word), f.name, f.type + (" global" if f.is_global else ""))
                for f in ti.fields if f.name.casefold().startswith(prefix.strip().casefold())]
    for name, ti in src.tables().items():
        if _match(word, name) == 0:
            out.append(Candidate(name + "::", -len(word), name + "::", "table"))
    first, second = [], []
    for d in src.functions():
        m = _match(word, d.name)
        if m >= 0:
            (first if m == 0 else second).append(Candidate(d.name, -len(word), d.name, d.signature))
    return out + first + second


def get_names(word: str) -> list[Candidate]:
    out = []
    zh = bool(_CJK.search(word))
    for g in catalog.gets().items:
        names = g.zh if zh and g.zh else (g.name,)
        for n in names[:1]:
            if _match(word, n) == 0:
                out.append(Candidate(n, -len(word), n, g.zh[0] if g.zh and not zh else g.name))
    return out


_GET_ARG = re.compile(r"\bGet\s*[(（]\s*([\w]*)$", re.I)


class FMScriptCompleter(Completer):
    """prompt-toolkit completer (wrap it in ``ThreadedCompleter`` so a slow lookup never blocks typing)."""

    def __init__(self, repl=None):
        self.source = CompletionSource(repl)

    def get_completions(self, document, complete_event):
        cands = completions(document.text_before_cursor, self.source)
        seen = set()
        for c in cands:
            key = (c.text, c.start)
            if key in seen:
                continue
            seen.add(key)
            yield Completion(c.text, start_position=c.start, display=c.display or c.text, display_meta=c.meta)


_CALLEE = re.compile(r"([^\W\d][\w.]*)\s*$")


def call_tip(text: str) -> str | None:
    """The signature of the function whose parentheses the cursor is in (``text`` ends at the cursor):
    ``Left ( "abc" ;`` → ``Left ( text ; numberOfCharacters )``.  Strings and comments are skipped; the
    innermost open parenthesis that follows a function name wins."""
    from ..calc.functions import registry

    opens: list[str | None] = []  # for each open "(": the function name before it (None: grouping)
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == '"' or ch == "“":
            close = "”" if ch == "“" else '"'
            j = i + 1
            while j < n and text[j] != close:
                j += 2 if (text[j] == "\\" and close == '"') else 1
            if j >= n:
                return None  # typing a text constant
            i = j + 1
            continue
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            if j == -1:
                return None
            i = j + 2
            continue
        if text.startswith("//", i):
            j = text.find("\n", i)
            if j == -1:
                return None
            i = j
            continue
        if ch in "(（":
            m = _CALLEE.search(text[max(0, i - 60):i])
            opens.append(m.group(1) if m else None)
        elif ch in ")）" and opens:
            opens.pop()
        i += 1
    functions = registry()
    for name in reversed(opens):
        if name is None:
            continue
        d = functions.get(name.casefold())
        if d is not None:
            return d.signature
        if name.casefold() == "let":
            return "Let ( [ var1 = expression1 ; var2 = expression2 … ] ; calculation )"
    return None
