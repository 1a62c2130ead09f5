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
    assert distributed.processes_for(parse_params({"processes": 2})) == 2
    with pytest.raises(Exception, match="processes"):
        parse_params({"processes": 0})
