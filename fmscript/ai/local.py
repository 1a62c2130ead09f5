"""The Local provider: what Configure AI Account [ Model Provider: Local ] and the AI steps call.

:class:`LocalEngine` *is* the provider (no layer in between). ``fine_tune`` checks everything a person can get
wrong (the file, every line of it, the parameters, the base model and whether it fits in memory) *before* a job
exists, then stores a copy of the file, queues the job, makes sure the worker runs, and returns the spec's
``{"result": {...}}`` at once. The spec's response shape is built here, by its only caller.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

from fmscript import home as fmhome
from fmscript.ai import jobs as jobs_mod
from fmscript.ai import modelstore
from fmscript.ai.accounts import Provider
from fmscript.ai.params import default_root_name, parse_params, tuned_model_name
from fmscript.ai.trainingdata import validate_file
from fmscript.errors import E_TIMEOUT, FMScriptError


def spec_result(job: dict) -> dict:
    """The AI Model Server's response shape (the spec's ``{"result": {...}}``): milliseconds, the file's name."""
    return {"result": {
        "object": "fine_tuning.job",
        "id": job["id"],
        "file_id": job["training_file"],
        "model": job["model"],
        "created_at": job["created_at"],
        "fine_tuned_model": job["fine_tuned_model"],
        "status": job["status"],
        "training_file": job["training_file_name"],
        "tags": ["fine-tune"],
    }}


def planned_steps(params, examples: int | None) -> int | None:
    """The steps a job will run: ``max_steps``, or for ``epochs`` ceil(epochs × training examples ÷ batch size),
    with the examples held out for validation left out as the trainer leaves them out."""
    if not params.epochs:
        return params.max_steps
    if not examples:
        return None
    from fmscript.ai.trainer import training_count

    return max(1, math.ceil(params.epochs * training_count(examples, params.validation_fraction)
                            / params.batch_size))


class LocalEngine(Provider):
    """The embedded engine of one fmscript home (``FMSCRIPT_HOME`` at call time)."""

    provider_name = "Local"

    def __init__(self, tie_worker_to_pid: int | None = None):
        # A server passes its own pid so that a worker never trains on after the server is killed.
        self.tie_worker_to_pid = tie_worker_to_pid
        self._store: jobs_mod.JobStore | None = None

    @property
    def store(self) -> jobs_mod.JobStore:
        """The home's job store, opened (and its schema checked) once per home, not on every access."""
        path = fmhome.jobs_db()
        if self._store is None or self._store.path != path:
            self._store = jobs_mod.JobStore(path)
        return self._store

    def ensure_worker(self) -> int | None:
        from fmscript.ai.worker import ensure_worker

        return ensure_worker(self.tie_worker_to_pid)

    def cancel_hint(self, job_id: str) -> str:
        return f"cancel it with: fmscript jobs cancel {job_id}"

    # ------------------------------------------------------------------------------------------ fine-tuning
    def prepare(self, base_model: str, training_path: str | os.PathLike, params=None):
        """Validate without side effects; returns (resolved base, FineTuneParams, TrainingSummary, warnings)."""
        p = parse_params(params)
        summary = validate_file(training_path)
        base = self.check_model(base_model, p, longest=summary.longest)
        return base, p, summary, p.warnings()

    def check_model(self, base_model: str, params=None, longest: int | None = None):
        """The base model exists here (or on the hub), is not itself a tuned model, and fits in memory."""
        p = params if hasattr(params, "to_json") else parse_params(params)
        base = modelstore.resolve_model(base_model)
        if base.kind == "tuned":
            raise FMScriptError(f"{base_model!r} is a tuned model; fine-tune its base model "
                                f"({base.base_name!r}) instead.", code=modelstore.E_INVALID_PARAMETER)
        if base.base_path is not None:
            modelstore.check_training_memory(base.base_path, p.batch_size, base_model, params=p, longest=longest)
        return base

    def fine_tune(self, base_model: str, training_path: str | os.PathLike, params=None,
                  training_file_name: str | None = None, on_warning=None) -> dict:
        """Queue a LoRA job and return the spec's shape: ``{"result": {"object": "fine_tuning.job", ...}}``."""
        base, p, summary, warnings = self.prepare(base_model, training_path, params)
        for w in warnings:
            if on_warning:
                on_warning(w)
        f = self.store.create_file(training_file_name or Path(training_path).name, src_path=training_path,
                                   examples=summary.examples)
        job = self.submit(base_model, f["id"], p, check=False)
        return spec_result(job)

    def submit(self, base_model: str, file_id: str, params, check: bool = True) -> dict:
        """Queue a job for an already stored (and validated) file, the server's path; returns the job dict."""
        p = params if hasattr(params, "to_json") else parse_params(params)
        if check:
            self.check_model(base_model, p)
        store = self.store
        explicit = tuned_model_name(p.fine_tuned_model_name) if p.fine_tuned_model_name else None
        examples = store.get_file(file_id).get("examples")
        job = store.create_job(base_model, file_id, p.to_json(), fine_tuned_model=explicit,
                               name_for=lambda ms: tuned_model_name(default_root_name(base_model, ms)),
                               total_steps=planned_steps(p, examples))
        self.ensure_worker()
        return job

    # ------------------------------------------------------------------------------------------ jobs
    def job_status(self, job_id: str) -> dict:
        """The job in the spec's shape (what ``FineTuneJobStatus`` and Wait for Fine-Tune Job return)."""
        return spec_result(self.store.get_job(job_id))

    status = job_status

    def job(self, job_id: str) -> dict:
        return self.store.get_job(job_id)

    def wait(self, job_id: str, timeout: float | None = None, on_progress=None, raise_on_timeout: bool = False) -> dict:
        """Wait for the job to end (or ``timeout`` seconds); returns the spec's shape with the current status.

        ``on_progress(event)`` receives each job event (metrics events carry ``data`` with step, losses, tokens/s).
        A worker that died is restarted while waiting, so the wait always ends.
        """
        job = self.store.wait(job_id, timeout=timeout, on_event=on_progress, keepalive=self.ensure_worker)
        if raise_on_timeout and job["status"] not in jobs_mod.TERMINAL:
            raise FMScriptError(f"The fine-tuning job {job_id} did not finish within {timeout} seconds "
                                f"(status: {job['status']}).", code=E_TIMEOUT)
        return spec_result(job)

    def cancel(self, job_id: str) -> dict:
        return spec_result(self.store.cancel_job(job_id))

    def list_jobs(self, limit: int = 20) -> list[dict]:
        return self.store.list_jobs(limit=limit)

    # ------------------------------------------------------------------------------------------ models
    def chat(self, model: str, messages, params: dict | None = None, **opts) -> str:
        """Answer chat ``messages`` with a base or tuned model (greedy unless ``temperature`` > 0).

        ``params`` is Generate Response from Model's Parameters (``temperature``, ``max_tokens``); keyword
        arguments say the same from Python."""
        from fmscript.ai.generate import generate

        p = {**(params or {}), **opts}
        temperature = float(p.pop("temperature", 0.0) or 0.0)
        max_tokens = int(p.pop("max_tokens", p.pop("max_completion_tokens", 256)) or 256)
        extra = {k: p[k] for k in ("top_p", "seed") if p.get(k) is not None}
        return generate(model, messages, temperature=temperature, max_tokens=max_tokens, **extra)

    def chat_turn(self, model: str, messages, params: dict | None = None, tools: list[dict] | None = None,
                  on_text=None):
        """One answer with tools (through the model's chat template) and streaming; a ``tools.Turn``."""
        from fmscript.ai.generate import turn

        p = dict(params or {})
        temperature = float(p.pop("temperature", 0.0) or 0.0)
        max_tokens = int(p.pop("max_tokens", p.pop("max_completion_tokens", 256)) or 256)
        extra = {k: p[k] for k in ("top_p", "seed") if p.get(k) is not None}
        return turn(model, messages, tools=tools, on_text=on_text, temperature=temperature, max_tokens=max_tokens,
                    **extra)

    def embed(self, model: str, inputs: list[str], params: dict | None = None) -> list:
        """One L2-normalised float32 vector per input, from a local embedding model (see ai/embeddings.py)."""
        from fmscript.ai.embeddings import embed_local

        p = params or {}
        limit = p.get("TruncateTokenLimit")
        return embed_local(model, list(inputs), max_tokens=int(limit) if limit else None,
                           truncate=bool(p.get("TruncateEnabled", 1)))

    def list_models(self) -> list[dict]:
        return modelstore.list_models()

    def remove_model(self, name: str) -> dict:
        return modelstore.remove_model(name)
