"""fmscript: run FileMaker-style scripts from files, a REPL or Python."""
__version__ = "0.1.0"

from .errors import CheckWarning, ErrorList, FMScriptError, ParseError, ScriptRuntimeError, Span, UsageError  # noqa: E402

TYPE_CHECKING = False  # typing itself stays off the start-up path; type checkers treat this name as True
if TYPE_CHECKING:  # what IDEs and type checkers see; at run time it loads on first use (lark is heavy)
    from .interpreter import Interpreter

_LAZY = {"Interpreter": ".interpreter"}


def __getattr__(name: str):
    if name in _LAZY:
        from importlib import import_module
        value = getattr(import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'fmscript' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = ["Interpreter", "FMScriptError", "ParseError", "ScriptRuntimeError", "CheckWarning", "ErrorList",
           "UsageError", "Span", "__version__"]
