"""Stored find requests and sort orders (``Perform Find [ Restore ]``, ``Sort Records [ Restore ]``), kept in
``fmscript_finds`` and ``fmscript_sorts`` by layout, and optionally by script or by one step of a script."""
from __future__ import annotations

import sqlite3

_COLUMN = {"finds": "requests", "sorts": "sort_order"}


class StoredQueries:
    """A mixin of :class:`~fmscript.data.database.Database` (needs the schema's metadata and ``commit``)."""

    conn: sqlite3.Connection

    def stored(self, kind: str, layout: str, script: str, line: int | None = None) -> str | None:
        """A stored find (``kind`` "finds") or sort order ("sorts") for a layout: the one of this step
        (``script:line``) first, then the script's, then the layout's."""
        if not self.has_metadata():
            return None
        col = _COLUMN[kind]
        keys = ([f"{script}:{line}"] if line else []) + [script, ""]
        for s in keys:
            r = self.conn.execute(f"SELECT {col} FROM fmscript_{kind} WHERE layout = ? COLLATE NOCASE AND "
                                  "script = ? COLLATE NOCASE", (layout, s)).fetchone()
            if r:
                return r[0]
        return None

    def store(self, kind: str, layout: str, text: str, script: str = "") -> None:
        col = _COLUMN[kind]
        self.commit()
        self.ensure_metadata()
        self.conn.execute(f"DELETE FROM fmscript_{kind} WHERE layout = ? COLLATE NOCASE AND script = ? "
                          "COLLATE NOCASE", (layout, script))
        self.conn.execute(f"INSERT INTO fmscript_{kind} (layout, script, {col}) VALUES (?, ?, ?)",
                          (layout, script, text))

    def unstore(self, kind: str, layout: str, script: str = "") -> None:
        """Remove a stored find or sort order (``fmscript db find --clear``)."""
        if self.has_metadata():
            self.conn.execute(f"DELETE FROM fmscript_{kind} WHERE layout = ? COLLATE NOCASE AND script = ? "
                              "COLLATE NOCASE", (layout, script))

    def stored_all(self, kind: str) -> list[tuple[str, str, str]]:
        """Every stored find or sort order as (layout, script, text), by layout then script."""
        if not self.has_metadata():
            return []
        return self.conn.execute(f"SELECT layout, script, {_COLUMN[kind]} FROM fmscript_{kind} ORDER BY 1, 2"
                                 ).fetchall()
