"""What the Local engine relies on inside mlx-lm (and mlx), checked by name, so an upgrade that moves or changes
one of them fails here, saying what broke, instead of deep inside a training job.

pyproject.toml pins ``mlx-lm`` and ``mlx`` to the range these tests pass on; the first test checks that the
installed versions are inside it.
"""
from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
import textwrap
from importlib import import_module, metadata


from fmscript.ai.tinymodel import build_model_folder


def _params(fn) -> set[str]:
    return set(inspect.signature(fn).parameters)


def _needs(obj, what: str, *names: str) -> None:
    missing = [n for n in names if n not in _params(obj)]
    assert not missing, f"mlx-lm changed: {what} no longer takes {', '.join(missing)} (fmscript passes them)"


def _pin(dist: str):
    """The version range fmscript's metadata pins for ``dist`` (mlx-lm, mlx, mlx-cpu)."""
    from packaging.requirements import Requirement

    for text in metadata.requires("fmscript") or []:
        req = Requirement(text)
        if req.name == dist and (req.marker is None or req.marker.evaluate({"extra": ""})):
            return req.specifier
    return None


def test_installed_mlx_lm_and_mlx_are_in_the_pinned_range():
    for dist in ("mlx-lm", "mlx"):
        spec = _pin(dist)
        assert spec is not None and str(spec), f"pyproject.toml must pin {dist} to the range the engine is tested on"
        version = metadata.version(dist)
        assert spec.contains(version), f"{dist} {version} is installed, but fmscript is tested with {dist}{spec}"
        assert "<" in str(spec), f"{dist}{spec} has no upper bound: the engine relies on its internals"


def test_every_mlx_lm_internal_the_engine_uses_is_there():
    lora = import_module("mlx_lm.tuner.lora")
    LoRALinear = getattr(lora, "LoRALinear", None)
    assert LoRALinear is not None, "mlx_lm.tuner.lora.LoRALinear is gone (fmscript subclasses it)"
    _needs(LoRALinear.from_base, "LoRALinear.from_base", "linear", "r", "dropout", "scale")
    _needs(LoRALinear.__call__, "LoRALinear.__call__", "x")
    tuner_utils = import_module("mlx_lm.tuner.utils")
    _needs(tuner_utils.linear_to_lora_layers, "mlx_lm.tuner.utils.linear_to_lora_layers", "model", "num_layers",
           "config")
    utils = import_module("mlx_lm.utils")
    _needs(utils.load, "mlx_lm.utils.load", "adapter_path")
    _needs(utils.load_model, "mlx_lm.utils.load_model", "model_path")
    _needs(utils.load_tokenizer, "mlx_lm.utils.load_tokenizer", "model_path", "eos_token_ids")
    assert isinstance(getattr(utils, "DEFAULT_ALLOW_PATTERNS", None), list), \
        "mlx_lm.utils.DEFAULT_ALLOW_PATTERNS is gone (the hub download asks for those files)"
    gen = import_module("mlx_lm.generate")
    _needs(gen.stream_generate, "mlx_lm.generate.stream_generate", "model", "tokenizer", "prompt", "max_tokens")
    fields = set(getattr(gen.GenerationResponse, "__dataclass_fields__", {}))
    missing = {"text", "prompt_tokens", "generation_tokens", "finish_reason"} - fields
    assert not missing, f"mlx_lm.generate.GenerationResponse lost {sorted(missing)} (the server reports them)"
    _needs(import_module("mlx_lm.sample_utils").make_sampler, "mlx_lm.sample_utils.make_sampler", "temp", "top_p")
    llama = import_module("mlx_lm.models.llama")
    assert hasattr(llama, "Model") and hasattr(llama.ModelArgs, "from_dict"), "mlx_lm.models.llama lost Model/ModelArgs"
    # fastmath.py swaps these two module attributes for its vectorised exp.
    assert callable(getattr(llama, "swiglu", None)), "mlx_lm.models.llama no longer uses a module-level swiglu"
    sdpa = getattr(llama, "scaled_dot_product_attention", None)
    assert callable(sdpa), "mlx_lm.models.llama no longer calls a module-level scaled_dot_product_attention"
    _needs(sdpa, "scaled_dot_product_attention", "queries", "keys", "values", "cache", "scale", "mask", "sinks")


def test_lora_initialisation_equals_mlx_lm_for_the_same_seed(tmp_path):
    import mlx.core as mx
    from mlx.utils import tree_flatten
    from mlx_lm.tuner.lora import LoRALinear
    from mlx_lm.tuner.utils import linear_to_lora_layers

    from fmscript.ai.mlxlite import load_model, lora_layers

    folder = build_model_folder(tmp_path / "tiny")
    cfg = {"rank": 8, "scale": 20.0, "dropout": 0.0}
    ours, _ = load_model(folder)
    theirs, _ = load_model(folder)
    for m in (ours, theirs):
        m.freeze()
    mx.random.seed(7)
    lora_layers(ours, 3, cfg)
    mx.random.seed(7)
    linear_to_lora_layers(theirs, 3, cfg)
    a = dict(tree_flatten(ours.trainable_parameters()))
    b = dict(tree_flatten(theirs.trainable_parameters()))
    assert sorted(a) == sorted(b) and len(a) == 3 * 7 * 2  # lora_a and lora_b of 7 linears in 3 blocks
    for k in a:
        assert mx.array_equal(a[k], b[k]).item(), k
    layer = ours.layers[-1].self_attn.q_proj
    assert isinstance(layer, LoRALinear) or LoRALinear.__name__ in [c.__name__ for c in type(layer).__mro__]
    # and the forward pass (with the shared q/k/v product) is mlx-lm's
    x = mx.array([[1, 5, 9, 42, 7]])
    assert mx.allclose(ours(x), theirs(x), atol=1e-5).item()


def test_training_never_imports_transformers_or_torch(tmp_path):
    """The worker trains through the light loader: a subprocess runs a short job and looks at sys.modules."""
    data = tmp_path / "qa.jsonl"
    data.write_text("\n".join(json.dumps({"messages": [{"role": "user", "content": f"q{i}"},
                                                       {"role": "assistant", "content": f"a{i}"}]})
                              for i in range(4)) + "\n")
    code = textwrap.dedent(f"""
        import sys
        from fmscript.ai.params import parse_params
        from fmscript.ai.tinymodel import build_model_folder
        from fmscript.ai.trainer import LoRATrainer
        from fmscript.ai.trainingdata import load_examples
        folder = build_model_folder({str(tmp_path / 'm')!r})
        t = LoRATrainer(folder, parse_params({{"max_steps": 3, "batch_size": 2}}), load_examples({str(data)!r}))
        r = t.run(resume=False)
        assert r.steps == 3, r
        from mlx_lm.tuner.lora import LoRALinear
        assert isinstance(t.model.layers[-1].mlp.up_proj, LoRALinear)
        print(" ".join(sorted(m for m in sys.modules if m.split(".")[0] in ("transformers", "torch"))) or "none")
    """)
    env = {**os.environ, "FMSCRIPT_HOME": str(tmp_path / "home")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split()[-1] == "none", f"training imported: {out.stdout.strip()}"
