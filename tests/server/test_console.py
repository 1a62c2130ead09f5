"""The Admin Console over HTTP against the real server: login and cookies, CSRF, named keys, uploads validated as
the API validates them, escaping, same-name warnings, deleting models, both languages. The browser flows are in
test_console_browser.py."""
from __future__ import annotations

import html
import re
import sqlite3
import string

import pytest

from fmscript.server.console import charts, i18n, keys

from .console_support import ConsoleClient
from .harness import BASE, KEY, http, jsonl, wait_until


@pytest.fixture
def root(drained):
    return f"http://127.0.0.1:{drained.port}"


@pytest.fixture
def person(root):
    c = ConsoleClient(root)
    r = c.login(KEY)
    assert r.status_code == 303, r.content[:500]
    return c


def _jobs(server) -> list[dict]:
    return server.get("/fine_tuning/jobs", params={"limit": 1000}).json()["data"]


def test_root_redirects_and_every_page_needs_a_login(root):
    c = ConsoleClient(root)
    r = c.get("/")
    assert r.status_code == 302 and r.headers["location"] == "/console"
    for page in ("/console", "/console/jobs", "/console/new", "/console/models", "/console/server",
                 "/console/jobs/fm-ftjob-1"):
        r = c.get(page)
        assert r.status_code == 303 and r.headers["location"].startswith("/console/login?next="), page
    assert c.get("/console/jobs/live").status_code == 401
    # The console's paths are not the API's: a Bearer key alone opens no page, and the API still wants its key.
    assert c.request("GET", "/console/jobs", headers={"Authorization": f"Bearer {KEY}"}).status_code == 303
    assert http("GET", root + "/v1/models").status_code == 401


def test_a_wrong_key_gets_the_login_page_back(root):
    c = ConsoleClient(root)
    r = c.login("not-the-key")
    page = r.content.decode()
    assert r.status_code == 401
    assert 'id="login-form"' in page and "not valid" in page and "Traceback" not in page
    assert not any(k.name == "fmscript_session" for k in c.jar)
    assert c.get("/console/jobs").status_code == 303  # still logged out


def test_the_session_cookie_is_http_only_and_same_site_and_no_page_holds_the_key(root):
    c = ConsoleClient(root)
    r = c.login(KEY)
    assert r.status_code == 303 and r.headers["location"] == "/console/jobs"
    session = [h for h in c.last_set_cookies if h.startswith("fmscript_session=")]
    assert session and "httponly" in session[0].lower() and "samesite=strict" in session[0].lower()
    assert KEY not in session[0]
    for page in ("/console/jobs", "/console/new", "/console/models", "/console/server", "/console/jobs/live"):
        r = c.get(page)
        body = r.content.decode()
        assert r.status_code == 200, page
        assert KEY not in body and KEY not in r.headers.get("location", ""), page
        assert "default-src 'self'" in r.headers["content-security-policy"]
        assert r.headers["cache-control"] == "no-store"
        # Nothing loads from elsewhere: every reference is a path of this server (the SVG namespace is no request).
        refs = re.findall(r'(?:src|href|action)="([^"]*)"', body)
        assert all(ref.startswith("/") and not ref.startswith("//") for ref in refs), (page, refs)
        assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", body), page
    for asset in ("/console/static/console.css", "/console/static/console.js"):
        assert c.get(asset).status_code == 200
    # Logging out ends the session.
    assert c.post("/console/logout", {}, csrf=c.csrf("/console/jobs")).status_code == 303
    assert c.get("/console/jobs").status_code == 303


def test_a_form_without_its_csrf_token_changes_nothing(person, server):
    before = keys.KeyStore(server.home / "jobs.sqlite").list()
    for token in (False, "forged-token"):
        r = person.post("/console/keys", {"name": "sneaky"}, csrf=token)
        assert r.status_code == 400 and "expired" in r.content.decode()
    assert keys.KeyStore(server.home / "jobs.sqlite").list() == before
    job = server.post("/fine_tuning/jobs", json_body={"model": BASE, "training_file": _upload(server),
                                                      "hyperparameters": {"max_steps": 100000}}).json()
    r = person.post(f"/console/jobs/{job['id']}/cancel", {}, csrf=False)
    assert r.status_code == 400
    assert server.job(job["id"])["status"] in ("queued", "running")


def _upload(server, text: str | None = None, name: str = "qa.jsonl") -> str:
    import io

    client = server.client()
    return client.files.create(file=(name, io.BytesIO((text or jsonl()).encode())), purpose="fine-tune").id


def test_named_keys_are_shown_once_stored_hashed_work_for_the_api_and_can_be_revoked(person, root, server):
    r = person.post("/console/keys", {"name": "ci <runner>"})
    page = r.content.decode()
    assert r.status_code == 200
    key = html.unescape(re.search(r'<code id="new-key">([^<]+)</code>', page).group(1))
    assert key.startswith("fmk_") and "ci &lt;runner&gt;" in page and "<runner>" not in page
    # Stored as a hash only; the Server page never shows it again.
    con = sqlite3.connect(server.home / "jobs.sqlite")
    rows = con.execute("SELECT name, hash FROM fmscript_console_keys").fetchall()
    con.close()
    assert ("ci <runner>", keys.digest(key)) in rows
    assert key.encode() not in (server.home / "jobs.sqlite").read_bytes()
    assert key not in person.get("/console/server").content.decode()
    # It works for the API and for the console, like FMSCRIPT_API_KEY (which keeps working).
    assert http("GET", server.base_url + "/models", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    assert http("GET", server.base_url + "/models", headers={"Authorization": f"Bearer {KEY}"}).status_code == 200
    other = ConsoleClient(root)
    assert other.login(key).status_code == 303 and other.get("/console/jobs").status_code == 200
    # Revoked: the API refuses it and its console session ends.
    kid = re.search(r'data-key="([^"]+)"><td>ci &lt;runner&gt;', person.get("/console/server").content.decode()).group(1)
    r = person.post("/console/keys/revoke", {"key_id": kid})
    assert r.status_code == 200 and "revoked" in r.content.decode()
    assert http("GET", server.base_url + "/models", headers={"Authorization": f"Bearer {key}"}).status_code == 401
    assert other.get("/console/jobs").status_code == 303
    assert ConsoleClient(root).login(key).status_code == 401


def test_a_bad_file_is_refused_naming_the_line_before_any_job_exists(person, server):
    jobs_before, files_before = len(_jobs(server)), len(server.get("/files").json()["data"])
    broken = jsonl()[:0] + jsonl().splitlines()[0] + "\n{\"messages\": [\n"
    r = person.post_multipart("/console/new", {"model": BASE, "max_steps": "5"}, {"file": ("broken.jsonl",
                                                                                           broken.encode())})
    page = r.content.decode()
    assert r.status_code == 400
    assert "Nothing was started" in page and "line 2" in page and "broken.jsonl" in page
    assert len(_jobs(server)) == jobs_before and len(server.get("/files").json()["data"]) == files_before
    # Bad parameters are refused before the file is even stored.
    r = person.post_multipart("/console/new", {"model": BASE, "max_steps": "many"},
                              {"file": ("qa.jsonl", jsonl().encode())})
    assert r.status_code == 400 and "max_steps" in r.content.decode()
    assert len(server.get("/files").json()["data"]) == files_before
    r = person.post_multipart("/console/new", {"model": "no/such-model"}, {"file": ("qa.jsonl", jsonl().encode())})
    assert r.status_code == 400 and "does not exist on this server" in html.unescape(r.content.decode())
    assert len(_jobs(server)) == jobs_before


def test_a_users_text_is_escaped_everywhere_it_shows(person, server):
    evil = '<img src=x onerror=alert(1)>'
    r = person.post_multipart("/console/new", {"model": BASE, "max_steps": "100000",
                                               "extra": '{"<script>alert(2)</script>": 1}'},
                              {"file": (f"{evil}.jsonl", jsonl().encode())})
    assert r.status_code == 303, r.content.decode()[:2000]
    job_id = r.headers["location"].rsplit("/", 1)[1]
    for page in ("/console/jobs", f"/console/jobs/{job_id}", f"/console/jobs/{job_id}/live", "/console/new"):
        body = person.get(page).content.decode()
        assert "<img src=x" not in body and "<script>alert" not in body, page
    job_page = person.get(f"/console/jobs/{job_id}").content.decode()
    assert "&lt;img src=x onerror=alert(1)&gt;.jsonl" in job_page
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in job_page  # the unknown parameter's warning event


def test_a_failed_job_shows_its_reason_in_the_list_and_on_its_page(person, server):
    from fmscript.ai.jobs import JobStore

    # A job whose base model is not there by the time the worker takes it (queued behind the API's checks).
    store = JobStore(server.home / "jobs.sqlite")
    job = store.create_job("gone-<i>base</i>", _upload(server), {"max_steps": 2})
    failed = server.wait_job(job["id"])
    assert failed["status"] == "failed"
    listing = person.get("/console/jobs/live").content.decode()
    row = re.search(rf'<tr class="job status-failed" data-job="{job["id"]}".*?</tr>', listing, re.S).group(0)
    assert 'class="reason"' in row and "&lt;i&gt;base&lt;/i&gt;" in row and "<i>" not in row
    page = person.get(f"/console/jobs/{job['id']}").content.decode()
    reason = re.search(r'id="job-error">([^<]*)<', page).group(1)
    assert html.unescape(reason) == failed["error"]["message"] and 'data-final="1"' in page


def test_the_same_name_warns_and_deleting_waits_for_the_jobs_that_use_it(person, server):
    fid = _upload(server)
    done = server.post("/fine_tuning/jobs", json_body={"model": BASE, "training_file": fid, "hyperparameters": {
        "max_steps": 2, "fine_tuned_model_name": "console dup"}}).json()
    assert server.wait_job(done["id"])["status"] == "succeeded"
    fields = {"model": BASE, "max_steps": "100000", "fine_tuned_model_name": "console dup", "existing_file": fid}
    jobs_before = len(_jobs(server))
    r = person.post_multipart("/console/new", fields, {})
    page = html.unescape(r.content.decode())
    assert r.status_code == 409 and "A model named fm-mlx-console-dup already exists" in page
    assert 'name="replace"' in page and len(_jobs(server)) == jobs_before
    r = person.post_multipart("/console/new", {**fields, "replace": "1"}, {})
    assert r.status_code == 303
    running = r.headers["location"].rsplit("/", 1)[1]
    # The model page lists it with its base and the job that made it.
    models = person.get("/console/models").content.decode()
    assert 'data-model="fm-mlx-console-dup"' in models and done["id"] in models
    confirm = person.get("/console/models/delete?model=fm-mlx-console-dup")
    assert confirm.status_code == 200 and 'id="confirm-delete"' in confirm.content.decode()
    r = person.post("/console/models/delete", {"model": "fm-mlx-console-dup"})
    assert r.status_code == 409 and running in r.content.decode()
    assert server.get("/models/fm-mlx-console-dup").status_code == 200
    r = person.post(f"/console/jobs/{running}/cancel", {})
    assert r.status_code == 200 and server.job(running)["status"] == "cancelled"
    wait_until(lambda: not server.health()["jobs"]["running"], 60, "the cancelled job to stop")
    r = person.post("/console/models/delete", {"model": "fm-mlx-console-dup"})
    assert r.status_code == 200 and "was deleted" in r.content.decode()
    assert server.get("/models/fm-mlx-console-dup").status_code == 404
    # A base model is not deleted from the page.
    assert person.post("/console/models/delete", {"model": BASE}).status_code == 403


def test_the_language_switch_and_the_server_page(person):
    r = person.post("/console/lang", {"lang": "zh-Hans", "next": "/console/server"})
    assert r.status_code == 303 and r.headers["location"] == "/console/server"
    page = person.get("/console/server").content.decode()
    assert "运行状况" in page and "API 密钥" in page and 'lang="zh-Hans"' in page
    device = re.search(r'id="health-device">([^<]+)<', page).group(1)
    assert 'id="health-blas"' in page and device.split(" ")[0] in ("CPU", "CUDA", "Metal")
    assert person.post("/console/lang", {"lang": "en", "next": "//evil.example"}).headers["location"] == "/console"
    # A page that answered a form switches back to the page of that form, not to the form's POST-only address.
    answered = person.post("/console/keys", {"name": ""}).content.decode()
    assert 'name="next" value="/console/server"' in answered
    assert "Health" in person.get("/console/server").content.decode()


def test_both_languages_have_every_string_with_the_same_fields():
    fields = lambda s: sorted(f for _, f, _, _ in string.Formatter().parse(s) if f)  # noqa: E731
    assert set(i18n.EN) == set(i18n.ZH)
    for key in i18n.EN:
        assert fields(i18n.EN[key]) == fields(i18n.ZH[key]) or "{\"" in i18n.EN[key], key


def test_the_loss_chart_draws_each_reported_point():
    metrics = [{"step": 10, "train_loss": 3.2}, {"step": 20, "train_loss": 2.1, "val_loss": 2.5},
               {"step": 30, "train_loss": 1.0}, {"step": 30, "resumed_from": 20}]
    svg = str(charts.loss_chart(metrics, {"train_loss": "<train>", "val_loss": "val"}))
    assert re.search(r'class="series-train" data-points="3"', svg)
    assert re.search(r'class="series-val" data-points="1"', svg)
    assert "&lt;train&gt;" in svg and "<train>" not in svg
    assert charts.loss_chart([{"step": 1}], {}) is None


def test_a_server_without_a_key_opens_the_console_and_says_so(tmp_path):
    from .harness import ServerProcess

    srv = ServerProcess(tmp_path / "fmhome", key=None).start()
    try:
        c = ConsoleClient(f"http://127.0.0.1:{srv.port}")
        r = c.get("/console/jobs")
        assert r.status_code == 200 and "runs without an API key" in r.content.decode()
        assert 'id="logout"' not in r.content.decode()
        r = c.post("/console/keys", {"name": "pointless"})
        assert r.status_code == 400 and "without FMSCRIPT_API_KEY" in r.content.decode()
        assert keys.KeyStore(srv.home / "jobs.sqlite").list() == []
    finally:
        srv.stop()


def test_the_consoles_own_login_opens_no_way_around_the_api_key(root):
    import http.client
    from urllib.parse import urlsplit

    port = urlsplit(root).port
    for path in ("/console/../v1/models", "/console/%2e%2e/v1/models", "/console/static/../../v1/models",
                 "/console/static/%2e%2e/routes.py", "/console/static/..%2f..%2fv1/models"):
        con = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        con.request("GET", path)
        r = con.getresponse()
        body = r.read()
        con.close()
        assert r.status in (401, 404) and b'"object":"list"' not in body and b"import" not in body, (path, r.status)
