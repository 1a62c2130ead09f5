"""Waiting for fine-tuning jobs and showing their progress: the one service behind ``fmscript jobs wait``,
Wait for Fine-Tune Job, ``fmscript run``'s wait at the end, the REPL's goodbye and the embedding API's
``on_job_progress``.

On a terminal the progress is a rich bar that fits the terminal's width (step/total, loss, tokens/s, elapsed
time and an ETA from the training rate, so model loading is left out); otherwise one plain line per report, as
mlx-lm prints them. Either way the wait ends with one line saying how the job ended ("done in …" when it
succeeded). Ctrl-C stops the waiting, not the job, and says how to cancel it.
"""
from __future__ import annotations

import sys
import time

TERMINAL = ("succeeded", "failed", "cancelled")
#: Where the session keeps the jobs its scripts started: a list of (account, job id).
STARTED = "started_jobs"


def _clock(seconds: float | None) -> str:
    if seconds is None or seconds < 0:
        return "-:--"
    s = int(round(seconds))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _duration(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 60 else _clock(seconds)


class JobProgress:
    """One job's events drawn on ``stream``: a rich bar on a terminal, plain lines otherwise.

    Feed it job events (``on_event``); ``end(job)`` prints the closing line; ``close()`` only stops drawing.
    """

    def __init__(self, label: str, stream=None, tty: bool | None = None, width: int | None = None):
        self.stream = stream or sys.stderr
        self.label = label
        self.tty = _isatty(self.stream) if tty is None else tty
        self.width = width
        self.total = None
        self.step = 0
        self.resumed_from = 0
        self.t0 = time.monotonic()
        self._progress = None
        self._task = None
        self._console = None

    # ------------------------------------------------------------------------------------------ events
    def on_event(self, event: dict) -> None:
        d = event.get("data") or {}
        if d.get("resumed_from"):
            self.resumed_from = int(d["resumed_from"])
        if d.get("total_steps"):
            self.total = int(d["total_steps"])
        if "step" in d:
            self.update(d)
        elif not self.tty:
            self._line(event.get("message", ""))
        elif event.get("level") in ("warning", "warn", "error"):
            self._print(event.get("message", ""))

    def eta(self, d: dict) -> float | None:
        """Seconds left, from the training rate (``elapsed`` counts training only, not model loading)."""
        step, total, elapsed = d.get("step") or 0, d.get("total_steps") or self.total, d.get("elapsed")
        done = step - self.resumed_from
        if not total or elapsed is None or done <= 0:
            return None
        return elapsed / done * max(total - step, 0)

    def update(self, d: dict) -> None:
        self.step = int(d["step"])
        total = d.get("total_steps") or self.total or self.step
        loss, val, tps = d.get("train_loss"), d.get("val_loss"), d.get("tokens_per_sec")
        eta = self.eta(d)
        if not self.tty:
            parts = [f"step {self.step}/{total}"]
            if loss is not None:
                parts.append(f"train loss {loss:.4f}")
            if val is not None:
                parts.append(f"validation loss {val:.4f}")
            if tps:
                parts.append(f"{tps:,.0f} tokens/s")
            parts.append(f"elapsed {_clock(time.monotonic() - self.t0)}")
            if eta is not None:
                parts.append(f"ETA {_clock(eta)}")
            self._line(f"{self.label}: " + ", ".join(parts))
            return
        self._bar(total)
        loss_text = "" if loss is None else f"loss {loss:.4f}"
        if val is not None and self._wide:
            loss_text += f" val {val:.4f}"
        self._progress.update(self._task, total=total, completed=self.step, loss=loss_text,
                              speed=f"{tps:,.0f} tok/s" if tps else "", eta=_clock(eta))

    # ------------------------------------------------------------------------------------------ drawing
    def _bar(self, total: int) -> None:
        if self._progress is not None:
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
        from rich.table import Column

        self._console = Console(file=self.stream, width=self.width, stderr=self.stream is sys.stderr,
                                force_terminal=True, highlight=False)
        width = self._console.width
        self._wide = width >= 100

        def text(fmt: str, min_width: int = 0):
            return TextColumn(fmt, table_column=Column(no_wrap=True, overflow="ellipsis", min_width=min_width))

        cols = []
        if self._wide:
            cols.append(text("{task.description}"))
        cols.append(BarColumn(bar_width=24 if self._wide else 20 if width >= 72 else 10))
        cols.append(MofNCompleteColumn(table_column=Column(no_wrap=True)))
        cols.append(text("{task.fields[loss]}", 11))
        if width >= 72:
            cols.append(text("{task.fields[speed]}", 11))
        cols.append(TimeElapsedColumn(table_column=Column(no_wrap=True)))
        cols.append(text("ETA {task.fields[eta]}"))
        self._progress = Progress(*cols, console=self._console, transient=False, refresh_per_second=4)
        self._progress.start()
        self._task = self._progress.add_task(self.label, total=total, loss="", speed="", eta="-:--")

    def _print(self, text: str) -> None:
        if self._progress is not None:
            self._progress.console.print(text, markup=False, highlight=False, soft_wrap=False, overflow="fold")
        else:
            self._line(text)

    def _line(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def end(self, job: dict) -> None:
        """Stop drawing and say how the job ended, in one line."""
        self.close()
        status = job.get("status")
        took = _duration(time.monotonic() - self.t0)
        if status == "succeeded":
            model = job.get("fine_tuned_model")
            if model:
                self._line(f"tuned model: {model}")
            steps = f", {self.step} steps" if self.step else ""
            self._line(f"{self.label} succeeded{steps}, done in {took}.")
        elif status in TERMINAL:
            self._line(f"{self.label} {status} after {took}.")
        else:
            self._line(f"{self.label} is still {status} after {took}.")


def _isatty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def cancel_hint(provider, job_id: str) -> str:
    """How to cancel the job, from the provider (an embedder's own provider may not say: then a general hint)."""
    hint = getattr(provider, "cancel_hint", None)
    return hint(job_id) if callable(hint) else "cancel it with its provider's own tools"


def wait_for_job(provider, job_id: str, timeout: float | None = None, *, show: bool = True, stream=None,
                 on_event=None, tty: bool | None = None) -> dict:
    """Wait for one job through its provider, drawing its progress on ``stream`` (stderr) when ``show``, and
    passing each event to ``on_event`` (an embedder's ``on_job_progress``). Returns the provider's JSON.

    Ctrl-C stops the waiting only: the job keeps running, and a line says how to cancel it; the
    ``KeyboardInterrupt`` then goes on to the caller (exit code 130 on the command line)."""
    stream = stream or sys.stderr
    progress = JobProgress(job_id, stream, tty=tty) if show else None
    if progress is None and on_event is None:
        callback = None
    else:
        def callback(event):
            if progress is not None:
                progress.on_event(event)
            if on_event is not None:
                on_event(event)
    try:
        result = provider.wait(job_id, timeout=timeout, on_progress=callback)
    except KeyboardInterrupt:
        if progress is not None:
            progress.close()
        stream.write(f"fmscript: stopped waiting; the fine-tuning job {job_id} keeps running "
                     f"({cancel_hint(provider, job_id)}).\n")
        stream.flush()
        raise
    except BaseException:
        if progress is not None:
            progress.close()
        raise
    if progress is not None:
        progress.end(result.get("result", result) if isinstance(result, dict) else {})
    return result


# ---------------------------------------------------------------------------------------------- a session's jobs

def record_started(session, account, job_id: str) -> None:
    """Remember a job a script of this session started (``fmscript run`` waits for it at the end)."""
    session.extensions.setdefault(STARTED, []).append((account, job_id))


def started_jobs(session) -> list:
    return list(session.extensions.get(STARTED) or [])


def _status(account, job_id: str) -> str | None:
    from fmscript.errors import FMScriptError

    try:
        job = account.provider.job_status(job_id)
    except FMScriptError:
        return None
    return (job.get("result", job) if isinstance(job, dict) else {}).get("status")


def session_progress(session) -> tuple[bool, object]:
    """(show a bar or lines on stderr, the embedder's hook): shown on a terminal, or when the command line asks."""
    show = bool(session.extensions.get("show_job_progress")) or _isatty(sys.stderr)
    return show, session.extensions.get("on_job_progress")


def finish_started_jobs(session, stream=None) -> int:
    """At the end of ``fmscript run``: wait for every job its scripts started, on every provider, that is not
    over yet. Returns the exit code: 1 when one of them failed, was cancelled or did not end."""
    stream = stream or sys.stderr
    code = 0
    show, hook = session_progress(session)
    for account, job_id in started_jobs(session):
        if _status(account, job_id) in TERMINAL:
            continue  # the script already waited for it
        stream.write(f"fmscript: waiting for fine-tuning job {job_id} (--detach does not wait; Ctrl-C stops "
                     "waiting)\n")
        stream.flush()
        result = wait_for_job(account.provider, job_id, show=show, stream=stream, on_event=hook)
        job = result.get("result", result)
        if job.get("status") != "succeeded":
            code = 1
    return code


def still_running(session) -> list[tuple[str, str, str]]:
    """(job id, status, how to follow it) of the session's jobs that are not over (the REPL names them on exit)."""
    out = []
    for account, job_id in started_jobs(session):
        status = _status(account, job_id)
        if status in ("queued", "running", "validating_files"):
            follow = f"fmscript jobs wait {job_id}" if account.provider_name.casefold() == "local" else \
                cancel_hint(account.provider, job_id)
            out.append((job_id, status, follow))
    return out
