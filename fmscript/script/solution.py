"""An imported solution's scripts folder: which file holds the script a Perform Script names.

``fmscript import-xml`` writes each FileMaker script as a file under ``--scripts DIR`` and lists it in the
file's ``fmscript_import_scripts`` table by its path relative to DIR.  In FileMaker all scripts of a file are one
catalogue, so a script run from DIR may perform any other.  DIR is not stored: it is the ancestor ROOT of the
script file being run or checked such that the file's path relative to ROOT is a listed path, so moving DIR (and
the database) elsewhere keeps working.  When several ancestors fit (a top-level ``B.fmscript`` and a folder's
``A/B.fmscript``), the one under which most listed files exist is ROOT.  Names are looked up case-insensitively,
as FileMaker does; of two scripts of the same name the first in FileMaker's order is the one performed.

What to load is decided here; loading (the parse cache, compiling) is the interpreter's, reading the table is
the data layer's (``DataLayer.solution_script_paths``).
"""
from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path


class Solution:
    """The scripts folder ``root`` (as the script file's path was written) and its files by script name."""

    def __init__(self, root: Path, rows: Iterable[tuple[str, str]]):
        self.root = root
        self._by_name: dict[str, tuple[str, str]] = {}
        for path, name in rows:
            self._by_name.setdefault(name.casefold(), (path, name))

    @classmethod
    def find(cls, script_file: str | Path, rows: Iterable[tuple[str, str]]) -> "Solution | None":
        """The solution whose scripts folder holds ``script_file`` (None: no ancestor fits, or no rows)."""
        rows = list(rows)
        if not rows:
            return None
        given = Path(script_file)
        absolute = Path(os.path.abspath(given))
        listed = {path for path, _ in rows}
        folded = {path.casefold() for path in listed}  # a folder's case may differ on macOS and Windows
        candidates: list[int] = []  # how many folders up ROOT is
        for up, ancestor in enumerate(absolute.parents):
            rel = absolute.relative_to(ancestor).as_posix()
            if rel in listed or rel.casefold() in folded:
                candidates.append(up)
        if not candidates:
            return None

        def root(up: int) -> Path:
            # As the file's path was given (relative stays relative), so messages show the paths a user wrote.
            keep = len(given.parts) - 1 - up
            if keep < 0 or ".." in given.parts:
                return absolute.parents[up]
            return Path(*given.parts[:keep]) if keep else Path(".")

        if len(candidates) == 1:
            return cls(root(candidates[0]), rows)
        best = max(candidates, key=lambda up: sum((absolute.parents[up] / p).is_file() for p in listed))
        return cls(root(best), rows)

    def path_of(self, name: str) -> Path | None:
        """The file of the script ``name`` (None: the solution has no such script)."""
        row = self._by_name.get(name.casefold())
        return self.root / row[0] if row is not None else None

    def listed_as(self, name: str) -> str | None:
        """The path the table lists for ``name`` (relative to the scripts folder)."""
        row = self._by_name.get(name.casefold())
        return row[0] if row is not None else None

    def names(self) -> list[str]:
        """The names of the solution's scripts whose files are in the folder (what Perform Script can find)."""
        return [name for path, name in self._by_name.values() if (self.root / path).is_file()]
