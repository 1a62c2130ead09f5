"""fmscript: run FileMaker-style scripts from files, a REPL or Python."""
__version__ = "0.1.0"

from .errors import FMScriptError, ParseError, ScriptRuntimeError  # noqa: E402


def __getattr__(name):  # keep `import fmscript` light: the interpreter loads lark on first use
    if name == "Interpreter":
        from .interpreter import Interpreter
        return Interpreter
    raise AttributeError(name)


__all__ = ["Interpreter", "FMScriptError", "ParseError", "ScriptRuntimeError", "__version__"]
