import json
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from fmscript.ai.jobs import JobStateError, JobStore
from fmscript.ai.local import spec_result as job_to_spec_result
from fmscript.server.fine_tuning import event_object as event_to_openai, job_object as job_to_openai


def _file(store, tmp_path, name="train data.jsonl"):
    f = tmp_path / name
    f.write_text('{"messages":[{"role":"user","content":"q"},{"role":"assistant","content":"a"}]}\n')
    return store.create_file(f.name, src_path=f)


def test_schema_is_versioned_and_wal(home):
    store = JobStore()
    assert store.schema_version >= 1
    con = sqlite3.connect(store.path)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"files", "jobs", "events"} <= tables
    JobStore()  # reopening does not migrate twice
    assert JobStore().schema_version == store.schema_version


def test_spec_shape_exactly(home, tmp_path):
    store = JobStore()
    f = _file(store, tmp_path, "my-training-data.jsonl")
    job = store.create_job("google/codegemma-7b-it", f["id"], {"max_steps": 3},
                           fine_tuned_model="fm-mlx-my-fine-tuned-model-name")
    r = job_to_spec_result(job)
    assert list(r) == ["result"]
    res = r["result"]
    assert list(res) == ["object", "id", "file_id", "model", "created_at", "fine_tuned_model", "status",
                         "training_file", "tags"]
    assert res["object"] == "fine_tuning.job" and res["status"] == "queued" and res["tags"] == ["fine-tune"]
    assert res["id"] == f"fm-ftjob-{res['created_at']}" and res["file_id"].startswith("fm-ft-train-")
    assert res["training_file"] == "my-training-data.jsonl"
    assert res["created_at"] > 1_700_000_000_000  # milliseconds
    o = job_to_openai(job)
    assert o["created_at"] == res["created_at"] // 1000 and o["training_file"] == res["file_id"]
    assert o["fine_tuned_model"] is None and o["status"] == "queued"
    ev = event_to_openai(store.events(job["id"])[0])
    assert ev["object"] == "fine_tuning.job.event" and ev["id"].startswith("ftevent-")


def test_ids_strictly_increasing_across_threads(home, tmp_path):
    store = JobStore()
    f = _file(store, tmp_path)
    ids = []
    lock = threading.Lock()

    def submit():
        for _ in range(15):
            j = JobStore().create_job("m", f["id"], {})
            with lock:
                ids.append(j["id"])

    ts = [threading.Thread(target=submit) for _ in range(4)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    assert len(set(ids)) == 60
    by_time = [j["id"] for j in reversed(store.list_jobs(limit=100))]
    nums = [int(i.rsplit("-", 1)[1]) for i in by_time]
    assert nums == sorted(nums) and len(set(nums)) == 60


def test_ids_strictly_increasing_across_processes(home, tmp_path):
    store = JobStore()
    f = _file(store, tmp_path)
    code = ("import sys; from fmscript.ai.jobs import JobStore; s = JobStore()\n"
            f"print(' '.join(s.create_job('m', {f['id']!r}, {{}})['id'] for _ in range(20)))")
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                              cwd=tmp_path) for _ in range(3)]
    ids = [i for p in procs for i in p.communicate()[0].split()]
    assert all(p.returncode == 0 for p in procs)
    assert len(ids) == 60 and len(set(ids)) == 60
    files = [store.create_file("x.jsonl", data=b"{}")["id"] for _ in range(5)]
    assert files == sorted(files) and len(set(files)) == 5


def test_cancel_list_events_pagination(home, tmp_path):
    store = JobStore()
    f = _file(store, tmp_path)
    a = store.create_job("m", f["id"], {})
    b = store.create_job("m", f["id"], {})
    assert [j["id"] for j in store.list_jobs()] == [b["id"], a["id"]]
    assert [j["id"] for j in store.list_jobs(after=b["id"])] == [a["id"]]
    assert store.cancel_job(a["id"])["status"] == "cancelled"
    with pytest.raises(JobStateError):
        store.cancel_job(a["id"])
    evs = store.events(a["id"])
    assert [e["message"] for e in evs][-1] == "Job cancelled."
    assert store.events(a["id"], after=evs[0]["seq"]) == evs[1:]
    assert store.events(a["id"], after=evs[0]["id"]) == evs[1:]
    # A queued job can be claimed by exactly one worker.
    claimed = store.claim_next(pid=1)
    assert claimed["id"] == b["id"] and claimed["status"] == "running"
    assert store.claim_next(pid=2) is None
    assert store.wait(b["id"], timeout=0.1)["status"] == "running"


def test_files_are_copied(home, tmp_path):
    store = JobStore()
    f = _file(store, tmp_path)
    assert Path(f["path"]).read_text() == (tmp_path / "train data.jsonl").read_text()
    assert f["bytes"] == Path(f["path"]).stat().st_size and f["filename"] == "train data.jsonl"
    assert store.list_files()[0]["id"] == f["id"]
    assert store.delete_file(f["id"])["deleted"] and not Path(f["path"]).exists()
