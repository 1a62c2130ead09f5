"""The fmscript REPL (``fmscript repl [--file DB]``, or ``fmscript`` alone on a terminal).

* :mod:`.session`: what input means and how it runs (no terminal needed; the tests drive it directly);
* :mod:`.completion`: Tab completion; :mod:`.commands`: the ``:`` meta commands; :mod:`.helptext`: ``:help``;
* :mod:`.app`: the prompt-toolkit face.

See ``docs/repl.md``.
"""
from __future__ import annotations

from .session import ReplSession, check_complete, classify

__all__ = ["main", "ReplSession", "check_complete", "classify"]


def main(args) -> int:
    """Entry point of ``fmscript repl``: ``args.file`` is the database file or None."""
    from .app import run_terminal

    return run_terminal(getattr(args, "file", None))
