"""What the REPL does with a piece of input, without any terminal: decide whether it is complete, run it,
and say what to show.

Input is one of:

* a **meta command** (``:vars``, ``:help Left`` …, see :mod:`fmscript.repl.commands`);
* **script steps** (the first line starts with a step name of the catalogue, in either language, or ``#``):
  they run at once in one persistent REPL frame, so ``$x`` set on one line is there on the next;
* a **script definition** (``Script "Name"`` … ``End Script``): loaded, run later with ``:run Name``;
* a **calculation** (anything else): evaluated and its value shown, like FileMaker's Data Viewer.

:func:`check_complete` follows IPython's ``check_complete``: ``("complete" | "incomplete" | "invalid", indent)``.
A block (If, Loop) or a bracket, parenthesis, string or comment that is still open makes input incomplete,
judged from the parser's own errors (:func:`fmscript.script.parse.parse_collect`), so the REPL and the parser
never disagree about what a complete step is.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Callable

from ..script.scan import skip_text_constant
from .. import catalog
from ..errors import ErrorList, FMScriptError, ScriptHalted
from ..redact import redact
from ..source import Source

REPL_PATH = "<repl>"
INDENT = "    "

_SCRIPT_HEADER = re.compile(r'^\s*(?:Script|脚本)\s*(?:"[^"]*"|“[^”]*”|「[^」]*」)\s*$', re.I)
# Parser messages that mean "the text stops before it is finished": more input may complete it.
_OPEN_MARKERS = ("never closed", "no closing quote", "no closing “*/”", "ends before")
_BLOCK_MARKERS = ("missing “End If”", "missing “End Loop”", "has no “End Script”")
_EARLY_MARKERS = ("ends too early",)

Output = Callable[[str, str], None]


def classify(text: str) -> str:
    """``"empty" | "meta" | "define" | "steps" | "calc"`` for a piece of REPL input."""
    stripped = text.strip()
    if not stripped:
        return "empty"
    if stripped.startswith(":") and not stripped.startswith("::"):
        return "meta"
    first = stripped.split("\n", 1)[0].strip()
    if _SCRIPT_HEADER.match(first):
        return "define"
    if first.startswith("#") or first.startswith("//"):
        return "steps"
    if step_of_line(first) is not None or _looks_like_step(first):
        return "steps"
    return "calc"


_STEPISH = re.compile(r"^[^\W\d][\w ./&'’\-]*?\s*[\[［]")
_WORDS = re.compile(r"^[^\W\d][\w/&'’\-]*(?:[ \t]+[^\W\d][\w/&'’\-]*)+$")


def _looks_like_step(line: str) -> bool:
    """A mistyped step (``Sett Variable [ … ]``, ``Perfom Script``): words then ``[``, or words alone, which a
    calculation never is; the parser then names the nearest step."""
    if "::" in line:
        return False
    if _STEPISH.match(line):
        return True
    if _WORDS.match(line):
        words = line.split()
        return not any(w.casefold() in ("and", "or", "xor", "not") for w in words)
    return False


def step_of_line(line: str):
    """The catalogue entry of the step a line starts with (its name runs to ``[`` or the line's end)."""
    m = re.match(r"\s*([^\[［]*)", line)
    name = m.group(1).strip() if m else ""
    if not name or name.startswith(("$", '"', "“", "(")):
        return None
    return catalog.step(name)


def _has(messages: list[str], markers) -> bool:
    return any(mk in msg for msg in messages for mk in markers)


def _mismatched(msg: str) -> bool:
    return "comes first" in msg


def block_depth(text: str) -> int:
    """How many If / Loop blocks are open at the end of ``text`` (for the continuation indent)."""
    depth = 0
    for line in text.splitlines():
        info = step_of_line(line)
        if info is None:
            continue
        if info.name in ("If", "Loop"):
            depth += 1
        elif info.name in ("End If", "End Loop") and depth:
            depth -= 1
    return depth


def check_complete(text: str) -> tuple[str, str]:
    """IPython's contract: ``("complete", "")``, ``("incomplete", indent)`` or ``("invalid", "")``.

    ``invalid`` input is still run when Enter is pressed, so that its error (with the caret) is shown.
    A trailing empty line ends an unfinished calculation (``1 +`` ⏎ ⏎ shows the error) but not an open
    block or bracket: those need their closing word, Esc Enter, or Ctrl-C.
    """
    try:
        return _check_complete(text)
    except FMScriptError:
        return "invalid", ""
    except Exception:  # noqa: BLE001 - a parser bug must not lock the prompt: let Enter run and report it
        return "invalid", ""


def _check_complete(text: str) -> tuple[str, str]:
    from ..script.custom_functions import open_block, split_functions
    from ..source import Source

    if open_block(text):  # Function "Name" ( … ) … End Function
        return "incomplete", INDENT
    if "unction" in text or "函数" in text:
        rest, defs, _ = split_functions(text, Source(REPL_PATH, text))
        if defs and not rest.strip():
            return "complete", ""
        text = rest if defs else text
    kind = classify(text)
    if kind in ("empty", "meta"):
        return "complete", ""
    blank_end = bool(re.search(r"\n[ \t]*$", text))
    if kind == "calc":
        msgs = _calc_errors(text)
        if not msgs:
            return "complete", ""
        if any(_mismatched(m) for m in msgs):
            return "invalid", ""
        if _has(msgs, _OPEN_MARKERS) or _unclosed_comment(text):
            return "incomplete", INDENT
        if _has(msgs, _EARLY_MARKERS) and not blank_end:
            return "incomplete", INDENT
        return "invalid", ""
    from ..script.parse import parse_collect
    from ..script.steps import builtin_steps

    _, errors = parse_collect(text, REPL_PATH, steps=builtin_steps())
    msgs = [e.message for e in errors]
    if not msgs:
        return "complete", ""
    if any(_mismatched(m) for m in msgs):
        return "invalid", ""
    if _has(msgs, _OPEN_MARKERS):
        return "incomplete", INDENT * (block_depth(text) + 1)
    if _has(msgs, _BLOCK_MARKERS):
        return "incomplete", INDENT * max(block_depth(text), 1 if kind == "define" else 0)
    return "invalid", ""


def _calc_errors(text: str) -> list[str]:
    from ..calc.compile import compile_calc

    try:
        compile_calc(text, Source(REPL_PATH, text))
    except FMScriptError as e:
        return [e.message]
    return []


def _unclosed_comment(text: str) -> bool:
    """A ``/*`` outside strings with no ``*/`` after it."""
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == '"' or ch == "“":
            j = skip_text_constant(text, i)
            i = n if j == -1 else j
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j == -1 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            if j == -1:
                return True
            i = j + 2
        else:
            i += 1
    return False


class ReplSession:
    """One interactive session: an :class:`~fmscript.interpreter.Interpreter`, one persistent frame for
    ``$`` variables, the scripts loaded so far, and an output sink ``out(text, kind)`` where ``kind`` is
    ``result``, ``empty``, ``error``, ``info``, ``trace`` or ``dialog``."""

    def __init__(self, interpreter=None, *, file: str | None = None, out: Output | None = None,
                 color: bool = False):
        from ..interpreter import Interpreter

        self.out: Output = out or _print_out
        self.color = color
        self.fm = interpreter if interpreter is not None else Interpreter(file=file, on_dialog=self._dialog)
        if interpreter is not None and interpreter.session.on_dialog is None:
            interpreter.session.on_dialog = self._dialog
        self.session = self.fm.session
        self.frame = self.fm.new_frame()
        self.trace = False
        self.quit = False

    # -- output -----------------------------------------------------------------------------------------
    def _dialog(self, title: str, message: str) -> None:
        text = (title + "\n" if title else "") + message
        self.out(text.replace("\r\n", "\n").replace("\r", "\n"), "dialog")

    def _on_trace(self, event: dict) -> None:
        from ..interpreter import format_trace

        self.out(format_trace(event), "trace")

    def show_error(self, e: FMScriptError) -> None:
        self.out(redact(e.render(self.color)), "error")

    # -- input --------------------------------------------------------------------------------------------
    def execute(self, text: str) -> None:
        """Run one complete piece of input; errors are shown, never raised (except :quit's flag)."""
        kind = classify(text)
        try:
            if kind == "empty":
                return
            if kind == "meta":
                from .commands import run_command
                run_command(self, text.strip())
            elif kind == "define":
                self.define(text)
            elif kind == "steps":
                self.run_steps(text)
            else:
                self.evaluate(text)
        except FMScriptError as e:
            self.show_error(e)
        except KeyboardInterrupt:
            self.out("interrupted", "error")
        except RecursionError:
            self.out("fmscript: the calculation or script nests too deeply", "error")
        except Exception as e:  # noqa: BLE001 - a bug in fmscript: say so in one line, keep the session
            import os
            if os.environ.get("FMSCRIPT_DEBUG"):
                raise
            self.out(f"fmscript: internal error: {e.__class__.__name__}: {e} (FMSCRIPT_DEBUG=1 shows the traceback)",
                     "error")

    def run_steps(self, text: str):
        """Run steps in the REPL's frame, as a top-level script; an Exit Script result is shown like a
        calculation's value.  A parser warning is shown unless the step it is about fails with that very
        error when it runs (one message, not two)."""
        warnings: list[FMScriptError] = []
        try:
            cs = self.fm.compile_steps(text, REPL_PATH, warnings)
        except ErrorList:
            self._show_warnings(warnings)
            raise
        if cs is None:
            self._show_warnings(warnings)
            return None
        try:
            result = self.fm.run_compiled(cs, self.frame, halt=True)
        except ScriptHalted:
            self._show_warnings(warnings)
            self.out("(script halted)", "info")
            return None
        except FMScriptError as e:
            self._show_warnings([w for w in warnings if not _same_place(w, e)])
            raise
        self._show_warnings(warnings)
        if any(st.name == "Exit Script" for st in cs.steps):
            self.show_value(result)
        return result

    def _show_warnings(self, warnings: list[FMScriptError]) -> None:
        for w in warnings:
            self.out(redact(w.render(self.color)), "info")

    def define(self, text: str) -> list[str]:
        names = self.fm.load_text(text, REPL_PATH)
        self.out("defined " + ", ".join(f"“{n}”" for n in names) + " (run with :run NAME)", "info")
        return names

    def load_file(self, path: str) -> list[str]:
        p = Path(path).expanduser()
        return self.fm.load_file(p)

    def set_trace(self, on: bool) -> None:
        """Tracing is compiled into the steps: the interpreter compiles what is loaded again."""
        if on == self.trace:
            return
        self.trace = on
        self.fm.trace = self._on_trace if on else False

    def evaluate(self, text: str):
        """The Data Viewer: evaluate a calculation in the REPL's frame and show its value."""
        self.session.last_error_detail = ""
        value = self.evaluate_quiet(text)
        self.show_value(value)
        if value == "?" and self.session.last_error_detail:
            self.out(redact(self.session.last_error_detail), "info")
        return value

    def evaluate_quiet(self, text: str):
        """The value of a calculation in the REPL's frame (``:run NAME PARAM``), nothing shown."""
        return self.fm.evaluate(text.strip(), self.frame, REPL_PATH)

    def show_value(self, value) -> None:
        from ..calc.values import to_text

        text = to_text(value)
        if text == "":
            self.out("(empty)", "empty")
        else:
            self.out(redact(text.replace("\r\n", "\n").replace("\r", "\n")), "result")

    # -- state for completion and meta commands -------------------------------------------------------------
    def variables(self) -> dict[str, object]:
        """``$`` variables of the REPL frame and ``$$`` variables of the session, by name as written."""
        return {**self.fm.variables(self.frame), **self.fm.globals}

    def database(self):
        """The session's database, or None while nothing has opened or needed one."""
        return self.fm.database

    def close(self) -> None:
        """Leaving the REPL commits the open record, as closing a FileMaker file does, and names the local
        fine-tuning jobs that are still going (the home's worker finishes them; nothing waits here)."""
        from ..ai.waiting import still_running

        for jid, status, follow in still_running(self.session):
            self.out(f"fine-tuning job {jid} is {status}; it goes on in the background ({follow})", "info")
        try:
            self.session.data.end_run(True)  # nothing to do while no database was opened
        except Exception:  # noqa: BLE001 - leaving must never fail
            pass


def _same_place(warning: FMScriptError, error: FMScriptError) -> bool:
    """The error a warned-about step gave when it ran (an unimplemented step: error 3 on that line)."""
    return (warning.code == error.code and warning.span is not None and error.span is not None
            and warning.span.line == error.span.line)


def _print_out(text: str, kind: str) -> None:
    stream = sys.stderr if kind in ("error", "trace", "info") else sys.stdout
    stream.write(text + "\n")
    stream.flush()


__all__ = ["ReplSession", "check_complete", "classify", "block_depth"]
