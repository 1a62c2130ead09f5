"""The terminal face of the REPL: a prompt-toolkit ``PromptSession`` around a :class:`ReplSession`.

As in ptpython and IPython: multi-line input whose Enter key asks :func:`check_complete` whether to run or
to add a line, colour from the Pygments lexer, a ``ThreadedCompleter``, ``FileHistory`` in the fmscript home,
and a loop that survives errors and Ctrl-C.
"""
from __future__ import annotations

import os
import re
import sys

from prompt_toolkit import PromptSession
from prompt_toolkit.application.current import get_app
from prompt_toolkit.auto_suggest import AutoSuggestFromHistory
from prompt_toolkit.completion import ThreadedCompleter
from prompt_toolkit import search
from prompt_toolkit.filters import Condition, is_searching
from prompt_toolkit.formatted_text import ANSI, FormattedText
from prompt_toolkit.history import FileHistory, InMemoryHistory
from prompt_toolkit.key_binding import KeyBindings
from prompt_toolkit.layout.processors import HighlightMatchingBracketProcessor
from prompt_toolkit.lexers import PygmentsLexer
from prompt_toolkit.shortcuts import print_formatted_text
from prompt_toolkit.styles import Style, merge_styles, style_from_pygments_cls

from .completion import FMScriptCompleter, call_tip
from .session import ReplSession, check_complete, classify

PROMPT = "fm> "
CONTINUATION = "... "

_KIND_STYLE = {
    "result": "",
    "empty": "class:empty",
    "error": "",
    "info": "class:info",
    "trace": "class:trace",
    "dialog": "class:dialog",
}

UI_STYLE = Style.from_dict({
    "prompt": "ansigreen bold",
    "continuation": "ansigreen",
    "empty": "ansibrightblack italic",
    "info": "ansibrightblack",
    "trace": "ansicyan",
    "dialog": "ansiyellow",
    "bottom-toolbar": "noreverse",
    "calltip": "ansicyan",
    "matching-bracket.cursor": "bold ansiyellow",
    "matching-bracket.other": "bold ansiyellow underline",
})


def _pygments_style():
    from pygments.styles import get_style_by_name
    try:
        return style_from_pygments_cls(get_style_by_name("monokai" if _dark() else "default"))
    except Exception:  # noqa: BLE001 - a missing style only loses colour
        return Style([])


def _dark() -> bool:
    return os.environ.get("FMSCRIPT_STYLE", "dark") != "light"


def key_bindings(is_complete=check_complete, completer=None) -> KeyBindings:
    """Enter runs complete input and adds an (indented) line otherwise; Esc Enter always runs.

    Tab completes at once when there is one candidate (or a common prefix), computed in the key handler
    so that fast typing after Tab never races the completion thread; otherwise it opens the menu.
    """
    kb = KeyBindings()
    editing = ~is_searching  # while Ctrl-R searches, the current buffer is the search text, not the input

    @kb.add("enter", filter=editing & Condition(lambda: get_app().current_buffer.complete_state is None or
                                                get_app().current_buffer.complete_state.current_completion is None))
    def _enter(event):
        _enter_input(event.current_buffer)

    @kb.add("enter", filter=is_searching)
    def _accept_search(event):
        """Enter on a Ctrl-R match takes it into the input and runs it when complete, as readline does."""
        search.accept_search()
        buf = event.app.current_buffer
        buf.cursor_position = len(buf.text)  # the match left the cursor inside the entry
        _enter_input(buf)

    def _enter_input(buf):
        _dedent_closing_line(buf)
        doc = buf.document
        if doc.is_cursor_at_the_end or not doc.text_after_cursor.strip():
            status, indent = is_complete(buf.text)
            if status != "incomplete":
                buf.validate_and_handle()
                return
            buf.insert_text("\n" + indent)
            return
        buf.insert_text("\n")

    @kb.add("enter", filter=editing & Condition(lambda: get_app().current_buffer.complete_state is not None and
                                                get_app().current_buffer.complete_state.current_completion is not None))
    def _take_completion(event):
        buf = event.current_buffer
        buf.apply_completion(buf.complete_state.current_completion)

    @kb.add("escape", "enter", filter=editing)
    def _force(event):
        event.current_buffer.validate_and_handle()

    @kb.add("tab", filter=editing & Condition(lambda: completer is not None and not _before_cursor_is_blank()))
    def _complete(event):
        from prompt_toolkit.completion import CompleteEvent, get_common_complete_suffix

        buf = event.current_buffer
        if buf.complete_state:
            buf.complete_next()
            return
        doc = buf.document
        cands = list(completer.get_completions(doc, CompleteEvent(completion_requested=True)))
        if len(cands) == 1:
            buf.apply_completion(cands[0])
            return
        common = get_common_complete_suffix(doc, cands) if cands else ""
        if common:
            buf.insert_text(common)
        elif cands:
            buf.start_completion(select_first=False)

    @kb.add("tab", filter=editing & Condition(_before_cursor_is_blank))
    def _indent(event):
        event.current_buffer.insert_text("    ")

    return kb


_CLOSERS = ("End If", "End Loop", "Else", "Else If")


def _dedent_closing_line(buf) -> None:
    """``End If``, ``Else`` … typed on an indented line move back one level, as in a script workspace."""
    from .session import step_of_line

    doc = buf.document
    line = doc.current_line
    if not line.startswith(" ") or doc.cursor_position_col < len(line.rstrip()):
        return
    info = step_of_line(line)
    if info is None or info.name not in _CLOSERS:
        return
    remove = min(4, len(line) - len(line.lstrip(" ")))
    start = doc.cursor_position - doc.cursor_position_col
    buf.text = buf.text[:start] + line[remove:] + buf.text[start + len(line):]
    buf.cursor_position = start + len(line) - remove


_WORD_BEFORE = re.compile(r"(?:\$\$?[\w.]*|[^\W\d][\w.]*(?:::[\w. ]*)?)$")


def _worth_completing() -> bool:
    """The menu opens by itself (as in ptpython) once a name or variable has three characters (or ``$``/``::``)."""
    doc = get_app().current_buffer.document
    m = _WORD_BEFORE.search(doc.current_line_before_cursor)
    if not m:
        return False
    w = m.group(0)
    return len(w) >= 3 or w.startswith("$") or w.endswith("::")


def _before_cursor_is_blank() -> bool:
    doc = get_app().current_buffer.document
    return not doc.current_line_before_cursor.strip()


class TerminalRepl:
    """Reads input with prompt-toolkit and hands it to a :class:`ReplSession`."""

    def __init__(self, repl: ReplSession | None = None, *, file: str | None = None, history: bool = True,
                 input=None, output=None, color: bool | None = None):
        self.output = output
        self.color = (not os.environ.get("NO_COLOR")) if color is None else color
        self.repl = repl or ReplSession(file=file, color=self.color)
        self.repl.color = self.color
        self.repl.out = self.show
        completer = FMScriptCompleter(self.repl)
        self.prompt = PromptSession(
            message=[("class:prompt", PROMPT)],
            multiline=True,
            prompt_continuation=lambda width, line_no, wrap: [("class:continuation",
                                                                CONTINUATION.rjust(width))],
            lexer=PygmentsLexer(_lexer_class()),
            completer=ThreadedCompleter(completer),
            complete_while_typing=Condition(_worth_completing),
            auto_suggest=AutoSuggestFromHistory(),
            history=_history() if history else InMemoryHistory(),
            enable_history_search=False,  # it would turn complete-while-typing off; Ctrl-R searches
            key_bindings=key_bindings(completer=completer),
            style=merge_styles([_pygments_style(), UI_STYLE]),
            include_default_pygments_style=False,
            color_depth=None,
            input=input,
            output=output,
            enable_open_in_editor=True,
            search_ignore_case=True,
            mouse_support=False,
            tempfile_suffix=".fmscript",
            # While typing: the bracket matching the one at the cursor, and the signature of the function
            # whose parentheses the cursor is in (as IPython and ptpython show them).
            input_processors=[HighlightMatchingBracketProcessor(chars="[](){}")],
            bottom_toolbar=self.toolbar,
        )

    def toolbar(self):
        """The call tip under the input; empty when the cursor is in no function's parentheses."""
        try:
            doc = get_app().current_buffer.document
            tip = call_tip(doc.text_before_cursor)
        except Exception:  # noqa: BLE001 - a tip must never break typing
            tip = None
        return [("class:calltip", " " + tip)] if tip else ""

    def show(self, text: str, kind: str) -> None:
        style = _KIND_STYLE.get(kind, "")
        if "\x1b[" in text:
            # Coloured by FMScriptError.render: prompt-toolkit's output must interpret the escapes, or the
            # terminal shows them as “?[1;33m”.
            formatted = ANSI(text) if self.color else FormattedText([("", _strip_ansi(text))])
        else:
            formatted = FormattedText([(style, text)])
        print_formatted_text(formatted, style=UI_STYLE, output=self.output,
                             include_default_pygments_style=False)

    def banner(self) -> str:
        from .. import __version__
        db = self.repl.database()
        where = f" · file {db.path()}" if db is not None and db.path() else ""
        return (f"fmscript {__version__} REPL{where} · steps run when complete, calculations show their value · "
                ":help · Ctrl-D quits")

    def run(self) -> int:
        self.show(self.banner(), "info")
        while not self.repl.quit:
            try:
                text = self.prompt.prompt()
            except KeyboardInterrupt:
                continue  # Ctrl-C cancels the current input
            except EOFError:
                break
            try:
                self.repl.execute(text)
            except KeyboardInterrupt:
                self.show("interrupted", "error")
        self.repl.close()
        return 0


_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")


def _strip_ansi(text: str) -> str:
    return _ESCAPES.sub("", text)


def _lexer_class():
    from ..highlight import FMScriptLexer
    return FMScriptLexer


class PrivateHistory(FileHistory):
    """The history file of the home: keys typed into an entry are masked before it is written (the entry is
    stored before it runs, so a Configure AI Account key is found in the text), and the file is owner-only.

    Its first line says it is masked; a file without it (older versions wrote keys in clear) is masked once."""

    MARK = b"# fmscript history: API keys are masked\n"

    def __init__(self, filename: str):
        from ..home import private, tighten
        super().__init__(filename)
        try:
            with open(filename, "rb") as f:
                first = f.readline()
        except FileNotFoundError:
            first = None
        if first != self.MARK:
            from ..redact import redact
            from ..script.secrets import text_secrets
            from ..script.steps import builtin_steps
            old = reversed(list(self.load_history_strings())) if first is not None else []
            tmp = f"{filename}.{os.getpid()}.tmp"
            with private(), open(tmp, "wb") as f:  # FileHistory's format: "+" before each line of an entry
                f.write(self.MARK)
                for e in old:
                    e = redact(e, text_secrets(e, builtin_steps()))
                    f.write(("\n# masked\n" + "".join(f"+{line}\n" for line in e.split("\n"))).encode())
            os.replace(tmp, filename)
        tighten(filename)

    def store_string(self, string: str) -> None:
        from ..home import private
        from ..redact import redact
        from ..script.secrets import text_secrets
        from ..script.steps import builtin_steps
        with private():
            super().store_string(redact(string, text_secrets(string, builtin_steps())))


def _history():
    from ..home import history_file, home
    path = history_file()
    try:
        home(ensure=True)
        return PrivateHistory(str(path))
    except OSError:
        return InMemoryHistory()


def run_terminal(file: str | None = None) -> int:
    if not sys.stdin.isatty():
        # Piped input: run it as a script session without prompts (``echo '$x' | fmscript repl``).
        return run_piped(sys.stdin.read(), file)
    return TerminalRepl(file=file).run()


def _options_follow(buf: str, rest: list[str]) -> bool:
    """Steps whose next non-blank line starts with “[”: that line holds their options."""
    nxt = next((ln for ln in rest if ln.strip()), None)
    return nxt is not None and nxt.lstrip().startswith(("[", "［")) and classify(buf) == "steps"


def run_piped(text: str, file: str | None = None) -> int:
    """Feed text to a session line by line, as Enter would: each complete piece runs."""
    repl = ReplSession(file=file)
    failed = False
    original = repl.out

    def out(t, kind):
        nonlocal failed
        failed = failed or kind == "error"
        original(t, kind)
    repl.out = out
    buf = ""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        buf = buf + "\n" + line if buf else line
        if _options_follow(buf, lines[i + 1:]):
            continue  # FileMaker's printed text wraps a long step before its “[ … ]”: one step
        if check_complete(buf)[0] != "incomplete":
            repl.execute(buf)
            buf = ""
            if repl.quit:
                break
    if buf.strip():
        repl.execute(buf)
    repl.close()
    return 1 if failed else 0
