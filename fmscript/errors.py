"""Errors that a person can act on.

Every fmscript error carries a FileMaker error number and, where known, a source position, and renders as
``path:line:col: error [N]: sentence`` followed by the source line and a caret.  Python tracebacks never
reach a user: the CLI catches :class:`FMScriptError` and prints :meth:`FMScriptError.render`.
"""
from __future__ import annotations

# FileMaker's error numbers, one name each: every number fmscript reports is named here and used by name.
# The comment is FileMaker's meaning ("FileMaker error codes" in Claris's help).  Where fmscript reports a
# number for a case FileMaker's list words differently, the comment says so ("fmscript:"); the number is
# kept, as scripts read it from Get ( LastError ).
E_UNKNOWN = -1  # Unknown error
E_USER_CANCELED = 1  # User canceled action (fmscript: also a failure with no more precise number)
E_MEMORY = 2  # Memory error
E_COMMAND_UNAVAILABLE = 3  # Command is unavailable (for example, wrong operating system or mode)
E_COMMAND_UNKNOWN = 4  # Command is unknown
E_COMMAND_INVALID = 5  # Command is invalid (for example, a Set Field script step has no calculation)
E_NOT_ENOUGH_MEMORY = 7  # Running out of memory
E_DATA_MISSING = 10  # Requested data is missing (fmscript: also a prompt template or regression model not set up)
E_NAME_EXISTS = 12  # Name already exists
E_OUT_OF_RANGE = 14  # Out of range (fmscript: a prompt over the model's context, tool rounds past the limit)
E_REQUEST_NOT_SUPPORTED = 21  # Request not supported
E_FILE_MISSING = 100  # File is missing
E_RECORD_MISSING = 101  # Record is missing
E_FIELD_MISSING = 102  # Field is missing
E_RELATIONSHIP_MISSING = 103  # Relationship is missing
E_SCRIPT_MISSING = 104  # Script is missing
E_LAYOUT_MISSING = 105  # Layout is missing
E_TABLE_MISSING = 106  # Table is missing
E_INDEX_MISSING = 107  # Index is missing
E_VALUE_LIST_MISSING = 108  # Value list is missing
E_PRIVILEGE_SET_MISSING = 109  # Privilege set is missing
E_LAYOUT_OBJECT_MISSING = 116  # Layout object is missing
E_NO_MAIL_CLIENT = 119  # Supported email client not found
E_RECORD_ACCESS_DENIED = 200  # Record access is denied
E_FIELD_CANNOT_BE_MODIFIED = 201  # Field cannot be modified
E_FIELD_ACCESS_DENIED = 202  # Field access is denied
E_FILE_IN_USE = 300  # File is locked or in use
E_RECORD_IN_USE = 301  # Record is in use by another user
E_MODID_MISMATCH = 306  # Record modification ID does not match
E_FIND_CRITERIA_EMPTY = 400  # Find criteria are empty
E_NO_RECORDS_MATCH = 401  # No records match the request
E_INVALID_DATE = 500  # Date value does not meet validation entry options
E_INVALID_TIME = 501  # Time value does not meet validation entry options
E_INVALID_NUMBER = 502  # Number value does not meet validation entry options
E_VALUE_NOT_IN_RANGE = 503  # Value in field is not within the range specified in validation entry options
E_VALUE_NOT_UNIQUE = 504  # Value in field is not unique, as required in validation entry options
E_VALUE_NOT_EXISTING = 505  # Value in field is not an existing value in the file, as validation requires
E_VALUE_NOT_IN_LIST = 506  # Value in field is not listed in the value list specified in validation
E_VALUE_FAILED_CALC = 507  # Value in field failed the calculation test of validation entry options
E_INVALID_FIND_VALUE = 508  # Invalid value entered in Find mode
E_VALID_VALUE_REQUIRED = 509  # Field requires a valid value
E_XML_PARSE = 718  # Error in parsing XML file (fmscript: an import file that cannot be read as text)
E_XSL_TRANSFORM = 719  # Error in transforming XML using XSL (from Xalan)
E_CANNOT_CREATE_FILE = 800  # Unable to create file on disk
E_CANNOT_OPEN_FILE = 802  # Unable to open file
E_CALC_FIELD_MISSING = 1202  # Too many parameters in the function (fmscript: a name a calculation does not define)
E_CALC_SYNTAX = 1204  # Number, text constant, field name, or "(" expected (a calculation's syntax error)
E_DIVIDE_BY_ZERO = 1205  # Comment is not terminated with "*/" (fmscript: division by zero, for LastErrorDetail)
E_CALC_NAME_MISSING = 1209  # Name (such as field name or layout name) is missing (an unknown function or Get name)
E_RECURSION = 1223  # Function referred to is not yet implemented (fmscript: scripts nested too deep)
E_SMTP_AUTH_FAILED = 1501  # SMTP authentication failed
E_SMTP_REFUSED = 1502  # Connection refused by SMTP server
E_SMTP_SSL = 1503  # Error with SSL
E_SMTP_NEEDS_ENCRYPTION = 1504  # SMTP server requires the connection to be encrypted
E_SMTP_AUTH_UNSUPPORTED = 1505  # Specified authentication is not supported by SMTP server
E_MAIL_NOT_SENT = 1506  # Email message(s) could not be sent successfully
E_SMTP_LOGIN = 1507  # Unable to log in to the SMTP server
E_PROTOCOL_UNSUPPORTED = 1626  # Protocol is not supported
E_AUTH_FAILED = 1627  # Authentication failed
E_SSL_ERROR = 1628  # There was an error with SSL
E_CONNECTION_TIMED_OUT = 1629  # Connection timed out
E_JSON_INVALID = 1630  # URL format is incorrect (fmscript: text that is not the JSON a step needs)
E_CONNECTION_FAILED = 1631  # Connection failed
E_TIMEOUT = 1632  # (fmscript: a request that timed out; FileMaker's "Connection timed out" is 1629)
E_INVALID_PARAMETER = 1708  # Parameter value is invalid (FileMaker REST API); fmscript: a bad step parameter
E_AI_REQUEST_FAILED = 1711  # fmscript: an AI call that failed (FileMaker's list: the host's license has expired)
E_AI_CANCELLED = 1712  # fmscript: an AI call that was cancelled
E_AI_ACCOUNT_MISSING = 1714  # fmscript: no AI account of that name (FileMaker: external identity account)
E_AI_INVALID_REQUEST = 882  # Invalid AI request (GetEmbedding: fmscript also a wrong kind of model or vector)
E_EXECUTE_SQL = 8310  # ExecuteSQL cannot run the query (what Get ( LastError ) reports for a bad ExecuteSQL)


_MEANINGS: dict[int, str] | None = None


def meaning(code: int) -> str:
    """FileMaker's wording for an error number, read from the comments of the table above (the one home of
    both): the text the Data API puts in ``messages``."""
    global _MEANINGS
    if _MEANINGS is None:
        import re
        from pathlib import Path

        found = re.findall(r"^E_\w+ = (-?\d+)  # (.*)$", Path(__file__).read_text(encoding="utf-8"), re.M)
        _MEANINGS = {int(n): re.sub(r"[\s;(]*fmscript:.*$", "", text).strip() for n, text in found}
    return _MEANINGS.get(code) or ("OK" if code == 0 else "Unknown error")


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

    code = E_CALC_SYNTAX


class ScriptRuntimeError(FMScriptError):
    """A step failed while running; ``code`` is what ``Get ( LastError )`` reports."""

    code = E_USER_CANCELED


class StepError(ScriptRuntimeError):
    """A step failed with a FileMaker error number (what ``Get ( LastError )`` then reports)."""


class CalcError(FMScriptError):
    """An error while evaluating a calculation: the calculation's result becomes ``?``."""

    code = E_CALC_SYNTAX


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


class DataError(ScriptRuntimeError):
    """The data layer refused a request (a missing field, table or layout, a locked record…); ``code`` is
    FileMaker's number.  A subclass of :class:`ScriptRuntimeError` like ``StepError``, so a step that fails
    on data follows the same error-capture rules, and the data layer needs nothing from ``steps/``."""
