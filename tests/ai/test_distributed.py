"""Data-parallel LoRA: two processes on loopback (mlx's ring backend, started by mlx.launch) train with the same
losses as one process at the combined batch."""
from __future__ import annotations

import json
import subprocess

import pytest

from fmscript.ai import distributed

from .engine_support import write_jsonl

PARAMS = {"max_steps": 12, "learning_rate": 3e-3, "batch_size": 4, "steps_per_report": 1, "steps_per_eval": 1000}


def _launch(n, args, timeout=300):
    cmd = distributed.launch_command(n, args)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def test_two_processes_give_the_losses_of_one_at_the_combined_batch(home, tmp_path):
    import numpy as np
    from mlx.utils import tree_flatten  # noqa: F401 (mlx importable)
    from safetensors.numpy import load_file

    from fmscript.ai.params import parse_params
    from fmscript.ai.tinymodel import create_tiny
    from fmscript.ai.trainer import LoRATrainer
    from fmscript.ai.trainingdata import load_examples

    base = create_tiny("base")
    data = write_jsonl(tmp_path / "qa.jsonl", system="Answer briefly.")
    one = LoRATrainer(base, parse_params(PARAMS), load_examples(data)).run(resume=False,
                                                                          stage_dir=tmp_path / "one")
    assert one.metrics and len(one.metrics) == 12
    out = tmp_path / "two.json"
    r = _launch(2, ["--base", str(base), "--data", str(data), "--params", json.dumps(PARAMS), "--out", str(out),
                    "--stage", str(tmp_path / "two")])
    assert r.returncode == 0, r.stderr[-3000:]
    two = json.loads(out.read_text())
    assert two["processes"] == 2
    a = [m["train_loss"] for m in one.metrics]
    b = [m["train_loss"] for m in two["metrics"]]
    assert a[0] > a[-1]  # it learnt, so equal curves mean something
    np.testing.assert_allclose(b, a, rtol=2e-4, atol=2e-4)
    wa = load_file(str(tmp_path / "one" / "adapters.safetensors"))
    wb = load_file(str(tmp_path / "two" / "adapters.safetensors"))
    assert wa.keys() == wb.keys()
    for k in wa:
        np.testing.assert_allclose(wb[k], wa[k], rtol=1e-3, atol=1e-4)
    # the trained tokens of a step are the whole batch's, not one process's share
    assert [m["trained_tokens"] for m in two["metrics"]] == [m["trained_tokens"] for m in one.metrics]


def test_processes_parameter_and_server_setting(monkeypatch):
    from fmscript.ai.params import parse_params

    monkeypatch.delenv("FMSCRIPT_TRAIN_PROCESSES", raising=False)
    assert distributed.processes_for(parse_params({})) == 1
    monkeypatch.setenv("FMSCRIPT_TRAIN_PROCESSES", "3")
    assert distributed.processes_for(parse_params({})) == 3
    assert distributed.processes_for(parse_params({"processes": 2, "batch_size": 2})) == 2
    with pytest.raises(Exception, match="processes"):
        parse_params({"processes": 0})
    with pytest.raises(Exception, match="may not exceed batch_size"):
        parse_params({"processes": 4, "batch_size": 2})


@pytest.mark.slow
def test_a_distributed_job_resumes_after_its_worker_is_killed(home, qa_file):
    import os
    import signal

    from fmscript.ai import worker
    from fmscript.ai.jobs import JobStore
    from fmscript.ai.local import LocalEngine

    from .engine_support import QA, wait_until

    engine = LocalEngine()
    res = engine.fine_tune("fmscript/tiny-chat", qa_file, {"max_steps": 30, "learning_rate": "3e-3",
                                                          "batch_size": 4, "steps_per_report": 2, "save_every": 4,
                                                          "processes": 2, "fine_tuned_model_name": "dist"})["result"]
    store = JobStore()
    job = wait_until(lambda: (lambda j: j if (j["step"] or 0) >= 8 and (
        home / "runs" / res["id"] / "checkpoint" / "state.json").is_file() else None)(store.get_job(res["id"])),
        timeout=240, what="the distributed job to checkpoint")
    os.kill(job["pid"], signal.SIGKILL)
    wait_until(lambda: not worker.worker_running(), what="the killed worker's lock to go")
    final = engine.wait(res["id"], timeout=300)["result"]
    assert final["status"] == "succeeded", store.get_job(res["id"])["error"]
    messages = [e["message"] for e in store.events(res["id"])]
    assert any(m.startswith("Resumed from the checkpoint at step") for m in messages)
    assert [d["step"] for d in store.metrics(res["id"])][-1] == 30
    assert engine.chat("fm-mlx-dist", [{"role": "user", "content": QA[0][0]}])  # the tuned model is installed
