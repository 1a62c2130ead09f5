"""The HTTP API through the real ``openai`` client and plain HTTP: shapes, errors, keys, training, chat, cancel."""
from __future__ import annotations

import json

import openai
import pytest

from .harness import BASE, KEY, LEARN, QA, http, jsonl, wait_until


def test_health_and_openapi_document(server):
    h = server.health()
    assert h["status"] == "ok" and set(h["jobs"]) == {"queued", "running"}
    doc = http("GET", f"http://127.0.0.1:{server.port}/openapi.json", headers=server.headers).json()
    assert doc["openapi"].startswith("3.")
    paths = set(doc["paths"])
    for p in ("/v1/files", "/v1/files/{file_id}", "/v1/fine_tuning/jobs", "/v1/fine_tuning/jobs/{job_id}",
              "/v1/fine_tuning/jobs/{job_id}/cancel", "/v1/fine_tuning/jobs/{job_id}/events", "/v1/models",
              "/v1/models/{model_id}", "/v1/chat/completions", "/health"):
        assert p in paths, p
    assert "delete" in doc["paths"]["/v1/models/{model_id}"] and "delete" in doc["paths"]["/v1/files/{file_id}"]
    schemas = doc["components"]["schemas"]
    assert {"FineTuningJob", "FileObject", "ChatCompletion", "ErrorResponse", "JobCreate",
            "ChatRequest"} <= set(schemas)
    job_post = doc["paths"]["/v1/fine_tuning/jobs"]["post"]
    assert job_post["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/FineTuningJob")
    assert "422" not in json.dumps(doc)  # validation errors are OpenAI's 400 here


def test_wrong_or_missing_key_gets_401_with_openais_error_object(server):
    with pytest.raises(openai.AuthenticationError) as e:
        server.client(key="sk-wrong-key-123456").models.list()
    assert e.value.status_code == 401
    assert e.value.body == {"message": "Incorrect API key provided.", "type": "invalid_request_error",
                            "param": None, "code": "invalid_api_key"}
    # Every request is checked: health, the OpenAPI document, uploads, chat.
    for method, path in (("GET", "/health"), ("GET", "/openapi.json"), ("GET", "/v1/models"),
                         ("POST", "/v1/chat/completions"), ("POST", "/v1/files")):
        r = http(method, f"http://127.0.0.1:{server.port}{path}")
        assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key", path
        assert r.headers["www-authenticate"] == "Bearer"
        r = http(method, f"http://127.0.0.1:{server.port}{path}", headers={"Authorization": "Bearer x"})
        assert r.status_code == 401
    assert KEY not in server.log()


def test_malformed_jsonl_gets_400_naming_the_line_and_is_not_kept(server):
    c = server.client()
    before = {f.id for f in c.files.list()}
    bad = jsonl(QA[:2]) + '{"messages": [{"role": "user", "content": "q"}\n' + jsonl(QA[2:3])
    with pytest.raises(openai.BadRequestError) as e:
        c.files.create(file=("broken.jsonl", bad.encode()), purpose="fine-tune")
    err = e.value.body
    assert e.value.status_code == 400 and err["code"] == "invalid_file" and err["param"] == "file"
    assert "line 3" in err["message"] and "broken.jsonl" in err["message"] and "not valid JSON" in err["message"]
    # A line that is JSON but no chat example, and an empty file.
    no_assistant = jsonl(QA[:4]) + json.dumps({"messages": [{"role": "user", "content": "q"}]}) + "\n"
    with pytest.raises(openai.BadRequestError, match="line 5: there is no \"assistant\" message"):
        c.files.create(file=("x.jsonl", no_assistant.encode()), purpose="fine-tune")
    with pytest.raises(openai.BadRequestError, match="empty"):
        c.files.create(file=("empty.jsonl", b""), purpose="fine-tune")
    with pytest.raises(openai.BadRequestError, match="purpose"):
        c.files.create(file=("ok.jsonl", jsonl().encode()), purpose="assistants")
    assert {f.id for f in c.files.list()} == before


def test_files_upload_list_show_download_delete(server):
    c = server.client()
    f = c.files.create(file=("qa.jsonl", jsonl().encode()), purpose="fine-tune")
    assert f.id.startswith("fm-ft-train-") and f.object == "file" and f.filename == "qa.jsonl"
    assert f.purpose == "fine-tune" and f.status == "processed" and f.bytes == len(jsonl().encode())
    assert 1e9 < f.created_at < 1e11  # seconds, as OpenAI's
    g = c.files.create(file=("qa2.jsonl", jsonl(QA[:2]).encode()), purpose="fine-tune")
    assert int(g.id.rsplit("-", 1)[1]) > int(f.id.rsplit("-", 1)[1])
    listed = [x.id for x in c.files.list()]
    assert listed.index(g.id) < listed.index(f.id)  # newest first
    page = c.files.list(limit=1)
    assert len(page.data) == 1 and page.has_more
    assert c.files.retrieve(f.id).filename == "qa.jsonl"
    assert c.files.content(f.id).read() == jsonl().encode()
    d = c.files.delete(g.id)
    assert d.deleted and d.id == g.id
    with pytest.raises(openai.NotFoundError):
        c.files.retrieve(g.id)
    c.files.delete(f.id)


@pytest.mark.slow
def test_openai_client_uploads_trains_and_chats_with_the_tuned_model(drained):
    server = drained
    c = server.client()
    f = c.files.create(file=("qa.jsonl", jsonl().encode()), purpose="fine-tune")
    job = c.fine_tuning.jobs.create(model=BASE, training_file=f.id,
                                    hyperparameters={**LEARN, "fine_tuned_model_name": "api qa"})
    assert job.id.startswith("fm-ftjob-") and job.status in ("queued", "running") and job.training_file == f.id
    assert job.fine_tuned_model is None and job.metadata["fine_tuned_model_name"] == "fm-mlx-api-qa"
    assert 1e9 < job.created_at < 1e11
    # The file is in use: it cannot be deleted under the job.
    with pytest.raises(openai.ConflictError):
        c.files.delete(f.id)
    done = server.wait_job(job.id, timeout=150)
    assert done["status"] == "succeeded", done
    job = c.fine_tuning.jobs.retrieve(job.id)
    assert job.fine_tuned_model == "fm-mlx-api-qa" and job.trained_tokens > 0 and job.finished_at >= job.created_at
    events = c.fine_tuning.jobs.list_events(job.id, limit=100).data
    assert events[0].message == "Job succeeded."  # newest first
    metrics = [e for e in events if e.type == "metrics"]
    assert metrics and {"step", "train_loss"} <= set(metrics[0].data)
    page = c.fine_tuning.jobs.list_events(job.id, limit=2)
    assert len(page.data) == 2 and page.has_more
    older = c.fine_tuning.jobs.list_events(job.id, limit=2, after=page.data[-1].id).data
    assert older[0].id == events[2].id

    ids = [m.id for m in c.models.list()]
    assert "fm-mlx-api-qa" in ids and BASE in ids
    m = c.models.retrieve("fm-mlx-api-qa")
    assert m.owned_by == "user" and m.object == "model"
    assert c.models.retrieve(BASE).owned_by == "fmscript"  # an id with a '/'

    for q, a in QA:
        r = c.chat.completions.create(model="fm-mlx-api-qa", messages=[{"role": "user", "content": q}])
        assert r.choices[0].message.content == a, q
        assert r.choices[0].finish_reason == "stop" and r.object == "chat.completion"
        assert r.usage.completion_tokens > 0 and r.usage.total_tokens == r.usage.prompt_tokens + \
            r.usage.completion_tokens
    # Streaming gives the same text, in OpenAI's chunk shape, ending with usage when asked.
    chunks = list(c.chat.completions.create(model="fm-mlx-api-qa", stream=True, stream_options={
        "include_usage": True}, messages=[{"role": "user", "content": QA[3][0]}]))
    text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    assert text == QA[3][1]
    assert [ch.choices[0].finish_reason for ch in chunks if ch.choices][-1] == "stop"
    assert chunks[-1].usage.completion_tokens > 0 and chunks[-1].choices == []
    # max_tokens cuts the answer: finish_reason length; stop sequences cut it too.
    r = c.chat.completions.create(model="fm-mlx-api-qa", max_tokens=1,
                                  messages=[{"role": "user", "content": QA[3][0]}])
    assert r.choices[0].finish_reason == "length" and r.usage.completion_tokens == 1
    r = c.chat.completions.create(model="fm-mlx-api-qa", stop=["spe"],
                                  messages=[{"role": "user", "content": QA[3][0]}])
    assert r.choices[0].message.content == "Shake" and r.choices[0].finish_reason == "stop"

    # Jobs list with pagination.
    jobs = c.fine_tuning.jobs.list(limit=1)
    assert jobs.data[0].id == job.id
    # Deleting the tuned model; a base model cannot be deleted through the API.
    with pytest.raises(openai.PermissionDeniedError):
        c.models.delete(BASE)
    assert c.models.delete("fm-mlx-api-qa").deleted
    with pytest.raises(openai.NotFoundError):
        c.models.retrieve("fm-mlx-api-qa")
    with pytest.raises(openai.NotFoundError) as e:
        c.chat.completions.create(model="fm-mlx-api-qa", messages=[{"role": "user", "content": "q"}])
    assert e.value.body["code"] == "model_not_found"


def test_job_requests_are_checked_before_a_job_exists(drained):
    c = drained.client()
    f = c.files.create(file=("qa.jsonl", jsonl().encode()), purpose="fine-tune")
    n = len(c.fine_tuning.jobs.list(limit=1000).data)
    with pytest.raises(openai.BadRequestError, match="batch_size") as e:
        c.fine_tuning.jobs.create(model=BASE, training_file=f.id, hyperparameters={"batch_size": 0})
    assert e.value.body["param"] == "hyperparameters"
    with pytest.raises(openai.BadRequestError, match="fine_tuned_model_name"):
        c.fine_tuning.jobs.create(model=BASE, training_file=f.id, suffix="../escape")
    with pytest.raises(openai.BadRequestError) as e:
        c.fine_tuning.jobs.create(model="nobody/no-such-model", training_file=f.id)
    assert e.value.body["param"] == "model" and e.value.body["code"] == "model_not_available"
    with pytest.raises(openai.BadRequestError) as e:
        c.fine_tuning.jobs.create(model=BASE, training_file="fm-ft-train-1")
    assert e.value.body["param"] == "training_file"
    with pytest.raises(openai.BadRequestError, match="method"):
        c.fine_tuning.jobs.create(model=BASE, training_file=f.id, method={"type": "dpo"})
    with pytest.raises(openai.BadRequestError) as e:
        drained.client().post("/fine_tuning/jobs", body={"training_file": f.id}, cast_to=object)
    assert e.value.body["message"] == "Missing required parameter: 'model'."
    with pytest.raises(openai.NotFoundError):
        c.fine_tuning.jobs.retrieve("fm-ftjob-1")
    with pytest.raises(openai.NotFoundError) as e:
        c.with_options(max_retries=0).get("/no/such/route", cast_to=object)
    assert e.value.body["message"] == "Invalid URL (GET /v1/no/such/route)."
    assert len(c.fine_tuning.jobs.list(limit=1000).data) == n


def test_openai_hyperparameters_are_mapped(drained):
    c = drained.client()
    f = c.files.create(file=("qa.jsonl", jsonl().encode()), purpose="fine-tune")
    job = c.fine_tuning.jobs.create(model=BASE, training_file=f.id, suffix="mapped", seed=7, method={
        "type": "supervised", "supervised": {"hyperparameters": {
            "n_epochs": 3, "batch_size": "auto", "learning_rate_multiplier": 0.5}}})
    c.fine_tuning.jobs.cancel(job.id)
    stored = drained.job(job.id)
    assert stored["metadata"]["fine_tuned_model_name"] == "fm-mlx-mapped" and stored["user_provided_suffix"] == \
        "mapped"
    assert stored["hyperparameters"]["n_epochs"] == 3 and stored["seed"] == 7
    from fmscript.ai.jobs import JobStore

    hp = JobStore(drained.home / "jobs.sqlite").get_job(job.id)["hyperparameters"]
    assert hp["epochs"] == 3 and hp["batch_size"] == 1 and abs(hp["learning_rate"] - 1e-4) < 1e-12


def test_cancel_mid_training_ends_cancelled(drained):
    server = drained
    c = server.client()
    f = c.files.create(file=("qa.jsonl", jsonl().encode()), purpose="fine-tune")
    job = c.fine_tuning.jobs.create(model=BASE, training_file=f.id, hyperparameters={
        "max_steps": 100000, "steps_per_report": 2, "fine_tuned_model_name": "never"})
    wait_until(lambda: int(server.job(job.id)["metadata"]["step"]) >= 4, 90, "training to start")
    assert server.job(job.id)["status"] == "running"
    assert c.fine_tuning.jobs.cancel(job.id).status == "cancelled"
    with pytest.raises(openai.BadRequestError, match="already cancelled"):
        c.fine_tuning.jobs.cancel(job.id)
    # The worker notices at its next step and goes back to waiting; nothing is published.
    wait_until(lambda: any(e.message.startswith("Job cancelled") for e in
                           c.fine_tuning.jobs.list_events(job.id).data), 30, "the cancel event")
    step = int(server.job(job.id)["metadata"]["step"])
    wait_until(lambda: server.health()["jobs"]["running"] == 0, 30, "no running job")
    assert server.job(job.id)["status"] == "cancelled"
    assert int(server.job(job.id)["metadata"]["step"]) <= step + 2
    assert "fm-mlx-never" not in [m.id for m in c.models.list()]
