"""Response shapes for the OpenAPI document (``/openapi.json``): OpenAI's objects as this server fills them.

They document; they do not validate: the endpoints return plain dicts, so a field OpenAI adds later costs nothing.
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class ErrorObject(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorResponse(BaseModel):
    """OpenAI's error object; every failure answers with it."""

    error: ErrorObject


#: The errors every authenticated endpoint may give, for the routers' ``responses``.
COMMON_ERRORS = {400: {"model": ErrorResponse, "description": "Invalid request"},
                 401: {"model": ErrorResponse, "description": "Missing or wrong API key"},
                 404: {"model": ErrorResponse, "description": "Not found"}}


class FileObject(BaseModel):
    id: str
    object: Literal["file"] = "file"
    bytes: int
    created_at: int
    filename: str
    purpose: Literal["fine-tune"] = "fine-tune"
    status: Literal["processed"] = "processed"
    status_details: str | None = None
    expires_at: int | None = None


class FileList(BaseModel):
    object: Literal["list"] = "list"
    data: list[FileObject]
    has_more: bool
    first_id: str | None = None
    last_id: str | None = None


class Deleted(BaseModel):
    id: str
    object: str
    deleted: bool


class JobError(BaseModel):
    code: str
    message: str
    param: str | None = None


class Hyperparameters(BaseModel):
    n_epochs: int | Literal["auto"]
    batch_size: int | Literal["auto"]
    learning_rate_multiplier: float | Literal["auto"]


class FineTuningJob(BaseModel):
    """OpenAI's job object. ``metadata`` adds what the AI Model Server's response needs: ``fine_tuned_model_name``,
    ``training_file_name``, ``created_at_ms``, ``step`` and ``total_steps``."""

    object: Literal["fine_tuning.job"] = "fine_tuning.job"
    id: str
    model: str
    created_at: int
    finished_at: int | None = None
    fine_tuned_model: str | None = None
    organization_id: str
    result_files: list[str]
    status: Literal["queued", "running", "succeeded", "failed", "cancelled"]
    validation_file: str | None = None
    training_file: str
    hyperparameters: Hyperparameters
    trained_tokens: int | None = None
    error: JobError | None = None
    seed: int
    estimated_finish: int | None = None
    integrations: list[Any] = []
    metadata: dict[str, str]
    method: dict[str, Any]
    user_provided_suffix: str | None = None


class JobList(BaseModel):
    object: Literal["list"] = "list"
    data: list[FineTuningJob]
    has_more: bool


class JobEvent(BaseModel):
    object: Literal["fine_tuning.job.event"] = "fine_tuning.job.event"
    id: str
    created_at: int
    level: Literal["info", "warn", "error"]
    message: str
    type: Literal["message", "metrics"]
    data: dict[str, Any] | None = None


class EventList(BaseModel):
    object: Literal["list"] = "list"
    data: list[JobEvent]
    has_more: bool


class Model(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: Literal["fmscript", "user"]
    parent: str | None = None


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[Model]


class ChatMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str
    refusal: str | None = None


class ChatChoice(BaseModel):
    index: int
    message: ChatMessage
    logprobs: None = None
    finish_reason: Literal["stop", "length"]


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatCompletion(BaseModel):
    """The answer; with ``stream: true`` the body is ``text/event-stream`` of ``chat.completion.chunk`` objects,
    ending with ``data: [DONE]``."""

    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChatChoice]
    usage: Usage
    system_fingerprint: str


class WorkerState(BaseModel):
    running: bool
    pid: int | None = None


class QueueState(BaseModel):
    queued: int
    running: int


class GenerationState(BaseModel):
    answers: int = Field(description="chat answers under way, taking turns on the generation lock")
    embeddings: int = Field(description="embeddings requests under way, taking turns on it a slice of inputs at "
                                        "a time")


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    version: str
    worker: WorkerState
    jobs: QueueState
    generation: GenerationState


def ok(model: type[BaseModel], *errors: int) -> dict:
    """``responses=`` for a route answering ``model`` with 200, and OpenAI's error object with ``errors``."""
    return {200: {"model": model}, **{e: {"model": ErrorResponse} for e in errors}}
