"""The console's pages: jobs (live), a job (live loss chart, events, cancel), a new fine-tune (upload and start),
models (delete, try), server (health, API keys, AI calls), and login, logout and the language switch.

Every page is rendered on the server with jinja2 (autoescaping: a user's text is escaped wherever it shows); the
live parts are fragments (``…/live``) that ``static/console.js`` fetches every 1.5 s and swaps in, so the page's
script never sees a key or a job's data as code. Actions go through the HTTP API's own endpoint functions, so a
file is validated, a job checked and a model deleted exactly as the API does it.
"""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from urllib.parse import quote

import anyio
import jinja2
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile
from starlette.staticfiles import StaticFiles

from fmscript import __version__
from fmscript import home as fmhome
from fmscript.errors import FMScriptError

from . import PREFIX, charts, health, i18n
from .auth import CSRF_COOKIE, CSRF_FIELD, SESSION_COOKIE, SESSION_SECONDS, Auth
from .keys import KeyStore

HERE = Path(__file__).resolve().parent
POLL_MS = 1500
#: The longest answer the Models page's try-out asks for.
TRY_MAX_TOKENS = 128
#: Sent with every page: nothing loads from elsewhere, no inline script, no framing, nothing cached.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}

_env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(HERE / "templates")),
                          autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
                          trim_blocks=True, lstrip_blocks=True)


def _when(value, ms: bool = False) -> str:
    if not value:
        return "—"
    return dt.datetime.fromtimestamp(value / 1000 if ms else value).strftime("%Y-%m-%d %H:%M:%S")


def _duration(seconds) -> str:
    if seconds is None:
        return "—"
    s = int(round(seconds))
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h {m:02d}m" if h else (f"{m}m {s:02d}s" if m else f"{s}s")


_env.filters["when"] = _when
_env.filters["when_ms"] = lambda v: _when(v, ms=True)
_env.filters["duration"] = _duration
_env.filters["bytes"] = health.human_bytes
_env.filters["quote"] = lambda v: quote(str(v), safe="")


def _page_path(request: Request) -> str:
    """Where the language switch comes back to: this page, or for a page a form answered, the page of that form
    (its action takes POST only)."""
    path = request.url.path
    if request.method == "GET":
        return path + (f"?{request.url.query}" if request.url.query else "")
    if path.endswith("/cancel"):
        return path.removesuffix("/cancel")
    if path.startswith(PREFIX + "/keys"):
        return PREFIX + "/server"
    if path.startswith(PREFIX + "/models/"):
        return PREFIX + "/models"
    if path in (PREFIX + "/login", PREFIX + "/logout", PREFIX + "/lang"):
        return PREFIX + "/login"
    return path


def _safe_next(value: str | None) -> str:
    """Only a path of this console: never another site (``//host``) after logging in."""
    if value and value.startswith(PREFIX) and not value.startswith("//") and "\\" not in value:
        return value
    return PREFIX


class Console:
    """The pages of one server: its auth, key store and engine."""

    def __init__(self, app, api_key: str | None):
        self.app = app
        self.engine = app.state.engine
        self.keys = KeyStore(self.engine.store.path)
        self.auth = Auth(api_key, self.keys)

    # ------------------------------------------------------------------------------------------ rendering
    def lang(self, request: Request) -> str:
        return i18n.pick(request.cookies.get(i18n.LANG_COOKIE), request.headers.get("accept-language"))

    def csrf_cookie(self, request: Request) -> str:
        value = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "new_csrf", None)
        if not value:
            value = request.state.new_csrf = self.auth.new_csrf_cookie()
        return value

    def finish(self, request: Request, resp: Response) -> Response:
        for k, v in SECURITY_HEADERS.items():
            resp.headers[k] = v
        new = getattr(request.state, "new_csrf", None)
        if new and not request.cookies.get(CSRF_COOKIE):
            resp.set_cookie(CSRF_COOKIE, new, httponly=True, samesite="strict", path=PREFIX,
                            secure=request.url.scheme == "https")
        return resp

    def render(self, request: Request, template: str, status: int = 200, **ctx) -> Response:
        lang = self.lang(request)
        base = {"t": i18n.translator(lang), "lang": lang, "languages": i18n.LANGUAGES, "prefix": PREFIX,
                "csrf_field": CSRF_FIELD, "csrf_token": self.auth.csrf_token(self.csrf_cookie(request)),
                "auth_required": self.auth.required, "version": __version__, "poll_ms": POLL_MS,
                "path": _page_path(request), "active": "", "messages": [], "errors": []}
        base.update(ctx)
        html = _env.get_template(template).render(**base)
        return self.finish(request, HTMLResponse(html, status_code=status))

    def redirect(self, request: Request, url: str) -> Response:
        return self.finish(request, RedirectResponse(url, status_code=303))

    # ------------------------------------------------------------------------------------------ guards
    def login_redirect(self, request: Request) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return self.redirect(request, f"{PREFIX}/login?next={quote(target, safe='')}")

    async def form(self, request: Request):
        """The POSTed form when its CSRF token matches the cookie, else None."""
        form = await request.form()
        token = form.get(CSRF_FIELD)
        return form if self.auth.csrf_ok(request.cookies.get(CSRF_COOKIE), token) else None

    def logged_in(self, request: Request):
        return self.auth.principal(request.cookies)

    # ------------------------------------------------------------------------------------------ data
    def job_rows(self, limit: int = 100) -> list[dict]:
        return [self.job_row(j) for j in self.engine.store.list_jobs(limit=limit)]

    def job_row(self, j: dict) -> dict:
        """A job with what its list row shows: the latest loss, tokens/s, the ETA and how far it is."""
        metrics = self.engine.store.metrics(j["id"]) if j["status"] != "queued" else []
        last = metrics[-1] if metrics else {}
        losses = [m for m in metrics if isinstance(m.get("train_loss"), (int, float))]
        eta = None
        total = j.get("total_steps")
        if j["status"] == "running" and total and j.get("step") and last.get("elapsed"):
            eta = last["elapsed"] / max(last.get("step") or j["step"], 1) * max(total - j["step"], 0)
        return {"job": j, "loss": losses[-1]["train_loss"] if losses else None,
                "val_loss": next((m["val_loss"] for m in reversed(metrics)
                                  if isinstance(m.get("val_loss"), (int, float))), None),
                "tps": last.get("tokens_per_sec"), "eta": eta,
                "percent": min(100.0, 100 * (j.get("step") or 0) / total) if total else None}

    def job_detail(self, job: dict, t) -> dict:
        store = self.engine.store
        events = store.events(job["id"])
        metrics = [e["data"] for e in events if e["data"] and "step" in e["data"]]
        run_dir = fmhome.runs_dir(job["id"])
        checkpoints = []
        if run_dir.is_dir():
            for d in sorted(run_dir.glob("ckpt-*")):
                if d.is_dir():
                    checkpoints.append({"name": d.name, "step": d.name.removeprefix("ckpt-"),
                                        "created": int(d.stat().st_mtime)})
        checkpoint_events = [e for e in events if "checkpoint" in e["message"].lower()]
        chart = charts.loss_chart(metrics, {"train_loss": t("job.train_loss"), "val_loss": t("job.val_loss"),
                                            "title": t("job.chart")})
        return {"job": job, "row": self.job_row(job), "events": list(reversed(events))[:300], "chart": chart,
                "checkpoints": checkpoints, "checkpoint_events": checkpoint_events,
                "params": sorted((job.get("hyperparameters") or {}).items()),
                "final": job["status"] in ("succeeded", "failed", "cancelled")}

    def models(self) -> list[dict]:
        from fmscript.ai.tinymodel import BUILTIN_MODELS

        listed = self.engine.list_models()
        names = {m["id"] for m in listed}
        out = list(listed)
        for name in sorted(BUILTIN_MODELS):
            if name not in names:
                out.append({"id": name, "kind": "builtin", "bytes": None, "created": None})
        return out

    def busy_jobs(self, model: str) -> list[dict]:
        store = self.engine.store
        return [j for s in ("running", "queued") for j in store.list_jobs(limit=100000, status=s)
                if j["fine_tuned_model"] == model or j["model"] == model]


def install(app, api_key: str | None) -> None:
    console = Console(app, api_key)
    app.state.keystore = console.keys
    app.state.console = console
    router = APIRouter(include_in_schema=False)
    t_of = lambda request: i18n.translator(console.lang(request))  # noqa: E731

    @router.get("/")
    def root():
        return RedirectResponse(PREFIX, status_code=302)

    # ----------------------------------------------------------------------------------- login and language
    @router.get(PREFIX + "/login")
    def login_page(request: Request, next: str | None = None):
        if console.logged_in(request) is not None:
            return console.redirect(request, _safe_next(next))
        return console.render(request, "login.html", next=_safe_next(next))

    @router.post(PREFIX + "/login")
    async def login(request: Request):
        form = await console.form(request)
        t = t_of(request)
        if form is None:
            return console.render(request, "login.html", status=400, next=PREFIX, errors=[t("csrf.bad")])
        nxt = _safe_next(form.get("next"))
        if not console.auth.required:
            return console.redirect(request, nxt)
        key_id = await anyio.to_thread.run_sync(console.auth.key_id_for, str(form.get("key") or ""))
        if key_id is None:
            return console.render(request, "login.html", status=401, next=nxt, errors=[t("login.wrong")])
        resp = console.redirect(request, nxt)
        resp.set_cookie(SESSION_COOKIE, console.auth.session_cookie(key_id), max_age=SESSION_SECONDS,
                        httponly=True, samesite="strict", path=PREFIX, secure=request.url.scheme == "https")
        return resp

    @router.post(PREFIX + "/logout")
    async def logout(request: Request):
        form = await console.form(request)
        if form is None:
            return console.render(request, "login.html", status=400, next=PREFIX, errors=[t_of(request)("csrf.bad")])
        resp = console.redirect(request, PREFIX + "/login")
        resp.delete_cookie(SESSION_COOKIE, path=PREFIX)
        return resp

    @router.post(PREFIX + "/lang")
    async def set_language(request: Request):
        form = await console.form(request)
        if form is None:
            return console.render(request, "login.html", status=400, next=PREFIX, errors=[t_of(request)("csrf.bad")])
        lang = form.get("lang")
        resp = console.redirect(request, _safe_next(form.get("next")))
        if lang in i18n.TABLES:
            resp.set_cookie(i18n.LANG_COOKIE, lang, max_age=365 * 86400, httponly=True, samesite="strict",
                            path=PREFIX)
        return resp

    # ----------------------------------------------------------------------------------- jobs
    @router.get(PREFIX)
    @router.get(PREFIX + "/")
    @router.get(PREFIX + "/jobs")
    def jobs_page(request: Request):
        if console.logged_in(request) is None:
            return console.login_redirect(request)
        return console.render(request, "jobs.html", active="jobs", rows=console.job_rows())

    @router.get(PREFIX + "/jobs/live")
    def jobs_live(request: Request):
        if console.logged_in(request) is None:
            return Response(status_code=401)
        return console.render(request, "_jobs_live.html", rows=console.job_rows())

    def _job_or_none(job_id: str):
        from fmscript.ai.jobs import JobNotFound

        try:
            return console.engine.store.get_job(job_id)
        except JobNotFound:
            return None

    @router.get(PREFIX + "/jobs/{job_id}")
    def job_page(request: Request, job_id: str):
        if console.logged_in(request) is None:
            return console.login_redirect(request)
        t = t_of(request)
        job = _job_or_none(job_id)
        if job is None:
            return console.render(request, "error.html", status=404, active="jobs",
                                  errors=[t("job.not_found", id=job_id)])
        return console.render(request, "job.html", active="jobs", **console.job_detail(job, t))

    @router.get(PREFIX + "/jobs/{job_id}/live")
    def job_live(request: Request, job_id: str):
        if console.logged_in(request) is None:
            return Response(status_code=401)
        job = _job_or_none(job_id)
        if job is None:
            return Response(status_code=404)
        return console.render(request, "_job_live.html", **console.job_detail(job, t_of(request)))

    @router.post(PREFIX + "/jobs/{job_id}/cancel")
    async def job_cancel(request: Request, job_id: str):
        from fmscript.server import fine_tuning
        from fmscript.server.errors import APIError

        if console.logged_in(request) is None:
            return console.login_redirect(request)
        form = await console.form(request)
        t = t_of(request)
        job = _job_or_none(job_id)
        if job is None:
            return console.render(request, "error.html", status=404, errors=[t("job.not_found", id=job_id)])
        if form is None:
            return console.render(request, "job.html", status=400, active="jobs", errors=[t("csrf.bad")],
                                  **console.job_detail(job, t))
        try:
            await anyio.to_thread.run_sync(fine_tuning.cancel_job, request, job_id)
            messages, errors = [t("job.cancelled")], []
        except APIError:
            messages, errors = [], [t("job.cannot_cancel")]
        job = _job_or_none(job_id)
        return console.render(request, "job.html", active="jobs", messages=messages, errors=errors,
                              **console.job_detail(job, t))

    # ----------------------------------------------------------------------------------- new fine-tune
    def new_context(request: Request, form=None, **extra) -> dict:
        from fmscript.ai.params import FineTuneParams

        d = FineTuneParams()
        defaults = {"max_steps": d.max_steps, "learning_rate": d.learning_rate, "lora_layers": d.lora_layers,
                    "batch_size": d.batch_size}
        values = {k: (form.get(k) if form is not None and form.get(k) is not None else "") for k in
                  ("max_steps", "learning_rate", "lora_layers", "batch_size", "fine_tuned_model_name", "model",
                   "existing_file", "extra")}
        models = console.models()
        bases = [m["id"] for m in models if m["kind"] in ("base", "builtin")]
        tuned = [m["id"] for m in models if m["kind"] == "tuned"]
        files = console.engine.store.list_files("fine-tune")
        ctx = {"defaults": defaults, "values": values, "bases": bases, "files": files,
               "existing_names": json.dumps(tuned), "same_name": None, "active": "new"}
        ctx.update(extra)
        return ctx

    @router.get(PREFIX + "/new")
    def new_page(request: Request):
        if console.logged_in(request) is None:
            return console.login_redirect(request)
        return console.render(request, "new.html", **new_context(request))

    @router.post(PREFIX + "/new")
    async def new_submit(request: Request):
        from fmscript.ai.params import parse_params, tuned_model_name
        from fmscript.server import files as files_api
        from fmscript.server import fine_tuning
        from fmscript.server.errors import APIError
        from fmscript.server.models import require_served

        if console.logged_in(request) is None:
            return console.login_redirect(request)
        t = t_of(request)
        form = await console.form(request)
        if form is None:
            return console.render(request, "new.html", status=400, errors=[t("csrf.bad")], **new_context(request))
        form = dict(form)  # a mutable copy: an uploaded file's id replaces the upload
        hp = {k: str(form.get(k) or "").strip() for k in ("max_steps", "learning_rate", "lora_layers", "batch_size",
                                                           "fine_tuned_model_name")}
        hp = {k: v for k, v in hp.items() if v}
        model = str(form.get("model") or "")
        extra_text = str(form.get("extra") or "").strip()
        if extra_text:  # the Local engine's extras (rank, steps_per_report, ...), as a JSON object
            try:
                extra = json.loads(extra_text)
            except ValueError:
                extra = None
            if not isinstance(extra, dict):
                return console.render(request, "new.html", status=400, errors=[t("new.error"), t("new.extra_bad")],
                                      **new_context(request, form))
            hp = {**extra, **hp}

        def fail(message: str, status: int = 400, **extra):
            return console.render(request, "new.html", status=status, errors=[t("new.error"), message],
                                  **new_context(request, form, **extra))

        try:  # everything that needs no file first: nothing is stored for a request that cannot start
            params = parse_params(hp)
            require_served(model, status=400, code="model_not_available")
        except FMScriptError as e:
            return fail(e.message)
        except APIError as e:
            return fail(e.message)
        messages = []
        upload = form.get("file")
        file_id = str(form.get("existing_file") or "")
        if isinstance(upload, UploadFile) and upload.filename:
            try:
                f = await anyio.to_thread.run_sync(lambda: files_api.upload_file(request, upload, "fine-tune"))
            except APIError as e:
                return fail(e.message)
            file_id = f["id"]
            form["existing_file"] = file_id
            messages.append(t("new.uploaded", file=f["filename"],
                              examples=console.engine.store.get_file(file_id).get("examples")))
        if not file_id:
            return fail(t("new.need_file"))
        if params.fine_tuned_model_name:
            full = tuned_model_name(params.fine_tuned_model_name)
            exists = any(m["id"] == full for m in console.models() if m["kind"] == "tuned")
            if exists and not form.get("replace"):
                return console.render(request, "new.html", status=409, messages=messages,
                                      **new_context(request, form, same_name=full))
        body = fine_tuning.JobCreate(model=model, training_file=file_id, hyperparameters=hp)
        try:
            job = await anyio.to_thread.run_sync(fine_tuning.create_job, request, body)
        except APIError as e:
            return console.render(request, "new.html", status=400, messages=messages,
                                  errors=[t("new.error"), e.message], **new_context(request, form))
        return console.redirect(request, f"{PREFIX}/jobs/{quote(job['id'], safe='')}")

    # ----------------------------------------------------------------------------------- models
    def models_context(**extra) -> dict:
        ctx = {"models": console.models(), "active": "models", "answer": None, "asked": None, "tried": ""}
        ctx.update(extra)
        return ctx

    @router.get(PREFIX + "/models")
    def models_page(request: Request):
        if console.logged_in(request) is None:
            return console.login_redirect(request)
        return console.render(request, "models.html", **models_context())

    def _model(name: str):
        return next((m for m in console.models() if m["id"] == name), None)

    @router.get(PREFIX + "/models/delete")
    def delete_confirm(request: Request, model: str = ""):
        if console.logged_in(request) is None:
            return console.login_redirect(request)
        t = t_of(request)
        m = _model(model)
        if m is None:
            return console.render(request, "models.html", status=404, errors=[t("models.not_found", name=model)],
                                  **models_context())
        if m["kind"] != "tuned":
            return console.render(request, "models.html", status=403,
                                  errors=[t("models.not_deletable", name=model)], **models_context())
        return console.render(request, "delete.html", active="models", model=m)

    @router.post(PREFIX + "/models/delete")
    async def delete_model(request: Request):
        if console.logged_in(request) is None:
            return console.login_redirect(request)
        t = t_of(request)
        form = await console.form(request)
        if form is None:
            return console.render(request, "models.html", status=400, errors=[t("csrf.bad")], **models_context())
        name = str(form.get("model") or "")
        m = _model(name)
        if m is None:
            return console.render(request, "models.html", status=404, errors=[t("models.not_found", name=name)],
                                  **models_context())
        if m["kind"] != "tuned":
            return console.render(request, "models.html", status=403, errors=[t("models.not_deletable", name=name)],
                                  **models_context())
        busy = console.busy_jobs(name)
        if busy:
            return console.render(request, "models.html", status=409,
                                  errors=[t("models.in_use", name=name, status=t("status." + busy[0]["status"]),
                                            job=busy[0]["id"])], **models_context())
        await anyio.to_thread.run_sync(console.engine.remove_model, name)
        return console.render(request, "models.html", messages=[t("models.deleted", name=name)], **models_context())

    @router.post(PREFIX + "/models/try")
    async def try_model(request: Request):
        from fmscript.server.chat import try_answer
        from fmscript.server.errors import APIError
        from fmscript.server.models import require_served

        if console.logged_in(request) is None:
            return console.login_redirect(request)
        t = t_of(request)
        form = await console.form(request)
        if form is None:
            return console.render(request, "models.html", status=400, errors=[t("csrf.bad")], **models_context())
        name, prompt = str(form.get("model") or ""), str(form.get("prompt") or "")
        try:
            require_served(name)
            answer = await try_answer(request, name, prompt, TRY_MAX_TOKENS)  # in turns, as a chat answer
        except APIError as e:
            return console.render(request, "models.html", status=400, errors=[e.message],
                                  **models_context(tried=name, asked=prompt))
        except FMScriptError as e:
            return console.render(request, "models.html", status=400, errors=[e.message],
                                  **models_context(tried=name, asked=prompt))
        return console.render(request, "models.html", **models_context(answer=answer, asked=prompt, tried=name))

    # ----------------------------------------------------------------------------------- server
    def server_context(**extra) -> dict:
        from fmscript.ai import worker

        store = console.engine.store
        pid = worker.worker_pid() if worker.worker_running() else None
        calls_path, calls = health.recent_calls()
        ctx = {"active": "server", "worker_pid": pid,
               "queued": len(store.list_jobs(limit=100000, status="queued")), "running": len(store.running_jobs()),
               "memory": health.memory(pid), "blas": health.blas_text(), "device": health.device(),
               "home": str(fmhome.home()), "keys": console.keys.list(), "new_key": None, "new_key_name": None,
               "calls_path": str(calls_path) if calls_path else None, "calls": calls}
        ctx.update(extra)
        return ctx

    @router.get(PREFIX + "/server")
    def server_page(request: Request):
        if console.logged_in(request) is None:
            return console.login_redirect(request)
        return console.render(request, "server.html", **server_context())

    @router.post(PREFIX + "/keys")
    async def create_key(request: Request):
        if console.logged_in(request) is None:
            return console.login_redirect(request)
        t = t_of(request)
        form = await console.form(request)
        if form is None:
            return console.render(request, "server.html", status=400, errors=[t("csrf.bad")], **server_context())
        if not console.auth.required:
            return console.render(request, "server.html", status=400, errors=[t("server.keys_off")],
                                  **server_context())
        name = " ".join(str(form.get("name") or "").split())
        if not name:
            return console.render(request, "server.html", status=400, errors=[t("server.key_need_name")],
                                  **server_context())
        row, key = await anyio.to_thread.run_sync(console.keys.create, name)
        return console.render(request, "server.html", messages=[t("server.key_new", name=row["name"])],
                              **server_context(new_key=key, new_key_name=row["name"]))

    @router.post(PREFIX + "/keys/revoke")
    async def revoke_key(request: Request):
        if console.logged_in(request) is None:
            return console.login_redirect(request)
        t = t_of(request)
        form = await console.form(request)
        if form is None:
            return console.render(request, "server.html", status=400, errors=[t("csrf.bad")], **server_context())
        kid = str(form.get("key_id") or "")
        row = next((k for k in console.keys.list() if k["id"] == kid), None)
        if row is not None and await anyio.to_thread.run_sync(console.keys.revoke, kid):
            return console.render(request, "server.html", messages=[t("server.key_revoked_msg", name=row["name"])],
                                  **server_context())
        return console.redirect(request, PREFIX + "/server")

    app.include_router(router)
    app.mount(PREFIX + "/static", StaticFiles(directory=str(HERE / "static")), name="console-static")

