"""Fuse: a tuned model merged into a standalone Hugging Face folder that loads without fmscript and answers the
same. (transformers loads the config and tokenizer here; its model classes need torch, which this project does
not install, so the weights are checked with safetensors and mlx-lm's loader.)"""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from fmscript.errors import FMScriptError

from .engine_support import QA


def _tune(base: str, name: str, tmp_path, steps: int = 100):
    from fmscript.ai import modelstore
    from fmscript.ai.params import parse_params
    from fmscript.ai.trainer import LoRATrainer

    r = modelstore.resolve_model(base)
    examples = [{"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]} for q, a in QA]
    p = parse_params({"max_steps": steps, "learning_rate": 3e-3, "batch_size": 4, "steps_per_report": 50})
    res = LoRATrainer(r.base_path, p, examples).run(resume=False, stage_dir=tmp_path / "stage")
    modelstore.write_pointer(res.adapter_dir, base_model=base, base_path=r.base_path, job_id="fm-ftjob-1",
                             fine_tuned_model=name)
    modelstore.install_adapter(name, res.adapter_dir, "fm-ftjob-1")


def _greedy(path, question: str) -> str:
    from mlx_lm.generate import generate as mlx_generate
    from mlx_lm.utils import load

    model, tok = load(str(path))
    prompt = tok.apply_chat_template([{"role": "user", "content": question}], add_generation_prompt=True)
    return mlx_generate(model, tok, prompt, max_tokens=8)


def test_fused_folder_is_standalone_and_answers_like_the_tuned_model(home, tmp_path):
    from safetensors import safe_open
    from transformers import AutoConfig, AutoTokenizer

    from fmscript.ai import generate
    from fmscript.ai.tinymodel import create_tiny

    create_tiny("base")
    _tune("base", "fm-mlx-qa", tmp_path)
    r = subprocess.run([sys.executable, "-m", "fmscript", "models", "fuse", "fm-mlx-qa"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    out = home / "models" / "fm-mlx-qa-fused"
    assert (out.stat().st_mode & 0o077) == 0
    assert not (out / "adapter_config.json").exists()
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["model_type"] == "llama" and "quantization" not in cfg
    base_cfg = json.loads((home / "models" / "base" / "config.json").read_text())
    with safe_open(str(out / "model.safetensors"), "np") as f:
        keys = set(f.keys())
        assert "model.layers.3.self_attn.q_proj.weight" in keys and not any("lora" in k for k in keys)
        assert f.get_tensor("model.embed_tokens.weight").shape == (base_cfg["vocab_size"], base_cfg["hidden_size"])
    assert AutoConfig.from_pretrained(str(out)).model_type == "llama"
    hf_tok = AutoTokenizer.from_pretrained(str(out))
    assert hf_tok.apply_chat_template([{"role": "user", "content": "x"}], tokenize=False,
                                      add_generation_prompt=True).endswith("<|assistant|>\n")

    generate.clear_cache()
    for q, a in QA[:3]:
        tuned = generate.generate("fm-mlx-qa", q, max_tokens=8)
        assert _greedy(out, q) == tuned
    assert sum(_greedy(out, q).strip() == a for q, a in QA[:3]) >= 2  # and it learnt, so the check means something
    assert _greedy(home / "models" / "base", QA[0][0]) != _greedy(out, QA[0][0])  # the adapter is in the weights


def test_fuse_a_quantized_base_dequantized_and_as_gguf(home, tmp_path):
    from fmscript.ai import generate
    from fmscript.ai.fuse import fuse
    from fmscript.ai.quantize import quantize
    from fmscript.ai.tinymodel import create_tiny

    create_tiny("base")
    quantize("base", bits=8)
    _tune("base-8bit", "fm-q", tmp_path, steps=40)
    with pytest.raises(FMScriptError, match="--dequantize"):
        fuse("fm-q", gguf=True)
    kept = fuse("fm-q", out="fm-q-packed")
    assert json.loads((kept / "config.json").read_text())["quantization"]["bits"] == 8
    out = fuse("fm-q", dequantize=True, gguf=True)
    cfg = json.loads((out / "config.json").read_text())
    assert "quantization" not in cfg
    assert (out / "model.gguf").read_bytes()[:4] == b"GGUF"
    generate.clear_cache()
    q = QA[0][0]
    assert _greedy(out, q) == generate.generate("fm-q", q, max_tokens=8)


def test_fuse_refuses_a_base_model_and_gguf_of_other_families(home, tmp_path):
    from fmscript.ai.fuse import fuse
    from fmscript.ai.tinymodel import create_tiny

    create_tiny("base")
    with pytest.raises(FMScriptError, match="not a tuned model"):
        fuse("base")
    create_tiny("g", arch="gemma")
    _tune("g", "fm-g", tmp_path, steps=2)
    with pytest.raises(FMScriptError, match="GGUF export supports"):
        fuse("fm-g", gguf=True)
