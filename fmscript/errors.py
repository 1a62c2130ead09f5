"""Errors that a person can act on.

Every fmscript error carries a FileMaker error number and, where known, a source position, and renders as
``path:line:col: error [N]: sentence`` followed by the source line and a caret.  Python tracebacks never
reach a user: the CLI catches :class:`FMScriptError` and prints :meth:`FMScriptError.render`.
"""
from __future__ import annotations

class Span:
    """A position in a source text: 1-based line and column, plus the text's name and the line itself."""

    __slots__ = ("path", "line", "col", "source_line", "end_col")

    def __init__(self, path: str, line: int, col: int, source_line: str = "", end_col: int | None = None):
        self.path, self.line, self.col, self.source_line, self.end_col = path, line, col, source_line, end_col

    def __eq__(self, other):
        return isinstance(other, Span) and (self.path, self.line, self.col) == (other.path, other.line, other.col)

    def __hash__(self):
        return hash((self.path, self.line, self.col))

    def __repr__(self):
        return f"Span({self.path}:{self.line}:{self.col})"


class FMScriptError(Exception):
    """Base of every error fmscript shows to a user.

    ``code`` is FileMaker's error number (``Get ( LastError )``); ``detail`` is FileMaker's
    ``Get ( LastErrorDetail )`` text when it differs from the message.
    """

    code: int = 0
    kind: str = "error"

    def __init__(self, message: str, *, code: int | None = None, span: Span | None = None,
                 step: str | None = None, detail: str | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.span = span
        self.step = step
        self.detail = detail if detail is not None else message

    def with_span(self, span: Span | None, step: str | None = None) -> "FMScriptError":
        if self.span is None and span is not None:
            self.span = span
        if self.step is None and step is not None:
            self.step = step
        return self

    def render(self, color: bool = False) -> str:
        head = f"{self.kind} [{self.code}]: {self.message}" if self.code else f"{self.kind}: {self.message}"
        if self.step and self.kind == "error" and not self.message.startswith(self.step):
            head = f"{self.kind} [{self.code}] in {self.step}: {self.message}" if self.code else \
                f"{self.kind} in {self.step}: {self.message}"
        from .redact import redact, redact_columns

        head = redact(head)
        if color:
            head = f"\x1b[1;31m{head}\x1b[0m" if self.kind == "error" else f"\x1b[1;33m{head}\x1b[0m"
        if self.span is None:
            return f"fmscript: {head}"
        s = self.span
        out = [f"{s.path}:{s.line}:{s.col}: {head}"]
        if s.source_line:
            # A key in the line is masked; the caret moves with it onto the masked text.
            line, col, end_col = redact_columns(s.source_line.rstrip("\n"), s.col, s.end_col)
            out.append(line)
            # Keep tabs so the caret lines up under the same characters; wide (CJK) chars count twice.
            pad = "".join("\t" if ch == "\t" else (" " * _width(ch)) for ch in line[: max(col - 1, 0)])
            width = 1
            if end_col and end_col > col:
                width = sum(_width(ch) for ch in line[col - 1: end_col - 1]) or 1
            out.append(pad + "^" * width)
        return "\n".join(out)

    def __str__(self) -> str:  # pragma: no cover - repr helper
        return self.render()


def _width(ch: str) -> int:
    import unicodedata

    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


class ParseError(FMScriptError):
    """The text is not a valid script or calculation (FileMaker reports calculation syntax errors as 1204)."""

    code = 1204


class ScriptRuntimeError(FMScriptError):
    """A step failed while running; ``code`` is what ``Get ( LastError )`` reports."""

    code = 1


class StepError(ScriptRuntimeError):
    """A step failed with a FileMaker error number (what ``Get ( LastError )`` then reports)."""


class CalcError(FMScriptError):
    """An error while evaluating a calculation: the calculation's result becomes ``?``."""

    code = 1204


class CheckWarning(FMScriptError):
    """A problem ``fmscript check`` reports without failing (e.g. a step fmscript does not implement)."""

    kind = "warning"


class ScriptHalted(Exception):
    """Internal control flow: Halt Script or a user abort. Not an error a user sees."""


class UsageError(FMScriptError):
    """Bad command-line use or an I/O problem (exit code 2)."""

    code = 0


class ErrorList(FMScriptError):
    """Several errors at once (``fmscript check`` reports all of them)."""

    def __init__(self, errors: list[FMScriptError]):
        super().__init__(errors[0].message if errors else "no errors", code=errors[0].code if errors else 0,
                         span=errors[0].span if errors else None)
        self.errors = errors

    def render(self, color: bool = False) -> str:
        return "\n".join(e.render(color) for e in self.errors)


# FileMaker error numbers used across fmscript (a subset of FileMaker's list, same meanings).
E_UNKNOWN = -1
E_USER_CANCELED = 1
E_COMMAND_UNAVAILABLE = 3
E_COMMAND_UNKNOWN = 4
E_COMMAND_INVALID = 5
E_FILE_MISSING = 100
E_RECORD_MISSING = 101
E_FIELD_MISSING = 102
E_RELATIONSHIP_MISSING = 103
E_SCRIPT_MISSING = 104
E_LAYOUT_MISSING = 105
E_TABLE_MISSING = 106
E_INDEX_MISSING = 107
E_VALUE_LIST_MISSING = 108
E_PRIVILEGE_SET_MISSING = 109
E_RECORD_IN_USE = 301
E_NO_RECORDS_MATCH = 401
E_FIND_CRITERIA_EMPTY = 400
E_NOT_ENOUGH_MEMORY = 7
E_FILE_NOT_FOUND = 100
E_FILE_CANNOT_OPEN = 802
E_FILE_EXISTS = 800
E_CANNOT_CREATE_FILE = 800
E_VALIDATION = 500
E_INVALID_PARAMETER = 1708  # Invalid parameter (Data API); FileMaker uses it for bad step parameters too
E_CALC_SYNTAX = 1204  # Calculation contains a syntax error / too few separators
E_CALC_FUNCTION_MISSING = 1209  # Function name missing
E_CALC_FIELD_MISSING = 1202  # Field name missing / not found in calc
E_CALC_UNKNOWN_FUNCTION = 1209
E_JSON_INVALID = 1630
E_RECURSION = 1223
E_DIVIDE_BY_ZERO = 1205  # FileMaker returns ? for a division by zero; used for Get ( LastErrorDetail )
E_AI_ACCOUNT_MISSING = 1714  # AI account does not exist / not configured
E_AI_REQUEST_FAILED = 1711  # generic AI call failure
E_AI_CANCELLED = 1712
E_HTTP = 1631  # connection / protocol failure (Insert from URL family)
E_TIMEOUT = 1632


class DataError(ScriptRuntimeError):
    """The data layer refused a request (a missing field, table or layout, a locked record…); ``code`` is
    FileMaker's number.  A subclass of :class:`ScriptRuntimeError` like ``StepError``, so a step that fails
    on data follows the same error-capture rules, and the data layer needs nothing from ``steps/``."""
