"""Parsed scripts cached in the fmscript home, like Python's ``.pyc`` files.

A run of an unchanged script loads its AST from ``cache/scripts/`` and never imports Lark, which is most of
the start-up time.  The key covers the text, its path and default name, fmscript's version, the grammar,
the catalogue, the parser's own source files and the step table the script is parsed against (the
interpreter's: its implemented steps and any names registered on it), so any change re-parses.  Only scripts without errors
are stored; a cache that cannot be read or written is simply not used.

A script may hold an API key (``Configure AI Account [ … ; API key: "sk-…" ]``).  The cache never does: every
string holding a secret is pickled as a reference to where it stands in the script text, which a load is
given anyway, and the file is created owner-only.
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


class _MaskingPickler(pickle.Pickler):
    """Pickles a string that holds a secret as (start, end) of its place in the script text."""

    def __init__(self, fh, text: str, secrets: set[str]):
        super().__init__(fh, protocol=pickle.HIGHEST_PROTOCOL)
        self.text, self.secrets = text, secrets

    def persistent_id(self, obj):
        if type(obj) is str and any(s in obj for s in self.secrets):
            start = self.text.find(obj)
            if start == -1:  # not verbatim in the text (an unescaped literal): do not cache at all
                raise pickle.PicklingError("a secret outside the script text")
            return (start, start + len(obj))
        return None


class _Unpickler(pickle.Unpickler):
    """Reads what :class:`_MaskingPickler` wrote: a reference becomes the string at that place of the text."""

    def __init__(self, fh, text: str):
        super().__init__(fh)
        self.text = text

    def persistent_load(self, pid):
        start, end = pid
        return self.text[start:end]


def parse_cached(text: str, path: str = "<script>", default_name: str | None = None, *,
                 steps: StepTable) -> ScriptFile:
    """Parse against the step table ``steps``, from the cache when this text was parsed before."""
    from .parse import parse_script_text

    if os.environ.get("FMSCRIPT_NO_CACHE"):
        return parse_script_text(text, path, default_name, steps=steps)
    try:
        file = _path(text, path, default_name, steps)
        with open(file, "rb") as fh:
            sf = _Unpickler(fh, text).load()
        if isinstance(sf, ScriptFile) and sf.source.text == text:
            return sf
    except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError, TypeError, ValueError,
            IndexError):
        file = None
    sf = parse_script_text(text, path, default_name, steps=steps)  # raises on errors: never cached
    try:
        from ..home import FILE_MODE, cache_dir, make_private_dir
        from .secrets import script_secrets

        secrets = script_secrets(sf)
        file = file or _path(text, path, default_name, steps)
        cache_dir(ensure=True)
        make_private_dir(file.parent.parent)
        make_private_dir(file.parent)
        tmp = file.with_suffix(f".{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
        try:
            with os.fdopen(fd, "wb") as fh:
                if secrets:
                    _MaskingPickler(fh, text, secrets).dump(sf)
                else:
                    pickle.dump(sf, fh, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, file)
        except BaseException:
            os.unlink(tmp)
            raise
    except (OSError, pickle.PicklingError, TypeError, AttributeError, RecursionError):
        pass
    return sf
