"""``/v1/files``: upload (multipart, purpose ``fine-tune``), list, show, download and delete training files.

An upload is validated completely, exactly as the local engine validates a script's file, before it is stored:
a bad line gets 400 with the line number and the problem, and nothing is kept.
"""
from __future__ import annotations

import os
import tempfile
from typing import Literal

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import FileResponse

from fmscript import home as fmhome
from fmscript.ai.jobs import JobNotFound

from . import schemas as S
from .errors import APIError

router = APIRouter(prefix="/v1", tags=["files"], responses=S.COMMON_ERRORS)

#: Largest upload accepted (bytes); ``FMSCRIPT_SERVER_MAX_UPLOAD`` changes it.
MAX_UPLOAD = 512 * 1024 * 1024


def file_object(f: dict) -> dict:
    """OpenAI's File object (seconds, ``status`` processed: validation happens at upload)."""
    return {"id": f["id"], "object": "file", "bytes": f["bytes"], "created_at": int(f["created_at"] // 1000),
            "filename": f["filename"], "purpose": f["purpose"], "status": "processed", "status_details": None,
            "expires_at": None}


def max_upload() -> int:
    """The upload limit in force (bytes)."""
    try:
        return int(os.environ.get("FMSCRIPT_SERVER_MAX_UPLOAD", MAX_UPLOAD))
    except ValueError:
        return MAX_UPLOAD


def _get(store, file_id: str) -> dict:
    try:
        return store.get_file(file_id)
    except JobNotFound:
        raise APIError(404, f"No such File object: {file_id}", param="id", code="file_not_found") from None


@router.post("/files", responses=S.ok(S.FileObject, 413), summary="Upload a JSONL training file (purpose fine-tune)")
def upload_file(request: Request, file: UploadFile = File(...), purpose: str = Form(...)):
    from fmscript.ai.trainingdata import TrainingDataError, validate_file

    if purpose != "fine-tune":
        raise APIError(400, f"The purpose {purpose!r} is not supported: this server stores training files "
                            "only (purpose 'fine-tune').", param="purpose", code="invalid_purpose")
    name = os.path.basename(file.filename or "") or "training.jsonl"
    fdir = fmhome.files_dir(ensure=True)
    fd, tmp = tempfile.mkstemp(prefix=".upload-", suffix=".tmp", dir=fdir)
    try:
        limit = max_upload()
        with os.fdopen(fd, "wb") as out:
            copied = 0
            while chunk := file.file.read(1 << 20):
                copied += len(chunk)
                if copied > limit:
                    raise APIError(413, f"The file is larger than the server's limit of {limit} bytes.",
                                   param="file", code="file_too_large")
                out.write(chunk)
        try:
            summary = validate_file(tmp)
        except TrainingDataError as e:
            where = f"line {e.line}: " if e.line else ""
            raise APIError(400, f"Invalid training file {name!r}: {where}{e.problem}", param="file",
                           code="invalid_file") from None
        store = request.app.state.engine.store
        f = store.create_file(name, src_path=tmp, examples=summary.examples)
    finally:
        try:
            os.unlink(tmp)
        except OSError:
            pass
    return file_object(f)


@router.get("/files", responses=S.ok(S.FileList), summary="List training files")
def list_files(request: Request, purpose: str | None = None, after: str | None = None,
               limit: int = Query(10000, ge=1, le=10000), order: Literal["asc", "desc"] = "desc"):
    rows = request.app.state.engine.store.list_files(purpose)
    if order == "asc":
        rows.reverse()
    if after:
        ids = [r["id"] for r in rows]
        rows = rows[ids.index(after) + 1:] if after in ids else []
    page = rows[:limit]
    data = [file_object(r) for r in page]
    return {"object": "list", "data": data, "has_more": len(rows) > limit,
            "first_id": data[0]["id"] if data else None, "last_id": data[-1]["id"] if data else None}


@router.get("/files/{file_id}", responses=S.ok(S.FileObject), summary="Show a training file")
def retrieve_file(request: Request, file_id: str):
    return file_object(_get(request.app.state.engine.store, file_id))


@router.get("/files/{file_id}/content", summary="Download a training file's JSONL")
def file_content(request: Request, file_id: str):
    f = _get(request.app.state.engine.store, file_id)
    return FileResponse(f["path"], media_type="application/jsonl", filename=f["filename"])


@router.delete("/files/{file_id}", responses=S.ok(S.Deleted, 409),
               summary="Delete a training file (not while a queued or running job uses it)")
def delete_file(request: Request, file_id: str):
    store = request.app.state.engine.store
    _get(store, file_id)
    busy = [j for s in ("queued", "running") for j in store.list_jobs(limit=100000, status=s)
            if j["training_file"] == file_id]
    if busy:
        raise APIError(409, f"The file {file_id} is used by the {busy[0]['status']} job {busy[0]['id']}; cancel "
                            "it or wait for it to end first.", param="file_id", code="file_in_use")
    return store.delete_file(file_id)

