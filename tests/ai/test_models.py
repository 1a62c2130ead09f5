import hashlib
import json
import os

import pytest

from fmscript.ai import modelstore
from fmscript.ai.tinymodel import create_tiny, ensure_builtin
from fmscript.errors import FMScriptError


def _digest(folder):
    h = hashlib.sha256()
    for name in sorted(os.listdir(folder)):
        h.update(name.encode())
        h.update((folder / name).read_bytes())
    return h.hexdigest()


def test_tiny_model_loads_in_mlx_lm_with_chat_template(home):
    path = create_tiny("acme/tiny")
    assert path == home / "models" / "acme" / "tiny"
    cfg = json.loads((path / "config.json").read_text())
    assert cfg["model_type"] == "llama" and cfg["hidden_size"] == 64 and cfg["num_hidden_layers"] == 4
    # From its module: an earlier test may have left fmscript's light ``mlx_lm`` package (no ``__init__``
    # re-exports) in sys.modules.
    from mlx_lm.utils import load

    model, tok = load(str(path))
    msgs = [{"role": "system", "content": "Be kind."}, {"role": "user", "content": "Hi 你好"}]
    text = tok.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False)
    assert text == "<s><|system|>\nBe kind.<|end|>\n<|user|>\nHi 你好<|end|>\n<|assistant|>\n"
    ids = tok.encode("Hello 你好 world", add_special_tokens=False)
    assert tok.decode(ids) == "Hello 你好 world"
    assert tok.eos_token_id == cfg["eos_token_id"]
    assert modelstore.estimate_parameters(cfg) == 229376


def test_build_is_deterministic(home, tmp_path):
    a = create_tiny("a")
    b = create_tiny("b")
    assert _digest(a) == _digest(b)


def test_resolution_order_and_builtin(home, tmp_path):
    p = create_tiny("m1")
    assert modelstore.resolve_model(str(p)).kind == "path"
    assert modelstore.resolve_model("m1").kind == "base"
    assert not (home / "models" / "fmscript" / "tiny-chat").exists()
    r = modelstore.resolve_model("fmscript/tiny-chat")
    assert r.kind == "base" and (r.base_path / "model.safetensors").is_file()
    assert ensure_builtin("fmscript/tiny-chat") == r.base_path
    assert {m["id"] for m in modelstore.list_models()} == {"m1", "fmscript/tiny-chat"}


def test_missing_model_says_where_it_looked(home):
    with pytest.raises(FMScriptError) as ei:
        modelstore.resolve_model("google/codegemma-7b-it")
    msg = ei.value.message
    assert ei.value.code == 100
    assert str(home / "models" / "google" / "codegemma-7b-it") in msg
    assert str(home / "tuned" / "google" / "codegemma-7b-it") in msg and "hub" in msg


@pytest.mark.parametrize("bad", ["a/b/c", "../x", "x/..", ".hidden", "a\x00b"])
def test_bad_names(home, bad):
    with pytest.raises(FMScriptError):
        modelstore.check_model_name(bad)


def test_memory_check_refuses_a_model_too_big(home, monkeypatch):
    big = home / "models" / "huge"
    big.mkdir(parents=True)
    (big / "config.json").write_text(json.dumps({"model_type": "llama", "hidden_size": 8192, "num_hidden_layers": 80,
                                                 "intermediate_size": 28672, "vocab_size": 128256,
                                                 "num_attention_heads": 64, "num_key_value_heads": 8}))
    assert modelstore.weights_bytes(big) > 100e9
    with pytest.raises(modelstore.NotEnoughMemory) as ei:
        modelstore.check_training_memory(big, 1, "huge")
    assert ei.value.code == 7 and "GiB" in ei.value.message
    small = create_tiny("small-one")
    assert modelstore.check_training_memory(small) > 0
    monkeypatch.setenv("FMSCRIPT_MEMORY_LIMIT", "1M")
    with pytest.raises(modelstore.NotEnoughMemory):
        modelstore.check_training_memory(small)


def test_half_written_folders_are_not_listed(home):
    (home / "tuned" / ".store" / ".tmp-fm-ftjob-1").mkdir(parents=True)
    (home / "tuned" / ".store" / ".tmp-fm-ftjob-1" / "adapter_config.json").write_text("{}")
    (home / "models" / ".tmp-abc").mkdir(parents=True)
    (home / "models" / ".tmp-abc" / "config.json").write_text("{}")
    assert modelstore.list_models() == []


def test_light_loader_matches_mlx_lm(home):
    """The worker's transformers-free loader gives the same tokens and the same logits as mlx-lm's loaders."""
    import mlx.core as mx
    from mlx_lm.utils import load as mlx_lm_load

    from fmscript.ai.mlxlite import ChatTokenizer, load_model

    path = create_tiny("light")
    msgs = [{"role": "system", "content": "S"}, {"role": "user", "content": "Wie geht's? 你好"},
            {"role": "assistant", "content": "Gut."}]
    ref_model, ref_tok = mlx_lm_load(str(path))
    tok = ChatTokenizer(path)
    for gen, m in ((False, msgs), (True, msgs[:2])):
        assert tok.apply_chat_template(m, add_generation_prompt=gen) == \
            list(ref_tok.apply_chat_template(m, add_generation_prompt=gen))
    assert tok.eos_token_ids == set(ref_tok.eos_token_ids) and tok.pad_token_id == ref_tok.pad_token_id
    model, _ = load_model(path)
    ids = mx.array([tok.apply_chat_template(msgs)])
    assert mx.allclose(model(ids), ref_model(ids)).item()


def test_package_import_is_light(tmp_path):
    """Parsing or checking a script must not pay for mlx: the AI modules import it only when they run."""
    import subprocess
    import sys

    code = ("import sys, fmscript.ai, fmscript.ai.local, fmscript.ai.commands, fmscript.ai.worker\n"
            "print(sorted(m for m in ('mlx.core', 'mlx_lm', 'transformers', 'torch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=tmp_path).stdout.strip()
    assert out == "[]"
