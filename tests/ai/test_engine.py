"""End to end through the real worker process: training, learning, cancel, crash recovery, same-name swap, BLAS."""
import os
import signal

import pytest

from fmscript.ai import modelstore
from fmscript.ai.jobs import JobStore
from fmscript.ai.local import LocalEngine
from fmscript.errors import FMScriptError

from .engine_support import QA, stop_worker, wait_until, write_jsonl

LEARN = {"max_steps": 100, "learning_rate": "3e-3", "batch_size": 4, "steps_per_report": 10}




@pytest.mark.slow
def test_it_learns_eight_answers(home, qa_file):
    engine = LocalEngine()
    res = engine.fine_tune("fmscript/tiny-chat", qa_file, {**LEARN, "fine_tuned_model_name": "qa model"})["result"]
    assert res["status"] == "queued" and res["fine_tuned_model"] == "fm-mlx-qa-model"
    seen = []
    done = engine.wait(res["id"], timeout=240, on_progress=seen.append)["result"]
    assert done["status"] == "succeeded", JobStore().get_job(res["id"])["error"]
    metrics = [e["data"] for e in seen if e["data"] and "step" in e["data"]]
    assert metrics[-1]["step"] == 100 and metrics[-1]["train_loss"] < metrics[0]["train_loss"]
    assert {"train_loss", "tokens_per_sec", "elapsed"} <= set(metrics[0])
    for q, a in QA:
        assert engine.chat("fm-mlx-qa-model", [{"role": "user", "content": q}]) == a
    tuned = [m for m in modelstore.list_models() if m["kind"] == "tuned"]
    assert [m["id"] for m in tuned] == ["fm-mlx-qa-model"] and tuned[0]["base_model"] == "fmscript/tiny-chat"
    # The adapter is in mlx-lm's format: mlx_lm.load can use it directly.
    r = modelstore.resolve_model("fm-mlx-qa-model")
    assert (r.adapter_path / "adapter_config.json").is_file() and (r.adapter_path / "adapters.safetensors").is_file()
    assert not list((home / "runs").glob("*/checkpoint"))  # checkpoints are cleaned up after success


def test_bad_input_is_refused_before_a_job_exists(home, tmp_path, qa_file):
    engine = LocalEngine()
    bad = tmp_path / "bad.jsonl"
    bad.write_text(qa_file.read_text() + '{"messages": [{"role": "user", "content": "q"}]}\n')
    with pytest.raises(FMScriptError, match="line 9"):
        engine.fine_tune("fmscript/tiny-chat", bad, {})
    with pytest.raises(FMScriptError, match="batch_size"):
        engine.fine_tune("fmscript/tiny-chat", qa_file, {"batch_size": 0})
    with pytest.raises(FMScriptError, match="not found"):
        engine.fine_tune("nobody/no-such-model", qa_file, {})
    assert JobStore().list_jobs() == []


def test_cancel_mid_training(home, qa_file):
    engine = LocalEngine()
    res = engine.fine_tune("fmscript/tiny-chat", qa_file, {"max_steps": 100000, "steps_per_report": 5,
                                                          "fine_tuned_model_name": "never"})["result"]
    store = JobStore()
    wait_until(lambda: (store.get_job(res["id"])["step"] or 0) >= 5, what="training to start")
    assert engine.cancel(res["id"])["result"]["status"] == "cancelled"
    final = engine.wait(res["id"], timeout=30)["result"]
    assert final["status"] == "cancelled"
    # The worker noticed and moved on: it takes the next job.
    nxt = engine.fine_tune("fmscript/tiny-chat", qa_file, {"max_steps": 5})["result"]
    assert engine.wait(nxt["id"], timeout=120)["result"]["status"] == "succeeded"
    assert store.get_job(res["id"])["status"] == "cancelled"
    assert "fm-mlx-never" not in {m["id"] for m in modelstore.list_models()}


def _kill_worker_when(store, job_id, cond):
    job = wait_until(lambda: (lambda j: j if cond(j) else None)(store.get_job(job_id)), what="the job to progress")
    os.kill(job["pid"], signal.SIGKILL)
    from fmscript.ai import worker

    wait_until(lambda: not worker.worker_running(), what="the killed worker's lock to go")
    assert store.get_job(job_id)["status"] == "running"  # nobody has looked yet
    return job


@pytest.mark.slow
def test_killed_worker_job_resumes_from_checkpoint(home, qa_file):
    engine = LocalEngine()
    res = engine.fine_tune("fmscript/tiny-chat", qa_file, {**LEARN, "max_steps": 400, "save_every": 20,
                                                          "fine_tuned_model_name": "resumed"})["result"]
    store = JobStore()
    _kill_worker_when(store, res["id"], lambda j: (j["step"] or 0) >= 40 and
                      (home / "runs" / res["id"] / "checkpoint" / "state.json").is_file())
    final = engine.wait(res["id"], timeout=240)["result"]  # waiting restarts a worker, which resumes the job
    assert final["status"] == "succeeded"
    messages = [e["message"] for e in store.events(res["id"])]
    assert any("resumes from its checkpoint at step" in m for m in messages)
    assert any(m.startswith("Resumed from the checkpoint at step") for m in messages)
    steps = [d["step"] for d in store.metrics(res["id"])]
    assert steps[-1] == 400
    assert engine.chat("fm-mlx-resumed", [{"role": "user", "content": QA[0][0]}]) == QA[0][1]


def test_killed_worker_before_checkpoint_fails_with_reason(home, qa_file):
    engine = LocalEngine()
    res = engine.fine_tune("fmscript/tiny-chat", qa_file, {"max_steps": 100000, "save_every": 1000000,
                                                          "steps_per_report": 5})["result"]
    store = JobStore()
    job = _kill_worker_when(store, res["id"], lambda j: (j["step"] or 0) >= 5)
    final = engine.wait(res["id"], timeout=60)["result"]
    assert final["status"] == "failed"
    err = store.get_job(res["id"])["error"]
    assert f"pid {job['pid']}" in err and "first checkpoint" in err


@pytest.mark.slow
def test_same_name_stays_usable_until_the_new_job_succeeds(home, qa_file, tmp_path):
    engine = LocalEngine()
    first = engine.fine_tune("fmscript/tiny-chat", qa_file, {**LEARN, "fine_tuned_model_name": "support"})["result"]
    assert engine.wait(first["id"], timeout=240)["result"]["status"] == "succeeded"
    old_folder = modelstore.resolve_model("fm-mlx-support").adapter_path.resolve()
    assert engine.chat("fm-mlx-support", QA[1][0]) == QA[1][1]

    other = write_jsonl(tmp_path / "other.jsonl", [(q, "Unknown.") for q, _ in QA])
    # A cancelled replacement leaves the old model alone.
    c = engine.fine_tune("fmscript/tiny-chat", other, {**LEARN, "max_steps": 100000,
                                                       "fine_tuned_model_name": "support"})["result"]
    store = JobStore()
    wait_until(lambda: (store.get_job(c["id"])["step"] or 0) >= 10, what="the second job to train")
    assert modelstore.resolve_model("fm-mlx-support").adapter_path.resolve() == old_folder
    assert engine.chat("fm-mlx-support", QA[1][0]) == QA[1][1]
    engine.cancel(c["id"])
    assert engine.wait(c["id"], timeout=30)["result"]["status"] == "cancelled"
    assert modelstore.resolve_model("fm-mlx-support").adapter_path.resolve() == old_folder

    second = engine.fine_tune("fmscript/tiny-chat", other, {**LEARN, "fine_tuned_model_name": "support"})["result"]
    assert engine.wait(second["id"], timeout=240)["result"]["status"] == "succeeded"
    new_folder = modelstore.resolve_model("fm-mlx-support").adapter_path.resolve()
    assert new_folder != old_folder and not old_folder.exists()
    assert engine.chat("fm-mlx-support", QA[1][0]) == "Unknown."
    assert [m["id"] for m in modelstore.list_models() if m["kind"] == "tuned"] == ["fm-mlx-support"]


@pytest.mark.slow
@pytest.mark.skipif(not __import__("sys").platform.startswith("linux"), reason="MKL preload is for Linux CPUs")
def test_worker_uses_mkl_and_losses_match_without_it(home, qa_file, monkeypatch):
    from fmscript.ai.blas import find_mkl

    if find_mkl() is None:
        pytest.skip("the mkl package is not installed")
    engine = LocalEngine()
    params = {**LEARN, "max_steps": 20, "steps_per_report": 1}
    a = engine.fine_tune("fmscript/tiny-chat", qa_file, params)["result"]
    assert engine.wait(a["id"], timeout=120)["result"]["status"] == "succeeded"
    stop_worker()
    monkeypatch.setenv("FMSCRIPT_BLAS", "none")
    b = engine.fine_tune("fmscript/tiny-chat", qa_file, params)["result"]
    assert engine.wait(b["id"], timeout=120)["result"]["status"] == "succeeded"
    store = JobStore()
    blas = {j: [e["data"]["blas"] for e in store.events(j) if e["data"] and "blas" in e["data"]][0]
            for j in (a["id"], b["id"])}
    assert blas == {a["id"]: "mkl", b["id"]: "reference"}
    la = [d["train_loss"] for d in store.metrics(a["id"])]
    lb = [d["train_loss"] for d in store.metrics(b["id"])]
    assert len(la) == len(lb) == 20
    assert la == pytest.approx(lb, rel=1e-4, abs=1e-5)


@pytest.mark.slow
def test_tied_worker_stops_when_its_parent_dies_and_the_job_resumes(home, qa_file):
    """A server killed with -9 must not leave its worker training on; the job goes back to the queue."""
    import subprocess
    import sys

    from fmscript.ai import worker

    parent = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        engine = LocalEngine(tie_worker_to_pid=parent.pid)
        res = engine.fine_tune("fmscript/tiny-chat", qa_file, {**LEARN, "max_steps": 100000, "save_every": 20,
                                                              "steps_per_report": 5})["result"]
        store = JobStore()
        wait_until(lambda: (store.get_job(res["id"])["step"] or 0) >= 10, what="training to start")
    finally:
        parent.kill()
        parent.wait()
    wait_until(lambda: not worker.worker_running(), timeout=30, what="the tied worker to stop")
    job = store.get_job(res["id"])
    assert job["status"] == "queued"
    assert any("resumes from its checkpoint" in e["message"] for e in store.events(res["id"]))
    engine.cancel(res["id"])
