"""Parsed scripts cached in the fmscript home, like Python's ``.pyc`` files.

A run of an unchanged script loads its AST from ``cache/scripts/`` and never imports Lark, which is most of
the start-up time.  The key covers the text, its path and default name, fmscript's version, the grammar,
the catalogue and the set of implemented steps, so any change re-parses.  Only scripts without errors
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


@lru_cache(maxsize=1)
def _fingerprint() -> str:
    from .. import __version__, catalog
    from ..calc.functions import _FAMILIES
    from ..steps import registry

    h = sha256(__version__.encode())
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for folder in (os.path.join(here, "grammar"), os.path.join(os.path.dirname(here), "grammar"),
                   str(catalog.stdlib_dir())):
        if os.path.isdir(folder):
            for name in sorted(os.listdir(folder)):
                st = os.stat(os.path.join(folder, name))
                h.update(f"{name}:{st.st_size}:{st.st_mtime_ns}".encode())
    for name, d in sorted(registry().items()):
        h.update(f"{name}:{sorted(d.labels)}:{sorted(d.calc_labels)}:{d.validate is not None}".encode())
    h.update(repr(_FAMILIES).encode())
    return h.hexdigest()


def _path(text: str, path: str, default_name: str | None):
    from ..home import cache_dir

    key = sha256("\0".join((_fingerprint(), path, default_name or "", text)).encode()).hexdigest()
    return cache_dir() / "scripts" / key[:2] / f"{key}.pickle"


def parse_cached(text: str, path: str = "<script>", default_name: str | None = None) -> ScriptFile:
    from .parse import parse_script_text

    if os.environ.get("FMSCRIPT_NO_CACHE"):
        return parse_script_text(text, path, default_name)
    try:
        file = _path(text, path, default_name)
        with open(file, "rb") as fh:
            sf = pickle.load(fh)
        if isinstance(sf, ScriptFile) and sf.source.text == text:
            return sf
    except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError, TypeError, ValueError):
        file = None
    sf = parse_script_text(text, path, default_name)  # raises on errors: those are never cached
    try:
        file = file or _path(text, path, default_name)
        file.parent.mkdir(parents=True, exist_ok=True)
        tmp = file.with_suffix(f".{os.getpid()}.tmp")
        with open(tmp, "wb") as fh:
            pickle.dump(sf, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, file)
    except (OSError, pickle.PicklingError, TypeError, AttributeError, RecursionError):
        pass
    return sf
