"""Every model family create-tiny builds: loads through both loaders with the same logits and tokens, accepts the
data Fine-Tune Model produces (with and without a system message), trains, saves, reloads and answers."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from fmscript.ai import families
from fmscript.ai.families import FAMILIES, chat_messages, fold_system, render

from .engine_support import QA

ARCHS = list(FAMILIES)
TABLE_ROW = [{"role": "user", "content": "What colour is the sky?"}, {"role": "assistant", "content": "Blue."}]
JSONL_ROW = [{"role": "system", "content": "Answer in one word."}, *TABLE_ROW]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("families")
    return {a: families.build_family_folder(root / a, a) for a in ARCHS}


@pytest.mark.parametrize("arch", ARCHS)
def test_both_loaders_give_the_same_tokens_and_logits(built, arch):
    import mlx.core as mx
    import numpy as np
    from mlx_lm.utils import load_model as mlx_lm_load_model
    from mlx_lm.utils import load_tokenizer as mlx_lm_load_tokenizer

    from fmscript.ai.mlxlite import ChatTokenizer, load_model, load_tokenizer

    path = built[arch]
    cfg = json.loads((path / "config.json").read_text())
    assert cfg["model_type"] == FAMILIES[arch].model_type
    light, _ = load_model(path)
    full, _ = mlx_lm_load_model(path)
    light_tok = load_tokenizer(path, cfg["eos_token_id"])
    assert isinstance(light_tok, ChatTokenizer)
    hf_tok = mlx_lm_load_tokenizer(path, eos_token_ids=cfg["eos_token_id"])
    for row in (TABLE_ROW, JSONL_ROW):
        a = render(light_tok, chat_messages(light_tok, row))
        b = list(render(hf_tok, chat_messages(hf_tok, row)))
        assert a == b
        prompt = render(light_tok, chat_messages(light_tok, row)[:-1], add_generation_prompt=True)
        assert a[:len(prompt)] == prompt and len(a) > len(prompt)  # prompt masking cuts at the answer
    x = mx.array([a])
    la, lb = np.array(light(x)), np.array(full(x))
    assert la.shape == (1, len(a), cfg["vocab_size"])
    assert np.abs(la).max() > 0.1
    np.testing.assert_allclose(la, lb, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("arch", ["gemma", "gemma2"])
def test_gemma_has_no_system_role_and_the_system_text_goes_to_the_first_user_turn(built, arch):
    from fmscript.ai.mlxlite import load_tokenizer

    tok = load_tokenizer(built[arch])
    with pytest.raises(Exception, match="System role not supported"):
        render(tok, JSONL_ROW, tokenize=False)
    text = render(tok, chat_messages(tok, JSONL_ROW), tokenize=False)
    assert text.startswith("<bos><start_of_turn>user\nAnswer in one word.\n\nWhat colour is the sky?<end_of_turn>\n")
    assert text.endswith("<start_of_turn>model\nBlue.<end_of_turn>\n")


def test_templates_that_accept_a_system_message_get_it_unchanged(built):
    from fmscript.ai.mlxlite import load_tokenizer

    tok = load_tokenizer(built["llama3"])
    assert chat_messages(tok, JSONL_ROW) == JSONL_ROW
    assert "<|start_header_id|>system<|end_header_id|>\n\nAnswer in one word.<|eot_id|>" in \
        render(tok, JSONL_ROW, tokenize=False)


def test_fold_system_joins_runs_of_one_role():
    msgs = [{"role": "system", "content": "S"}, {"role": "user", "content": "a"}, {"role": "user", "content": "b"},
            {"role": "assistant", "content": "c"}]
    assert fold_system(msgs) == [{"role": "user", "content": "S\n\na\n\nb"}, {"role": "assistant", "content": "c"}]


def test_builds_are_byte_identical(tmp_path):
    a = families.build_family_folder(tmp_path / "a", "qwen3")
    b = families.build_family_folder(tmp_path / "b", "qwen3")
    for f in ("model.safetensors", "tokenizer.json", "config.json", "tokenizer_config.json"):
        assert (a / f).read_bytes() == (b / f).read_bytes()


@pytest.mark.parametrize("arch", ARCHS)
def test_each_family_trains_saves_reloads_and_answers(built, arch, tmp_path):
    import mlx.core as mx
    import numpy as np
    from mlx_lm.utils import load as mlx_lm_load

    from fmscript.ai import generate, modelstore
    from fmscript.ai.params import parse_params
    from fmscript.ai.trainer import LoRATrainer

    examples = [{"messages": [{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": q},
                              {"role": "assistant", "content": a}]} for q, a in QA]
    p = parse_params({"max_steps": 16, "learning_rate": 3e-3, "batch_size": 4, "steps_per_report": 4})
    trainer = LoRATrainer(built[arch], p, examples)
    res = trainer.run(resume=False, stage_dir=tmp_path / "adapter")
    losses = [m["train_loss"] for m in res.metrics]
    assert losses[-1] < losses[0], losses
    stage = res.adapter_dir
    assert {"adapters.safetensors", "adapter_config.json"} <= {f.name for f in stage.iterdir()}
    modelstore.write_pointer(stage, base_model=str(built[arch]), base_path=built[arch], job_id="t",
                             fine_tuned_model=f"fm-{arch}")

    # The trainer's model (light loader + LoRA) and mlx-lm's loader with the saved adapter: the same logits.
    tokens = trainer.rows[0][0]
    trainer.model.eval()
    light = np.array(trainer.model(mx.array([tokens])))
    model, _tok = mlx_lm_load(str(built[arch]), adapter_path=str(stage))
    np.testing.assert_allclose(light, np.array(model(mx.array([tokens]))), rtol=1e-4, atol=1e-4)

    # Greedy answers: the trainer's model, token by token, and fmscript's generation (mlx-lm's loader) agree.
    generate.clear_cache()
    msgs = [{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": QA[0][0]}]
    ids = render(trainer.tokenizer, chat_messages(trainer.tokenizer, msgs), add_generation_prompt=True)
    out = []
    for _ in range(8):
        nxt = int(mx.argmax(trainer.model(mx.array([ids + out]))[0, -1]).item())
        if nxt in trainer.tokenizer.eos_token_ids:
            break
        out.append(nxt)
    answer = generate.generate(str(stage), msgs, max_tokens=len(out) or 1)
    assert answer.strip() == trainer.tokenizer.decode(out).strip()  # mlx-lm drops a leading space


def test_create_tiny_arch_on_the_command_line(home):
    r = subprocess.run([sys.executable, "-m", "fmscript", "models", "create-tiny", "google/codegemma-7b-it",
                        "--arch", "gemma"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    cfg = json.loads((home / "models" / "google" / "codegemma-7b-it" / "config.json").read_text())
    assert cfg["model_type"] == "gemma" and cfg["architectures"] == ["GemmaForCausalLM"]
    r = subprocess.run([sys.executable, "-m", "fmscript", "models", "create-tiny", "x", "--arch", "gpt9"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "gpt9" in r.stderr
