"""OpenAI's error object, ``{"error": {"message", "type", "param", "code"}}``, and how fmscript errors map to it.

Every failure of the server answers with this object and the status code OpenAI would use, so the ``openai``
SDK raises its usual exception classes (``BadRequestError``, ``AuthenticationError``, ``NotFoundError``, …).
"""
from __future__ import annotations

from fastapi.responses import JSONResponse

from fmscript.redact import redact

#: The ``type`` OpenAI gives each status code.
_TYPES = {400: "invalid_request_error", 401: "invalid_request_error", 403: "invalid_request_error",
          404: "invalid_request_error", 405: "invalid_request_error", 409: "invalid_request_error",
          413: "invalid_request_error", 422: "invalid_request_error", 429: "rate_limit_error",
          500: "server_error", 503: "server_error"}


class APIError(Exception):
    """Raise from an endpoint to answer with OpenAI's error object."""

    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None,
                 type_: str | None = None, headers: dict | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.type = type_ or _TYPES.get(status, "invalid_request_error" if status < 500 else "server_error")
        self.headers = headers


def error_body(message: str, type_: str, param: str | None = None, code: str | None = None) -> dict:
    return {"error": {"message": redact(message), "type": type_, "param": param, "code": code}}


def error_response(e: APIError) -> JSONResponse:
    return JSONResponse(error_body(e.message, e.type, e.param, e.code), status_code=e.status, headers=e.headers)


def from_fmscript(e, param: str | None = None, status: int | None = None, code: str | None = None) -> APIError:
    """An :class:`~fmscript.errors.FMScriptError` as an API error: missing things are 404, the rest 400."""
    from fmscript.ai.jobs import JobNotFound, JobStateError
    from fmscript.ai.modelstore import ModelNotFound, NotEnoughMemory
    from fmscript.ai.params import ParameterError
    from fmscript.ai.trainingdata import TrainingDataError

    if status is None:
        status = 404 if isinstance(e, (JobNotFound, ModelNotFound)) else 400
    if code is None:
        code = ("model_not_found" if isinstance(e, ModelNotFound) else
                "not_found" if isinstance(e, JobNotFound) else
                "invalid_state" if isinstance(e, JobStateError) else
                "insufficient_memory" if isinstance(e, NotEnoughMemory) else
                "invalid_hyperparameters" if isinstance(e, ParameterError) else
                "invalid_file" if isinstance(e, TrainingDataError) else
                f"fmscript_error_{e.code}")
    return APIError(status, e.message, param=param, code=code)
