"""``/v1/fine_tuning/jobs``: create, list, show, cancel, events, in OpenAI's shapes (seconds, file ids).

Parameters: the AI Model Server's keys (``max_steps``, ``learning_rate``, ``lora_layers``, ``batch_size``,
``fine_tuned_model_name``) and the local engine's extras travel inside ``hyperparameters`` (numbers may be JSON
strings). OpenAI's ``n_epochs``, ``batch_size`` and ``learning_rate_multiplier`` are mapped where they mean
something, ``"auto"`` means the default, ``suffix`` names the model when ``fine_tuned_model_name`` does not,
and ``method: {"type": "supervised", ...}`` is read like ``hyperparameters``.

Because OpenAI's job object leaves ``fine_tuned_model`` empty until the job succeeds, ``metadata`` carries what
a client needs to build the AI Model Server's response (the Custom provider does): ``fine_tuned_model_name``,
``training_file_name`` and ``created_at_ms``.
"""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict

from fmscript.ai import jobs as jobs_mod
from fmscript.errors import FMScriptError

from . import schemas as S
from .errors import APIError, from_fmscript
from .limits import Seed, check_hyperparameters
from .models import require_served

router = APIRouter(prefix="/v1/fine_tuning", tags=["fine-tuning"], responses=S.COMMON_ERRORS)

DEFAULT_LEARNING_RATE = 2e-4


class MethodSupervised(BaseModel):
    model_config = ConfigDict(extra="allow")
    hyperparameters: dict[str, Any] | None = None


class Method(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str = "supervised"
    supervised: MethodSupervised | None = None


class JobCreate(BaseModel):
    """OpenAI's create-job body. ``hyperparameters`` takes OpenAI's keys and the AI Model Server's."""

    model_config = ConfigDict(extra="allow")
    model: str
    training_file: str
    hyperparameters: dict[str, Any] | None = None
    suffix: str | None = None
    seed: Seed | None = None
    validation_file: str | None = None
    method: Method | None = None
    metadata: dict[str, str] | None = None
    integrations: list[dict] | None = None


def _sec(ms):
    return None if ms is None else int(ms // 1000)


def job_object(job: dict) -> dict:
    """OpenAI's FineTuningJob object for a stored job (seconds, file ids, an ``error`` object; ``metadata``
    values are strings, as OpenAI's are)."""
    hp = job.get("hyperparameters") or {}
    err = None
    if job["status"] == "failed":
        err = {"code": "training_failed", "message": job.get("error") or "The job failed.", "param": None}
    openai_hp = {"n_epochs": hp.get("epochs") or "auto", "batch_size": hp.get("batch_size", "auto"),
                 "learning_rate_multiplier": "auto"}
    meta = {"fine_tuned_model_name": job["fine_tuned_model"], "training_file_name": job["training_file_name"],
            "created_at_ms": str(job["created_at"]), "step": str(job.get("step") or 0)}
    if job.get("total_steps"):
        meta["total_steps"] = str(job["total_steps"])
    return {
        "object": "fine_tuning.job",
        "id": job["id"],
        "model": job["model"],
        "created_at": _sec(job["created_at"]),
        "finished_at": _sec(job.get("finished_at")) if job["status"] in jobs_mod.TERMINAL else None,
        "fine_tuned_model": job["fine_tuned_model"] if job["status"] == "succeeded" else None,
        "organization_id": "fmscript",
        "result_files": [],
        "status": job["status"],
        "validation_file": None,
        "training_file": job["training_file"],
        "hyperparameters": dict(openai_hp),
        "trained_tokens": job.get("trained_tokens") if job["status"] == "succeeded" else None,
        "error": err,
        "seed": hp.get("seed", 0),
        "estimated_finish": None,
        "integrations": [],
        "metadata": meta,
        "method": {"type": "supervised", "supervised": {"hyperparameters": dict(openai_hp)}},
        "user_provided_suffix": hp.get("fine_tuned_model_name"),
    }


def event_object(event: dict) -> dict:
    """OpenAI's fine-tuning job event (seconds, ``warn`` for warnings, ``metrics`` events with ``data``)."""
    d = {"object": "fine_tuning.job.event", "id": event["id"], "created_at": _sec(event["ts"]),
         "level": {"warning": "warn"}.get(event["level"], event["level"]), "message": event["message"],
         "type": "metrics" if event.get("data") and "step" in event["data"] else "message"}
    if event.get("data"):
        d["data"] = event["data"]
    return d


def _number(v, key: str):
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            raise APIError(400, f"Invalid value for hyperparameters.{key}: {v!r} is not a number.",
                           param=f"hyperparameters.{key}", code="invalid_hyperparameters") from None
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise APIError(400, f"Invalid value for hyperparameters.{key}: expected a number or 'auto'.",
                       param=f"hyperparameters.{key}", code="invalid_hyperparameters")
    return v


def engine_params(body: JobCreate) -> dict:
    """The local engine's parameter object for an OpenAI-style request."""
    hp: dict = {}
    if body.method is not None:
        if body.method.type != "supervised":
            raise APIError(400, f"The method {body.method.type!r} is not supported; this server does supervised "
                                "LoRA fine-tuning only.", param="method.type", code="unsupported_method")
        if body.method.supervised and body.method.supervised.hyperparameters:
            hp.update(body.method.supervised.hyperparameters)
    hp.update(body.hyperparameters or {})
    check_hyperparameters(hp)
    out: dict = {}
    multiplier = None
    for k, v in hp.items():
        if v is None or v == "auto":
            continue  # OpenAI's "auto": the engine's default
        if k == "learning_rate_multiplier":
            multiplier = _number(v, k)
        elif k == "n_epochs":
            out["epochs"] = v
        else:
            out[k] = v
    if multiplier is not None:
        base = _number(out.get("learning_rate", DEFAULT_LEARNING_RATE), "learning_rate")
        out["learning_rate"] = base * multiplier
    if body.suffix and not out.get("fine_tuned_model_name"):
        out["fine_tuned_model_name"] = body.suffix
    if body.seed is not None and "seed" not in out:
        out["seed"] = body.seed
    return out


@router.post("/jobs", responses=S.ok(S.FineTuningJob),
             summary="Create a LoRA fine-tuning job (queued; one worker trains one job at a time)")
def create_job(request: Request, body: JobCreate):
    from fmscript.ai import modelstore
    from fmscript.ai.params import parse_params

    engine = request.app.state.engine
    store = engine.store
    if body.validation_file:
        raise APIError(400, "validation_file is not supported; the server holds back part of the training file "
                            "instead (hyperparameters.validation_fraction, default 0.1).",
                       param="validation_file", code="unsupported_parameter")
    try:
        params = parse_params(engine_params(body))
    except FMScriptError as e:
        raise from_fmscript(e, param="hyperparameters") from None
    try:
        f = store.get_file(body.training_file)
    except jobs_mod.JobNotFound:
        raise APIError(400, f"invalid training_file: {body.training_file} (no such file was uploaded).",
                       param="training_file", code="invalid_training_file") from None
    if f["purpose"] != "fine-tune":
        raise APIError(400, f"invalid training_file: {f['id']} was not uploaded with purpose 'fine-tune'.",
                       param="training_file", code="invalid_training_file")
    require_served(body.model, status=400, code="model_not_available")
    try:
        base = modelstore.resolve_model(body.model)
        if base.kind == "tuned":
            raise APIError(400, f"The model {body.model!r} is a fine-tuned model; fine-tune its base model "
                                f"({base.base_name!r}) instead.", param="model", code="model_not_available")
        if base.base_path is not None:
            modelstore.check_training_memory(base.base_path, params.batch_size, body.model, params=params)
    except modelstore.ModelNotFound as e:
        raise APIError(400, e.message, param="model", code="model_not_available") from None
    except FMScriptError as e:
        raise from_fmscript(e, param="model") from None
    job = engine.submit(body.model, f["id"], params)
    for w in params.warnings():
        store.add_event(job["id"], w, level="warning")
    return job_object(store.get_job(job["id"]))


@router.get("/jobs", responses=S.ok(S.JobList), summary="List jobs, newest first (pagination: after, limit)")
def list_jobs(request: Request, after: str | None = None, limit: int = Query(20, ge=1, le=1000)):
    store = request.app.state.engine.store
    if after:
        try:
            store.get_job(after)
        except jobs_mod.JobNotFound:
            raise APIError(400, f"Invalid 'after': there is no fine-tuning job {after!r}.", param="after",
                           code="invalid_cursor") from None
    rows = store.list_jobs(after=after, limit=limit + 1)
    return {"object": "list", "data": [job_object(j) for j in rows[:limit]], "has_more": len(rows) > limit}


def _job(store, job_id: str) -> dict:
    try:
        return store.get_job(job_id)
    except jobs_mod.JobNotFound:
        raise APIError(404, f"No such fine-tuning job: {job_id}.", param="fine_tuning_job_id",
                       code="fine_tune_not_found") from None


@router.get("/jobs/{job_id}", responses=S.ok(S.FineTuningJob), summary="Show a job")
def retrieve_job(request: Request, job_id: str):
    return job_object(_job(request.app.state.engine.store, job_id))


@router.post("/jobs/{job_id}/cancel", responses=S.ok(S.FineTuningJob), summary="Cancel a queued or running job")
def cancel_job(request: Request, job_id: str):
    store = request.app.state.engine.store
    job = _job(store, job_id)
    try:
        return job_object(store.cancel_job(job_id))
    except jobs_mod.JobStateError:
        raise APIError(400, f"The job {job_id} has already {job['status']} and cannot be cancelled.",
                       param="fine_tuning_job_id", code="invalid_state") from None


@router.get("/jobs/{job_id}/events", responses=S.ok(S.EventList),
            summary="A job's events, newest first (step, losses, tokens/s in data)")
def list_events(request: Request, job_id: str, after: str | None = None, limit: int = Query(20, ge=1, le=10000)):
    store = request.app.state.engine.store
    _job(store, job_id)
    events = list(reversed(store.events(job_id)))
    if after:
        ids = [e["id"] for e in events]
        events = events[ids.index(after) + 1:] if after in ids else []
    page = events[:limit]
    return {"object": "list", "data": [event_object(e) for e in page], "has_more": len(events) > limit}


@router.get("/jobs/{job_id}/checkpoints", summary="A job's checkpoints (none are published: an empty list)")
def list_checkpoints(request: Request, job_id: str):
    _job(request.app.state.engine.store, job_id)
    return {"object": "list", "data": [], "has_more": False, "first_id": None, "last_id": None}

