"""The Local provider: what Configure AI Account [ Model Provider: Local ] and the AI steps call.

``fine_tune`` checks everything a person can get wrong (the file, every line of it, the parameters, the base
model and whether it fits in memory) *before* a job exists, then stores a copy of the file, queues the job,
makes sure the worker runs, and returns the spec's ``{"result": {...}}`` at once.
"""
from __future__ import annotations

import os
from pathlib import Path

from fmscript.ai import jobs as jobs_mod
from fmscript.ai import modelstore
from fmscript.ai.params import default_root_name, parse_params, tuned_model_name
from fmscript.ai.trainingdata import validate_file
from fmscript.errors import FMScriptError, E_TIMEOUT


class LocalEngine:
    """The embedded engine of one fmscript home (``FMSCRIPT_HOME`` at call time)."""

    def __init__(self, tie_worker_to_pid: int | None = None):
        # A server passes its own pid so that a worker never trains on after the server is killed.
        self.tie_worker_to_pid = tie_worker_to_pid

    @property
    def store(self) -> jobs_mod.JobStore:
        return jobs_mod.JobStore()

    def ensure_worker(self) -> int | None:
        from fmscript.ai.worker import ensure_worker

        return ensure_worker(self.tie_worker_to_pid)

    # ------------------------------------------------------------------------------------------ fine-tuning
    def prepare(self, base_model: str, training_path: str | os.PathLike, params=None):
        """Validate without side effects; returns (resolved base, FineTuneParams, TrainingSummary, warnings)."""
        p = parse_params(params)
        summary = validate_file(training_path)
        base = self.check_model(base_model, p)
        return base, p, summary, p.warnings()

    def check_model(self, base_model: str, params=None):
        """The base model exists here (or on the hub), is not itself a tuned model, and fits in memory."""
        p = params if hasattr(params, "to_json") else parse_params(params)
        base = modelstore.resolve_model(base_model)
        if base.kind == "tuned":
            raise FMScriptError(f"{base_model!r} is a tuned model; fine-tune its base model "
                                f"({base.base_name!r}) instead.", code=modelstore.E_INVALID_PARAMETER)
        if base.base_path is not None:
            modelstore.check_training_memory(base.base_path, p.batch_size, base_model)
        return base

    def fine_tune(self, base_model: str, training_path: str | os.PathLike, params=None,
                  training_file_name: str | None = None, on_warning=None) -> dict:
        """Queue a LoRA job and return the spec's shape: ``{"result": {"object": "fine_tuning.job", ...}}``."""
        base, p, summary, warnings = self.prepare(base_model, training_path, params)
        for w in warnings:
            if on_warning:
                on_warning(w)
        store = self.store
        f = store.create_file(training_file_name or Path(training_path).name, src_path=training_path,
                              examples=summary.examples)
        job = self.submit(base_model, f["id"], p, check=False)
        return jobs_mod.job_to_spec_result(job)

    def submit(self, base_model: str, file_id: str, params, check: bool = True) -> dict:
        """Queue a job for an already stored (and validated) file, the server's path; returns the job dict."""
        p = params if hasattr(params, "to_json") else parse_params(params)
        if check:
            self.check_model(base_model, p)
        store = self.store
        explicit = tuned_model_name(p.fine_tuned_model_name) if p.fine_tuned_model_name else None
        job = store.create_job(base_model, file_id, p.to_json(), fine_tuned_model=explicit,
                               name_for=lambda ms: tuned_model_name(default_root_name(base_model, ms)),
                               total_steps=p.max_steps if not p.epochs else None)
        self.ensure_worker()
        return job

    # ------------------------------------------------------------------------------------------ jobs
    def status(self, job_id: str) -> dict:
        """The job in the spec's shape (what ``FineTuneJobStatus`` and Wait for Fine-Tune Job return)."""
        return jobs_mod.job_to_spec_result(self.store.get_job(job_id))

    def job(self, job_id: str) -> dict:
        return self.store.get_job(job_id)

    def wait(self, job_id: str, timeout: float | None = None, on_progress=None, raise_on_timeout: bool = False) -> dict:
        """Wait for the job to end (or ``timeout`` seconds); returns the spec's shape with the current status.

        ``on_progress(event)`` receives each job event (metrics events carry ``data`` with step, losses, tokens/s).
        A worker that died is restarted while waiting, so the wait always ends.
        """
        store = self.store
        job = store.wait(job_id, timeout=timeout, on_event=on_progress, keepalive=self.ensure_worker)
        if raise_on_timeout and job["status"] not in jobs_mod.TERMINAL:
            raise FMScriptError(f"The fine-tuning job {job_id} did not finish within {timeout} seconds "
                                f"(status: {job['status']}).", code=E_TIMEOUT)
        return jobs_mod.job_to_spec_result(job)

    def cancel(self, job_id: str) -> dict:
        return jobs_mod.job_to_spec_result(self.store.cancel_job(job_id))

    def list_jobs(self, limit: int = 20) -> list[dict]:
        return self.store.list_jobs(limit=limit)

    # ------------------------------------------------------------------------------------------ models
    def chat(self, model: str, messages, temperature: float = 0.0, max_tokens: int = 256, **opts) -> str:
        """Answer chat ``messages`` with a base or tuned model (greedy unless ``temperature`` > 0)."""
        from fmscript.ai.generate import generate

        return generate(model, messages, temperature=temperature, max_tokens=max_tokens, **opts)

    def list_models(self) -> list[dict]:
        return modelstore.list_models()

    def remove_model(self, name: str) -> dict:
        return modelstore.remove_model(name)
