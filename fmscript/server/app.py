"""The ASGI app: routers, the Bearer key check, OpenAI's error object everywhere, and the worker keep-alive.

The server holds no job state of its own: files, jobs and events live in the home's ``jobs.sqlite``
(:class:`fmscript.ai.jobs.JobStore`) and one worker process per home trains (:mod:`fmscript.ai.worker`). The
worker is tied to the server's pid, so a server killed with ``kill -9`` does not leave it training on: it
checkpoints and hands the job back to the queue. While the server runs, a keep-alive task starts a worker
whenever jobs wait and none runs, which also recovers jobs a dead worker left ``running``.
"""
from __future__ import annotations

import asyncio
import hmac
import os
import sys
import threading
from contextlib import asynccontextmanager

import anyio
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException as StarletteHTTPException

from fmscript import __version__
from fmscript.errors import FMScriptError

from .errors import APIError, error_body, error_response, from_fmscript
from .schemas import Health, ok

KEEPALIVE_SECONDS = 2.0


class BearerKeyMiddleware:
    """Every request must carry ``Authorization: Bearer <key>`` when the server has a key (compared in constant
    time), or a named key of the console's key store. Pure ASGI, so streamed answers pass through untouched. The
    console's pages (``exempt``) log in with a session cookie of their own instead."""

    def __init__(self, app, api_key: str | None, keystore=None, exempt=None):
        self.app = app
        self.key = api_key.encode() if api_key else None
        self.keystore = keystore
        self.exempt = exempt

    async def __call__(self, scope, receive, send):
        if self.key is None or scope["type"] != "http":  # lifespan events; the API has no websockets
            return await self.app(scope, receive, send)
        if self.exempt is not None and self.exempt(scope.get("path", "")):
            return await self.app(scope, receive, send)
        given = b""
        for name, value in scope.get("headers", ()):
            if name == b"authorization":
                given = value
                break
        scheme, _, token = given.partition(b" ")
        if scheme.lower() == b"bearer" and hmac.compare_digest(token.strip(), self.key):
            return await self.app(scope, receive, send)
        if scheme.lower() == b"bearer" and self.keystore is not None and token.strip() and \
                await anyio.to_thread.run_sync(self.keystore.find, token.strip()) is not None:
            return await self.app(scope, receive, send)
        message = ("Incorrect API key provided." if given else
                   "You didn't provide an API key. Send it in the Authorization header: "
                   "'Authorization: Bearer <FMSCRIPT_API_KEY>'.")
        resp = JSONResponse(error_body(message, "invalid_request_error", None, "invalid_api_key"),
                            status_code=401, headers={"WWW-Authenticate": "Bearer"})
        await resp(scope, receive, send)


class _GuardedStarts:
    """Starts the worker for this server at most once at a time.

    The engine's ``ensure_worker`` looks at the home's lock; a worker it has just started takes a moment to import
    and take that lock, and a second look in that moment (the keep-alive and a job submission together) would
    start a second process, which then finds the lock taken and exits. This guard remembers the process it
    started and starts no other while that one lives and has not given up.
    """

    def __init__(self, start):
        self._start = start
        self._lock = threading.Lock()
        self._pid: int | None = None

    def __call__(self) -> int | None:
        from fmscript.ai import worker

        with self._lock:
            if self._pid is not None and worker.process_alive(self._pid):
                return None  # starting, or running and holding the lock
            pid = self._start()
            if pid is not None:
                self._pid = pid
            return pid


def _server_engine(tie_to_pid: int):
    """The local engine whose worker stops when this server's process ends, started through the guard."""
    from fmscript.ai.local import LocalEngine

    engine = LocalEngine(tie_worker_to_pid=tie_to_pid)
    engine.ensure_worker = _GuardedStarts(engine.ensure_worker)
    return engine


def _keepalive_once(engine) -> None:
    """Start a worker when jobs are queued (or left running by a dead worker) and none holds the lock."""
    from fmscript.ai import worker

    store = engine.store
    if (store.has_queued() or store.running_jobs()) and not worker.worker_running():
        engine.ensure_worker()


def create_app(api_key: str | None = None, engine=None, keepalive: bool = True) -> FastAPI:
    """Build the app over ``engine`` (default: a :class:`~fmscript.ai.local.LocalEngine` whose worker stops when
    this process ends)."""
    if engine is None:
        engine = _server_engine(os.getpid())

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        task = None
        if keepalive:
            async def loop():
                while True:
                    try:
                        await anyio.to_thread.run_sync(_keepalive_once, engine)
                    except Exception as e:  # keep serving; say why on stderr
                        sys.stderr.write(f"fmscript serve: worker keep-alive: {type(e).__name__}: {e}\n")
                    await asyncio.sleep(KEEPALIVE_SECONDS)
            task = asyncio.create_task(loop())
        try:
            yield
        finally:
            if task is not None:
                task.cancel()

    # FastAPIOffline: FastAPI whose /docs loads Swagger UI from files of the fastapi-offline package, not from a
    # CDN, so the page works on a machine without internet (swagger-ui-bundle's Swagger UI 4 cannot show the
    # OpenAPI 3.1 document FastAPI writes).
    app = FastAPIOffline(
        title="fmscript model server",
        version=__version__,
        description="OpenAI-compatible fine-tuning and chat API over fmscript's local LoRA engine "
                    "(files, fine_tuning.jobs, models, chat.completions). Send `Authorization: Bearer "
                    "<FMSCRIPT_API_KEY>` when the server was started with a key.",
        lifespan=lifespan,
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
        swagger_ui_parameters={"validatorUrl": None},  # the validator badge would ask validator.swagger.io
    )
    app.state.engine = engine
    from .genlock import Turns

    # Every use of the generation lock takes turns (genlock.py): chat answers and the console's try-out a few
    # tokens a turn, embeddings a slice of their inputs; nothing holds it for its whole work.
    app.state.generation = Turns()

    @app.exception_handler(APIError)
    async def _api_error(request: Request, e: APIError):
        return error_response(e)

    @app.exception_handler(FMScriptError)
    async def _fm_error(request: Request, e: FMScriptError):
        return error_response(from_fmscript(e))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, e: StarletteHTTPException):
        if e.status_code == 404:
            msg = f"Invalid URL ({request.method} {request.url.path})."
        elif e.status_code == 405:
            msg = f"Method {request.method} is not allowed for {request.url.path}."
        else:
            msg = str(e.detail)
        return error_response(APIError(e.status_code, msg, headers=getattr(e, "headers", None)))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, e: RequestValidationError):
        errs = e.errors()
        first = errs[0] if errs else {}
        loc = [str(x) for x in first.get("loc", ()) if x not in ("body", "query", "path", "form")]
        param = ".".join(loc) or None
        what = f"'{param}'" if param else "the request"
        msg = f"Invalid value for {what}: {first.get('msg', 'invalid request')}."
        if first.get("type") == "missing":
            msg = f"Missing required parameter: {what}."
        elif first.get("type") == "json_invalid":
            msg = "We could not parse the JSON body of your request."
        return error_response(APIError(400, msg, param=param, code="invalid_request"))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, e: Exception):
        sys.stderr.write(f"fmscript serve: internal error on {request.method} {request.url.path}: "
                         f"{type(e).__name__}: {e}\n")
        return error_response(APIError(500, f"The server had an error while processing your request "
                                            f"({type(e).__name__}).", code="server_error"))

    from . import chat, embeddings, files, fine_tuning, models
    from .limits import BodyLimitMiddleware

    app.include_router(files.router)
    app.include_router(fine_tuning.router)
    app.include_router(models.router)
    app.include_router(chat.router)
    app.include_router(embeddings.router)

    @app.get("/health", tags=["server"], responses=ok(Health), summary="Liveness, version, worker and queue")
    def health():
        from fmscript.ai import worker

        store = engine.store
        return {"status": "ok", "version": __version__,
                "worker": {"running": worker.worker_running(), "pid": worker.worker_pid()},
                "jobs": {"queued": len(store.list_jobs(limit=100000, status="queued")),
                         "running": len(store.running_jobs())},
                "generation": {"answers": app.state.generation.answers,
                               "embeddings": app.state.generation.embeddings}}

    def openapi():
        """FastAPI's document without its 422 answers: validation errors here are OpenAI's 400."""
        if app.openapi_schema is None:
            from fastapi.openapi.utils import get_openapi

            doc = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            for item in doc.get("paths", {}).values():
                for op in item.values():
                    op.get("responses", {}).pop("422", None)
            for name in ("HTTPValidationError", "ValidationError"):
                doc.get("components", {}).get("schemas", {}).pop(name, None)
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = openapi

    from . import console

    console.install(app, api_key)  # the Admin Console at /console (docs/console.md)
    app.add_middleware(BodyLimitMiddleware, upload_limit=files.max_upload)  # inside the key check
    app.add_middleware(BearerKeyMiddleware, api_key=api_key, keystore=app.state.keystore,
                       exempt=console.is_console_path)
    return app
