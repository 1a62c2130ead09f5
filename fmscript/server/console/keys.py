"""Named API keys: created on the Server page, shown once, stored only as a SHA-256 hash, revoked from the page.

They live in the home's ``jobs.sqlite`` (beside files, jobs and events) in a table of their own,
``fmscript_console_keys``, whose schema version is kept in ``fmscript_console_meta`` and migrated in order like
the job store's (the job store's ``PRAGMA user_version`` stays the job store's). A key is 32 random bytes, so a
plain hash is enough: nobody can guess keys to match it, and the hash alone opens nothing.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import sqlite3
import time
from pathlib import Path

from fmscript import home as fmhome

KEY_PREFIX = "fmk_"
ID_PREFIX = "key-"
MAX_NAME = 100

MIGRATIONS = [
    # 1: the first schema.
    """
    CREATE TABLE IF NOT EXISTS fmscript_console_keys (
        id TEXT PRIMARY KEY, name TEXT NOT NULL, prefix TEXT NOT NULL, hash TEXT NOT NULL UNIQUE,
        created_at INTEGER NOT NULL, revoked_at INTEGER)
    """,
]


def digest(key: str | bytes) -> str:
    return hashlib.sha256(key.encode() if isinstance(key, str) else key).hexdigest()


class KeyStore:
    """The named keys of one home. Each call opens its own short connection (safe across threads)."""

    def __init__(self, path: str | os.PathLike | None = None):
        self.path = Path(path) if path else fmhome.jobs_db()
        self._migrated = False

    def _connect(self) -> sqlite3.Connection:
        with fmhome.private():
            con = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        con.row_factory = sqlite3.Row
        con.execute("PRAGMA busy_timeout = 30000")
        if not self._migrated:
            self._migrate(con)
            self._migrated = True
        return con

    @staticmethod
    def _migrate(con: sqlite3.Connection) -> None:
        con.execute("BEGIN IMMEDIATE")
        try:
            con.execute("CREATE TABLE IF NOT EXISTS fmscript_console_meta (key TEXT PRIMARY KEY, value TEXT)")
            row = con.execute("SELECT value FROM fmscript_console_meta WHERE key = 'schema_version'").fetchone()
            version = int(row["value"]) if row else 0
            for stmt in MIGRATIONS[version:]:
                con.execute(stmt)
            con.execute("INSERT INTO fmscript_console_meta (key, value) VALUES ('schema_version', ?) "
                        "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (str(len(MIGRATIONS)),))
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise

    @property
    def schema_version(self) -> int:
        con = self._connect()
        try:
            return int(con.execute("SELECT value FROM fmscript_console_meta WHERE key = 'schema_version'")
                       .fetchone()["value"])
        finally:
            con.close()

    def create(self, name: str) -> tuple[dict, str]:
        """A new key named ``name``: its row and the key itself (shown once, never stored)."""
        name = " ".join(str(name).split())[:MAX_NAME]
        if not name:
            raise ValueError("name")
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        con = self._connect()
        try:
            kid = f"{ID_PREFIX}{time.time_ns() // 1000}"
            con.execute("INSERT INTO fmscript_console_keys (id, name, prefix, hash, created_at) VALUES (?, ?, ?, ?, ?)",
                        (kid, name, key[:len(KEY_PREFIX) + 4], digest(key), int(time.time())))
            row = con.execute("SELECT * FROM fmscript_console_keys WHERE id = ?", (kid,)).fetchone()
        finally:
            con.close()
        return dict(row), key

    def list(self) -> list[dict]:
        con = self._connect()
        try:
            return [dict(r) for r in con.execute("SELECT id, name, prefix, created_at, revoked_at "
                                                 "FROM fmscript_console_keys ORDER BY created_at DESC, id DESC")]
        finally:
            con.close()

    def revoke(self, key_id: str) -> bool:
        con = self._connect()
        try:
            cur = con.execute("UPDATE fmscript_console_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                              (int(time.time()), key_id))
            return cur.rowcount == 1
        finally:
            con.close()

    def is_active(self, key_id: str) -> bool:
        con = self._connect()
        try:
            return con.execute("SELECT 1 FROM fmscript_console_keys WHERE id = ? AND revoked_at IS NULL",
                               (key_id,)).fetchone() is not None
        finally:
            con.close()

    def find(self, key: str | bytes) -> str | None:
        """The id of the active key ``key``, or None. Looked up by hash; compared again in constant time."""
        if not key:
            return None
        h = digest(key)
        con = self._connect()
        try:
            row = con.execute("SELECT id, hash FROM fmscript_console_keys WHERE hash = ? AND revoked_at IS NULL",
                              (h,)).fetchone()
        finally:
            con.close()
        return row["id"] if row is not None and hmac.compare_digest(row["hash"], h) else None
