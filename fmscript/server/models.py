"""``/v1/models``: base models under ``models/`` and tuned models under ``tuned/`` of the home.

Only tuned models can be deleted through the API (as with OpenAI); base models are managed with
``fmscript models``. Half-written adapters are never listed (the model store skips them).
"""
from __future__ import annotations

import os

from fastapi import APIRouter, Request

from fmscript.errors import FMScriptError

from . import schemas as S
from .errors import APIError

#: Set to 1 to let clients name Hugging Face hub models, which the server then downloads.
HUB_ENV = "FMSCRIPT_SERVER_ALLOW_HUB"

router = APIRouter(prefix="/v1", tags=["models"], responses=S.COMMON_ERRORS)


def model_object(m: dict) -> dict:
    d = {"id": m["id"], "object": "model", "created": int(m.get("created") or 0),
         "owned_by": "user" if m["kind"] == "tuned" else "fmscript"}
    if m["kind"] == "tuned":
        d["parent"] = m.get("base_model")
    return d


def served(name: str) -> bool:
    """True when ``name`` is a model of this server: under ``models/`` or ``tuned/`` of its home, or a built-in
    name (built on first use). A client never reaches the server's file system by path, nor the hub unless
    ``FMSCRIPT_SERVER_ALLOW_HUB=1``."""
    from fmscript.ai import modelstore
    from fmscript.ai.tinymodel import BUILTIN_MODELS

    if not isinstance(name, str) or name != name.strip():
        return False
    try:
        modelstore.check_model_name(name)
    except FMScriptError:
        return False
    if name.startswith("~") or "\\" in name:
        return False
    if (modelstore.models_root() / name / "config.json").is_file() or name in BUILTIN_MODELS:
        return True
    if (modelstore.tuned_root() / name / "adapter_config.json").is_file():
        return True
    return os.environ.get(HUB_ENV, "") == "1"


def require_served(name: str, status: int = 404, code: str = "model_not_found") -> None:
    if not served(name):
        raise APIError(status, f"The model '{name}' does not exist on this server (GET /v1/models lists its "
                               "models).", param="model", code=code)


def _find(engine, model_id: str) -> dict:
    for m in engine.list_models():
        if m["id"] == model_id:
            return m
    raise APIError(404, f"The model '{model_id}' does not exist.", param="model", code="model_not_found")


@router.get("/models", responses=S.ok(S.ModelList), summary="List base and tuned models")
def list_models(request: Request):
    return {"object": "list", "data": [model_object(m) for m in request.app.state.engine.list_models()]}


@router.get("/models/{model_id:path}", responses=S.ok(S.Model), summary="Show a model (the id may hold one '/')")
def retrieve_model(request: Request, model_id: str):
    return model_object(_find(request.app.state.engine, model_id))


@router.delete("/models/{model_id:path}", responses=S.ok(S.Deleted, 403), summary="Delete a tuned model")
def delete_model(request: Request, model_id: str):
    engine = request.app.state.engine
    m = _find(engine, model_id)
    if m["kind"] != "tuned":
        raise APIError(403, f"The model '{model_id}' is a base model; only fine-tuned models can be deleted "
                            "through the API (use `fmscript models remove`).", param="model",
                       code="model_not_deletable")
    engine.remove_model(model_id)
    return {"id": model_id, "object": "model", "deleted": True}
