"""QLoRA: a 4- or 8-bit copy of a base model (mlx-lm's quantization) trains adapters and answers."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from fmscript.errors import FMScriptError

from .engine_support import QA


def _examples():
    return [{"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]} for q, a in QA]


def test_quantize_command_writes_a_smaller_quantized_model(home):
    from fmscript.ai.tinymodel import create_tiny

    create_tiny("base")
    r = subprocess.run([sys.executable, "-m", "fmscript", "models", "quantize", "base", "--bits", "8"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    q = home / "models" / "base-8bit"
    cfg = json.loads((q / "config.json").read_text())
    assert cfg["quantization"]["bits"] == 8
    assert (q / "model.safetensors").stat().st_size < 0.5 * (home / "models" / "base" / "model.safetensors").stat().st_size
    assert (q.stat().st_mode & 0o077) == 0
    again = subprocess.run([sys.executable, "-m", "fmscript", "models", "quantize", "base", "--bits", "8"],
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 2 and "already exists" in again.stderr
    bad = subprocess.run([sys.executable, "-m", "fmscript", "models", "quantize", "base-8bit"],
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "already quantized" in bad.stderr


@pytest.mark.parametrize("bits", [4, 8])
def test_a_quantized_tiny_model_trains_and_answers(home, tmp_path, bits):
    import mlx.core as mx
    import mlx.nn as nn

    from fmscript.ai import generate, modelstore
    from fmscript.ai.params import parse_params
    from fmscript.ai.quantize import quantize
    from fmscript.ai.tinymodel import create_tiny
    from fmscript.ai.trainer import LoRATrainer

    create_tiny("base")
    qpath = quantize("base", bits=bits)
    p = parse_params({"max_steps": 100, "learning_rate": 3e-3, "batch_size": 4, "steps_per_report": 10})
    trainer = LoRATrainer(qpath, p, _examples())
    res = trainer.run(resume=False, stage_dir=tmp_path / "adapter")
    losses = [m["train_loss"] for m in res.metrics]
    assert losses[-1] < 0.5 * losses[0], losses
    block = trainer.model.layers[-1]
    assert isinstance(block.self_attn.q_proj.linear, nn.QuantizedLinear)  # the frozen base stays quantized
    assert block.self_attn.q_proj.linear.bits == bits
    trained = {k for k, _ in __import__("mlx.utils", fromlist=["tree_flatten"]).tree_flatten(
        trainer.model.trainable_parameters())}
    assert trained and all("lora_" in k for k in trained)
    modelstore.write_pointer(res.adapter_dir, base_model=str(qpath), base_path=qpath, job_id="t",
                             fine_tuned_model="fm-q")
    generate.clear_cache()
    answers = [generate.generate(str(res.adapter_dir), q, max_tokens=8).strip() for q, _ in QA[:4]]
    assert sum(a == want for a, (_, want) in zip(answers, QA[:4])) >= 3, answers
    mx.clear_cache()


def test_quantize_refuses_other_bit_widths_and_tuned_models(home):
    from fmscript.ai.quantize import quantize
    from fmscript.ai.tinymodel import create_tiny

    create_tiny("base")
    with pytest.raises(FMScriptError, match="4 or 8 bits"):
        quantize("base", bits=3)
