"""The memory check: what a job needs (quantization, LoRA layers, sequence length) against what there is
(psutil, the cgroup's limit), and a refusal that says both."""
from __future__ import annotations

import json

import pytest

from fmscript.ai import memory, modelstore

GiB = 1 << 30
BIG = {"model_type": "llama", "hidden_size": 4096, "num_hidden_layers": 32, "intermediate_size": 11008,
       "vocab_size": 32000, "num_attention_heads": 32, "num_key_value_heads": 8, "torch_dtype": "bfloat16"}


def _folder(tmp_path, name, **extra):
    d = tmp_path / name
    d.mkdir()
    (d / "config.json").write_text(json.dumps({**BIG, **extra}))
    return d


def test_quantization_lora_layers_and_sequence_length_count(tmp_path):
    full = memory.estimate(_folder(tmp_path, "bf16"))
    q4 = memory.estimate(_folder(tmp_path, "q4", quantization={"bits": 4, "group_size": 64}))
    q8 = memory.estimate(_folder(tmp_path, "q8", quantization={"bits": 8, "group_size": 64}))
    assert 10 * GiB < full.weights < 13 * GiB  # 5.9B parameters (8 key/value heads) at 2 bytes
    assert q4.weights < 0.35 * full.weights and q4.weights < q8.weights < full.weights
    base = _folder(tmp_path, "b")
    assert memory.estimate(base, lora_layers=16).lora == 4 * memory.estimate(base, lora_layers=4).lora
    assert memory.estimate(base, lora_layers=16).activations > 3 * memory.estimate(base, lora_layers=4).activations
    short, long = memory.estimate(base, seq_len=256), memory.estimate(base, seq_len=2048)
    assert long.activations > 8 * short.activations  # linear in tokens, plus attention's square
    assert long.logits == 8 * short.logits


def test_a_refused_job_says_what_it_needs_and_what_there_is(tmp_path, monkeypatch):
    monkeypatch.setenv("FMSCRIPT_MEMORY_LIMIT", "8G")
    big = _folder(tmp_path, "big")
    with pytest.raises(modelstore.NotEnoughMemory) as ei:
        modelstore.check_training_memory(big, 1, "llama-7b")
    msg = ei.value.message
    assert ei.value.code == 7
    need = memory.estimate(big).total / GiB
    assert f"needs about {need:.1f} GiB" in msg and "only 8.0 GiB is available (FMSCRIPT_MEMORY_LIMIT)" in msg
    assert "batch 1 × 2048 tokens" in msg
    # The same model 4-bit quantized, on short examples, fits in those 8 GiB.
    q4 = _folder(tmp_path, "q4", quantization={"bits": 4, "group_size": 64})

    class P:
        batch_size, max_seq_length, lora_layers, rank = 1, 2048, 4, 8

    assert modelstore.check_training_memory(q4, params=P, longest=300) < 8 * GiB


def _cgroup(tmp_path, limit: str, current: int):
    root = tmp_path / "cg"
    leaf = root / "user.slice" / "job"
    leaf.mkdir(parents=True)
    (root / "cgroup.controllers").write_text("cpu memory\n")
    (root / "user.slice" / "memory.max").write_text("max\n")
    (leaf / "memory.max").write_text(limit + "\n")
    (leaf / "memory.current").write_text(f"{current}\n")
    me = tmp_path / "self_cgroup"
    me.write_text("0::/user.slice/job\n")
    return root, me


def test_the_cgroup_limit_lowers_what_is_available(tmp_path, monkeypatch):
    monkeypatch.delenv("FMSCRIPT_MEMORY_LIMIT", raising=False)
    root, me = _cgroup(tmp_path, str(2 * GiB), GiB // 2)
    assert memory.cgroup_room(root, me) == GiB + GiB // 2
    have, source = memory.available(root, me)
    assert have == GiB + GiB // 2 and source == "the cgroup's memory limit"
    root2, me2 = _cgroup(tmp_path / "x", "max", 0)
    assert memory.cgroup_room(root2, me2) is None
    import psutil

    have, source = memory.available(root2, me2)
    assert source == "available memory" and abs(have - psutil.virtual_memory().available) < GiB


def test_cgroup_v1_limit(tmp_path):
    (tmp_path / "memory").mkdir()
    (tmp_path / "memory" / "memory.limit_in_bytes").write_text(str(3 * GiB))
    (tmp_path / "memory" / "memory.usage_in_bytes").write_text(str(GiB))
    assert memory.cgroup_room(tmp_path, tmp_path / "none") == 2 * GiB
    (tmp_path / "memory" / "memory.limit_in_bytes").write_text("9223372036854771712")  # v1's "no limit"
    assert memory.cgroup_room(tmp_path, tmp_path / "none") is None
