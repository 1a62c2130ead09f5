"""The job store: uploaded files, fine-tuning jobs and their events, in ``jobs.sqlite`` under the fmscript home.

One store per home serves every submitter (scripts, ``fmscript jobs``, ``fmscript serve``) and the one worker.
SQLite in WAL mode lets readers poll while the worker writes. Each call opens its own short connection, so the
store is safe across threads and processes. The schema version is ``PRAGMA user_version``; :data:`MIGRATIONS`
upgrades older files in order.

Ids are ``fm-ftjob-<ms>`` and ``fm-ft-train-<ms>``: the millisecond clock, bumped past the last id issued,
inside one write transaction, so ids are strictly increasing even when processes submit in the same millisecond.
"""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path

from fmscript import home as fmhome
from fmscript.errors import E_FILE_MISSING, E_INVALID_PARAMETER, FMScriptError
from fmscript.redact import redact

JOB_PREFIX = "fm-ftjob-"
FILE_PREFIX = "fm-ft-train-"
TERMINAL = ("succeeded", "failed", "cancelled")
STATUSES = ("queued", "running") + TERMINAL

MIGRATIONS = [
    # 1: the first schema.
    """
    CREATE TABLE counters (kind TEXT PRIMARY KEY, last INTEGER NOT NULL);
    CREATE TABLE files (
        id TEXT PRIMARY KEY, filename TEXT NOT NULL, bytes INTEGER NOT NULL, path TEXT NOT NULL,
        purpose TEXT NOT NULL DEFAULT 'fine-tune', examples INTEGER, created_at INTEGER NOT NULL);
    CREATE TABLE jobs (
        id TEXT PRIMARY KEY, model TEXT NOT NULL, training_file TEXT NOT NULL, training_file_name TEXT NOT NULL,
        fine_tuned_model TEXT NOT NULL, status TEXT NOT NULL, hyperparameters TEXT NOT NULL,
        created_at INTEGER NOT NULL, started_at INTEGER, finished_at INTEGER, error TEXT,
        trained_tokens INTEGER, pid INTEGER, attempts INTEGER NOT NULL DEFAULT 0,
        step INTEGER NOT NULL DEFAULT 0, total_steps INTEGER);
    CREATE INDEX jobs_status ON jobs (status, created_at);
    CREATE TABLE events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, job_id TEXT NOT NULL, ts INTEGER NOT NULL,
        level TEXT NOT NULL, message TEXT NOT NULL, data TEXT);
    CREATE INDEX events_job ON events (job_id, seq);
    """,
]


class JobNotFound(FMScriptError):
    code = E_FILE_MISSING


class JobStateError(FMScriptError):
    """An action that the job's status does not allow (cancelling a finished job)."""

    code = E_INVALID_PARAMETER


def now_ms() -> int:
    return int(time.time() * 1000)


class JobStore:
    """Files, jobs and events of one fmscript home. Cheap to create; holds no open connection."""

    def __init__(self, path: str | os.PathLike | None = None):
        self.path = Path(path) if path else fmhome.jobs_db()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._migrate()

    # ----------------------------------------------------------------------------------------- plumbing
    def _connect(self) -> sqlite3.Connection:
        with fmhome.private():  # SQLite creates jobs.sqlite, -wal and -shm itself
            con = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        con.row_factory = sqlite3.Row
        con.execute("PRAGMA busy_timeout = 30000")
        return con

    @contextmanager
    def _tx(self):
        """A write transaction taken at once (BEGIN IMMEDIATE), so read-then-write steps cannot interleave."""
        con = self._connect()
        try:
            con.execute("BEGIN IMMEDIATE")
            try:
                yield con
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        finally:
            con.close()

    @contextmanager
    def _read(self):
        con = self._connect()
        try:
            yield con
        finally:
            con.close()

    def _migrate(self) -> None:
        con = self._connect()
        try:
            if con.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                con.execute("PRAGMA journal_mode = WAL")
            version = con.execute("PRAGMA user_version").fetchone()[0]
            if version >= len(MIGRATIONS):
                return
            con.execute("BEGIN IMMEDIATE")
            version = con.execute("PRAGMA user_version").fetchone()[0]
            for i in range(version, len(MIGRATIONS)):
                for stmt in MIGRATIONS[i].split(";"):
                    if stmt.strip():
                        con.execute(stmt)
            con.execute(f"PRAGMA user_version = {len(MIGRATIONS)}")
            con.execute("COMMIT")
        finally:
            con.close()

    @property
    def schema_version(self) -> int:
        with self._read() as con:
            return con.execute("PRAGMA user_version").fetchone()[0]

    @staticmethod
    def _next_ms(con: sqlite3.Connection, kind: str) -> int:
        row = con.execute("SELECT last FROM counters WHERE kind = ?", (kind,)).fetchone()
        n = now_ms()
        if row is not None and n <= row["last"]:
            n = row["last"] + 1
        con.execute("INSERT INTO counters (kind, last) VALUES (?, ?) "
                    "ON CONFLICT(kind) DO UPDATE SET last = excluded.last", (kind, n))
        return n

    # ----------------------------------------------------------------------------------------- files
    def create_file(self, filename: str, src_path: str | os.PathLike | None = None, data: bytes | None = None,
                    purpose: str = "fine-tune", examples: int | None = None) -> dict:
        """Store a training file under ``files/`` (copied, so later edits of the original change nothing)."""
        if (src_path is None) == (data is None):
            raise ValueError("give src_path or data")
        filename = os.path.basename(filename) or "training.jsonl"
        fdir = fmhome.files_dir(ensure=True)
        with self._tx() as con:
            ms = self._next_ms(con, "file")
            fid = f"{FILE_PREFIX}{ms}"
            dest = fdir / f"{fid}.jsonl"
            tmp = fdir / f".{fid}.tmp"
            with fmhome.private():
                if src_path is not None:
                    shutil.copyfile(src_path, tmp)
                else:
                    tmp.write_bytes(data)
            os.replace(tmp, dest)
            size = dest.stat().st_size
            con.execute("INSERT INTO files (id, filename, bytes, path, purpose, examples, created_at) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?)", (fid, filename, size, str(dest), purpose, examples, ms))
        return self.get_file(fid)

    def get_file(self, file_id: str) -> dict:
        with self._read() as con:
            row = con.execute("SELECT * FROM files WHERE id = ?", (file_id,)).fetchone()
        if row is None:
            raise JobNotFound(f"There is no training file {file_id!r}.")
        return dict(row)

    def list_files(self, purpose: str | None = None) -> list[dict]:
        with self._read() as con:
            if purpose:
                rows = con.execute("SELECT * FROM files WHERE purpose = ? ORDER BY created_at DESC", (purpose,))
            else:
                rows = con.execute("SELECT * FROM files ORDER BY created_at DESC")
            return [dict(r) for r in rows]

    def delete_file(self, file_id: str) -> dict:
        f = self.get_file(file_id)
        with self._tx() as con:
            con.execute("DELETE FROM files WHERE id = ?", (file_id,))
        try:
            os.unlink(f["path"])
        except OSError:
            pass
        return {"id": file_id, "object": "file", "deleted": True}

    # ----------------------------------------------------------------------------------------- jobs
    def create_job(self, model: str, training_file: str, hyperparameters: dict,
                   fine_tuned_model: str | None = None, name_for=None, total_steps: int | None = None) -> dict:
        """Queue a job. ``fine_tuned_model`` or ``name_for(job_ms)`` (a name built from the id) names the result."""
        f = self.get_file(training_file)
        with self._tx() as con:
            ms = self._next_ms(con, "job")
            jid = f"{JOB_PREFIX}{ms}"
            tuned = fine_tuned_model or (name_for(ms) if name_for else f"fm-mlx-{ms}")
            con.execute(
                "INSERT INTO jobs (id, model, training_file, training_file_name, fine_tuned_model, status, "
                "hyperparameters, created_at, total_steps) VALUES (?, ?, ?, ?, ?, 'queued', ?, ?, ?)",
                (jid, model, f["id"], f["filename"], tuned, json.dumps(hyperparameters), ms, total_steps))
            self._event(con, jid, "info", f"Job created: fine-tuning {model} on {f['filename']}.")
        return self.get_job(jid)

    def get_job(self, job_id: str) -> dict:
        with self._read() as con:
            row = con.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise JobNotFound(f"There is no fine-tuning job {job_id!r}.")
        return _job_dict(row)

    def list_jobs(self, after: str | None = None, limit: int = 20, status: str | None = None) -> list[dict]:
        """Newest first; ``after`` is a job id cursor (OpenAI's pagination: jobs created before it)."""
        sql, args = "SELECT * FROM jobs", []
        cond = []
        if after:
            cond.append("created_at < (SELECT created_at FROM jobs WHERE id = ?)")
            args.append(after)
        if status:
            cond.append("status = ?")
            args.append(status)
        if cond:
            sql += " WHERE " + " AND ".join(cond)
        sql += " ORDER BY created_at DESC LIMIT ?"
        args.append(int(limit))
        with self._read() as con:
            return [_job_dict(r) for r in con.execute(sql, args)]

    def cancel_job(self, job_id: str) -> dict:
        """Cancel a queued or running job. A running one stops at its next step (the worker watches the status)."""
        with self._tx() as con:
            row = con.execute("SELECT status FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                raise JobNotFound(f"There is no fine-tuning job {job_id!r}.")
            if row["status"] in TERMINAL:
                raise JobStateError(f"The job {job_id} has already {row['status']}; it cannot be cancelled.")
            con.execute("UPDATE jobs SET status = 'cancelled', finished_at = ? WHERE id = ?", (now_ms(), job_id))
            self._event(con, job_id, "info", "Job cancelled.")
        return self.get_job(job_id)

    # Worker side ---------------------------------------------------------------------------------
    def claim_next(self, pid: int) -> dict | None:
        """Take the oldest queued job and mark it running (atomically: two workers never take the same job)."""
        with self._tx() as con:
            row = con.execute("SELECT id FROM jobs WHERE status = 'queued' ORDER BY created_at LIMIT 1").fetchone()
            if row is None:
                return None
            con.execute("UPDATE jobs SET status = 'running', pid = ?, started_at = COALESCE(started_at, ?), "
                        "attempts = attempts + 1 WHERE id = ?", (pid, now_ms(), row["id"]))
        return self.get_job(row["id"])

    def has_queued(self) -> bool:
        with self._read() as con:
            return con.execute("SELECT 1 FROM jobs WHERE status = 'queued' LIMIT 1").fetchone() is not None

    def running_jobs(self) -> list[dict]:
        with self._read() as con:
            return [_job_dict(r) for r in con.execute("SELECT * FROM jobs WHERE status = 'running'")]

    def status_of(self, job_id: str) -> str | None:
        with self._read() as con:
            row = con.execute("SELECT status FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return row["status"] if row else None

    def update_progress(self, job_id: str, step: int, trained_tokens: int) -> None:
        with self._tx() as con:
            con.execute("UPDATE jobs SET step = ?, trained_tokens = ? WHERE id = ? AND status = 'running'",
                        (step, trained_tokens, job_id))

    def finish(self, job_id: str, status: str, error: str | None = None, trained_tokens: int | None = None,
               on_commit=None) -> bool:
        """Move a running job to ``status``; False when it is no longer running (e.g. cancelled meanwhile).

        ``on_commit`` runs inside the transaction (publishing the adapter), so a cancel cannot slip in between.
        """
        with self._tx() as con:
            row = con.execute("SELECT status FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None or row["status"] != "running":
                return False
            if on_commit is not None:
                on_commit()
            con.execute("UPDATE jobs SET status = ?, finished_at = ?, error = ?, "
                        "trained_tokens = COALESCE(?, trained_tokens) WHERE id = ?",
                        (status, now_ms(), redact(error) if error else error, trained_tokens, job_id))
            level = "error" if status == "failed" else "info"
            msg = {"succeeded": "Job succeeded.", "failed": f"Job failed: {error}",
                   "cancelled": "Job cancelled.", "queued": f"Job queued again: {error}"}.get(status, status)
            self._event(con, job_id, level, msg)
        return True

    def requeue(self, job_id: str, reason: str) -> None:
        with self._tx() as con:
            con.execute("UPDATE jobs SET status = 'queued', pid = NULL WHERE id = ? AND status = 'running'",
                        (job_id,))
            self._event(con, job_id, "warning", reason)

    # ----------------------------------------------------------------------------------------- events
    @staticmethod
    def _event(con, job_id: str, level: str, message: str, data: dict | None = None) -> None:
        con.execute("INSERT INTO events (job_id, ts, level, message, data) VALUES (?, ?, ?, ?, ?)",
                    (job_id, now_ms(), level, redact(message), json.dumps(data) if data else None))

    def add_event(self, job_id: str, message: str, level: str = "info", data: dict | None = None,
                  only_running: bool = False) -> bool:
        """Record an event. ``only_running``: only while the job is still running (checked in the same
        transaction), so a training report never lands after "Job cancelled."; False when it was not added."""
        with self._tx() as con:
            if only_running:
                row = con.execute("SELECT status FROM jobs WHERE id = ?", (job_id,)).fetchone()
                if row is None or row["status"] != "running":
                    return False
            self._event(con, job_id, level, message, data)
        return True

    def events(self, job_id: str, after: int | str | None = None, limit: int | None = None) -> list[dict]:
        """Events in order. ``after`` is an event's ``seq`` (or ``ftevent-<seq>``): only later ones come back."""
        if isinstance(after, str):
            after = int(after.rsplit("-", 1)[-1]) if after.rsplit("-", 1)[-1].isdigit() else None
        sql = "SELECT * FROM events WHERE job_id = ? AND seq > ? ORDER BY seq"
        args: list = [job_id, after or 0]
        if limit:
            sql += " LIMIT ?"
            args.append(int(limit))
        with self._read() as con:
            return [_event_dict(r) for r in con.execute(sql, args)]

    def metrics(self, job_id: str) -> list[dict]:
        """The ``data`` of every metrics event (step, train_loss, val_loss, tokens_per_sec, elapsed)."""
        return [e["data"] for e in self.events(job_id) if e["data"] and "step" in e["data"]]

    # ----------------------------------------------------------------------------------------- waiting
    def wait(self, job_id: str, timeout: float | None = None, on_event=None, poll: float = 0.2,
             keepalive=None) -> dict:
        """Block until the job ends or ``timeout`` seconds pass; return the job. ``on_event(event)`` sees each
        new event once; ``keepalive()`` runs every few seconds (to restart a worker that died)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        last_seq = 0
        last_keep = 0.0
        while True:
            if on_event is not None:
                for e in self.events(job_id, after=last_seq):
                    last_seq = e["seq"]
                    on_event(e)
            job = self.get_job(job_id)
            if job["status"] in TERMINAL:
                if on_event is not None:
                    for e in self.events(job_id, after=last_seq):
                        on_event(e)
                return job
            if keepalive is not None and time.monotonic() - last_keep > 2.0:
                last_keep = time.monotonic()
                keepalive()
            if deadline is not None and time.monotonic() >= deadline:
                return job
            time.sleep(poll if deadline is None else max(0.0, min(poll, deadline - time.monotonic())))


def _job_dict(row: sqlite3.Row) -> dict:
    d = dict(row)
    d["hyperparameters"] = json.loads(d["hyperparameters"]) if d["hyperparameters"] else {}
    d["object"] = "fine_tuning.job"
    return d


def _event_dict(row: sqlite3.Row) -> dict:
    d = dict(row)
    d["id"] = f"ftevent-{d['seq']}"
    d["data"] = json.loads(d["data"]) if d["data"] else None
    return d
