"""The CPU fast-math path must not change what training computes beyond float32 rounding."""
import mlx.core as mx
import mlx.nn as nn
import pytest

from fmscript.ai import fastmath
from fmscript.ai.params import parse_params
from fmscript.ai.tinymodel import create_tiny
from fmscript.ai.trainer import LoRATrainer

from .engine_support import QA


def test_exp_silu_cross_entropy_match_mlx():
    x = mx.random.normal((256, 300), key=mx.random.key(1)) * 20
    assert (mx.abs(fastmath.exp(x) - mx.exp(x)) / mx.exp(x)).max().item() < 1e-5
    assert mx.allclose(fastmath.silu(x), nn.silu(x), rtol=1e-5, atol=1e-5).item()
    g1 = mx.grad(lambda z: fastmath.silu(z).sum())(x)
    g2 = mx.grad(lambda z: nn.silu(z).sum())(x)
    assert mx.allclose(g1, g2, rtol=1e-5, atol=1e-5).item()
    logits = mx.random.normal((3, 7, 50), key=mx.random.key(2)) * 5
    t = mx.random.randint(0, 50, (3, 7), key=mx.random.key(3))
    assert mx.allclose(fastmath.cross_entropy(logits, t), nn.losses.cross_entropy(logits, t), atol=1e-5).item()
    gl1 = mx.grad(lambda z: fastmath.cross_entropy(z, t).sum())(logits)
    gl2 = mx.grad(lambda z: nn.losses.cross_entropy(z, t).sum())(logits)
    assert mx.allclose(gl1, gl2, atol=1e-6).item()


@pytest.mark.slow
def test_training_losses_unchanged_by_fast_math(home):
    path = create_tiny("fm")
    examples = [{"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]} for q, a in QA]
    losses = {}
    for fast in (True, False):
        p = parse_params({"max_steps": 12, "learning_rate": 3e-3, "batch_size": 4, "steps_per_report": 1,
                          "fast_math": fast})
        r = LoRATrainer(path, p, examples).run(resume=False)
        losses[fast] = [m["train_loss"] for m in r.metrics]
    assert losses[True] == pytest.approx(losses[False], rel=1e-4, abs=1e-5)


def test_patched_attention_and_mlp_give_the_same_logits(home):
    import importlib

    from fmscript.ai.mlxlite import load_model

    path = create_tiny("fm2")
    model, _ = load_model(path)
    ids = mx.array([[1, 5, 9, 44, 200, 3, 7, 8, 100, 2]])
    mod = importlib.import_module(type(model).__module__)
    saved = (mod.swiglu, mod.scaled_dot_product_attention)
    # Start from mlx-lm's own functions (an earlier test in this process may have patched the module).
    mod.swiglu = importlib.import_module("mlx_lm.models.activations").swiglu
    mod.scaled_dot_product_attention = importlib.import_module("mlx_lm.models.base").scaled_dot_product_attention
    try:
        before = model(ids)
        assert fastmath.patch_model_module(model)
        after = model(ids)
    finally:
        mod.swiglu, mod.scaled_dot_product_attention = saved
    assert mx.allclose(before, after, rtol=1e-4, atol=1e-4).item()
