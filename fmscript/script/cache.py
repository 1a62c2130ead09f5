"""Parsed scripts cached in the fmscript home, like Python's ``.pyc`` files.

A run of an unchanged script loads its AST from ``cache/scripts/`` and never imports Lark, which is most of
the start-up time.  The key covers the text, its path and default name, fmscript's version, the grammar,
the catalogue, the parser's own source files and the step table the script is parsed against (the
interpreter's: its implemented steps and any names registered on it), so any change re-parses.  Only scripts without errors
are stored; a cache that cannot be read or written is simply not used.
"""
from __future__ import annotations

import os
import pickle
from functools import lru_cache

try:  # the built-in SHA-256 loads in microseconds; hashlib first loads OpenSSL
    from _sha256 import sha256
except ImportError:  # pragma: no cover - other Python builds
    from hashlib import sha256

from .ast import ScriptFile
from .steptable import StepTable

# The modules whose code decides what a parsed script looks like (a change to one re-parses).
_PARSER_MODULES = ("script/ast.py", "script/parse.py", "script/scan.py", "calc/ast.py", "calc/parse.py",
                   "calc/lark_tree.py")


@lru_cache(maxsize=1)
def base_fingerprint() -> str:
    """Version, grammar, catalogue and parser sources: what every parsed script depends on."""
    from .. import __version__, catalog

    h = sha256(__version__.encode())
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    files = [os.path.join(here, *m.split("/")) for m in _PARSER_MODULES]
    for folder in (os.path.join(here, "grammar"), os.path.join(os.path.dirname(here), "grammar"),
                   str(catalog.stdlib_dir())):
        if os.path.isdir(folder):
            files += [os.path.join(folder, name) for name in sorted(os.listdir(folder))]
    for file in files:
        try:
            st = os.stat(file)
        except OSError:
            continue
        h.update(f"{os.path.basename(file)}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()


def _path(text: str, path: str, default_name: str | None, steps: StepTable):
    from ..home import cache_dir

    key = sha256("\0".join((base_fingerprint(), steps.fingerprint(), path, default_name or "",
                            text)).encode()).hexdigest()
    return cache_dir() / "scripts" / key[:2] / f"{key}.pickle"


def parse_cached(text: str, path: str = "<script>", default_name: str | None = None, *,
                 steps: StepTable) -> ScriptFile:
    """Parse against the step table ``steps``, from the cache when this text was parsed before."""
    from .parse import parse_script_text

    if os.environ.get("FMSCRIPT_NO_CACHE"):
        return parse_script_text(text, path, default_name, steps=steps)
    try:
        file = _path(text, path, default_name, steps)
        with open(file, "rb") as fh:
            sf = pickle.load(fh)
        if isinstance(sf, ScriptFile) and sf.source.text == text:
            return sf
    except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError, TypeError, ValueError):
        file = None
    sf = parse_script_text(text, path, default_name, steps=steps)  # raises on errors: never cached
    try:
        file = file or _path(text, path, default_name, steps)
        file.parent.mkdir(parents=True, exist_ok=True)
        tmp = file.with_suffix(f".{os.getpid()}.tmp")
        with open(tmp, "wb") as fh:
            pickle.dump(sf, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, file)
    except (OSError, pickle.PicklingError, TypeError, AttributeError, RecursionError):
        pass
    return sf
