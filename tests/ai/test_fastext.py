"""fmscript's mlx C++ extension (fastext.py): the same losses as the pure-mlx path, and bf16 base weights within a
stated tolerance of float32."""
import mlx.core as mx
import mlx.nn as nn
import pytest

from fmscript.ai import fastext
from fmscript.ai.params import ParameterError, parse_params
from fmscript.ai.tinymodel import create_tiny
from fmscript.ai.trainer import LoRATrainer

from .engine_support import QA

EXAMPLES = [{"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]} for q, a in QA]


@pytest.fixture
def ext(home):
    fastext._state.clear()  # each test decides afresh (FMSCRIPT_EXT may differ)
    mod = fastext.load()
    if fastext._why_not_buildable() is None:  # a machine with a compiler, CMake and nanobind must have it
        assert mod is not None, fastext.status()
    yield mod
    fastext._state.clear()


def _train(path, steps=8, **extra):
    p = parse_params({"max_steps": steps, "learning_rate": 3e-3, "batch_size": 4, "steps_per_report": 1, **extra})
    t = LoRATrainer(path, p, EXAMPLES)
    r = t.run(resume=False)
    return [m["train_loss"] for m in r.metrics], t


def test_fused_cross_entropy_matches_mlx(ext):
    ce = fastext.cross_entropy()
    if ext is None:
        assert ce is None and "not used" in fastext.status()
        return
    logits = mx.random.normal((3, 37, 500), key=mx.random.key(2)) * 6
    t = mx.random.randint(0, 500, (3, 37), key=mx.random.key(3))
    w = mx.random.uniform(shape=(3, 37), key=mx.random.key(4))
    assert mx.allclose(ce(logits, t), nn.losses.cross_entropy(logits, t), rtol=1e-5, atol=1e-5).item()
    g1 = mx.grad(lambda z: (ce(z, t) * w).sum())(logits)
    g2 = mx.grad(lambda z: (nn.losses.cross_entropy(z, t) * w).sum())(logits)
    assert mx.allclose(g1, g2, atol=1e-6).item()
    compiled = mx.compile(mx.grad(lambda z: (ce(z, t) * w).sum()))
    assert mx.allclose(compiled(logits), g2, atol=1e-6).item()


def test_fused_attention_matches_the_composed_ops(ext):
    from mlx_lm.models.base import scaled_dot_product_attention

    from fmscript.ai import fastmath

    attention = fastext.causal_attention()
    if ext is None:
        assert attention is None
        return
    composed = fastmath.make_sdpa(scaled_dot_product_attention)  # the pure-mlx path it replaces
    q, k, v, c = (mx.random.normal((2, 3, 21, 16), key=mx.random.key(i)) for i in range(10, 14))
    scale = 16 ** -0.5
    assert mx.allclose(attention(q, k, v, scale), composed(q, k, v, None, scale, "causal"), atol=1e-5).item()
    # and mlx's own causal attention, in case both of fmscript's paths were wrong the same way
    mlx_own = mx.fast.scaled_dot_product_attention(q, k, v, scale=scale, mask="causal")
    assert mx.allclose(attention(q, k, v, scale), mlx_own, atol=1e-5).item()
    grads = [mx.grad(lambda q, k, v: (f(q, k, v) * c).sum(), argnums=(0, 1, 2))(q, k, v)
             for f in (lambda q, k, v: attention(q, k, v, scale),
                       lambda q, k, v: composed(q, k, v, None, scale, "causal"))]
    for g1, g2 in zip(*grads):
        assert mx.allclose(g1, g2, atol=1e-5).item()
    # inside a compiled function, and with the views mlx-lm passes (heads transposed out of (B, T, H, D))
    qt, kt, vt = (x.transpose(0, 2, 1, 3) for x in (mx.random.normal((2, 21, 3, 16), key=mx.random.key(i))
                                                    for i in range(20, 23)))
    run = mx.compile(lambda q, k, v: attention(q, k, v, scale))
    assert mx.allclose(run(qt, kt, vt), composed(qt, kt, vt, None, scale, "causal"), atol=1e-5).item()


def test_packed_attention_is_rope_and_attention_per_row(ext):
    attention = fastext.packed_attention()
    if ext is None:
        assert attention is None
        return
    H, G, D = 4, 2, 16  # grouped-query attention: two query heads per key/value head
    lens = [7, 12, 3, 0, 5]  # an empty row, and 3 tokens after the last row (filler)
    starts = [sum(lens[:i]) for i in range(len(lens))]
    N = sum(lens) + 3
    rows = mx.array([[s, n] for s, n in zip(starts, lens)], dtype=mx.int32)
    q, k, v, c = (mx.random.normal((N, n), key=mx.random.key(i)) for i, n in
                  ((30, H * D), (31, G * D), (32, G * D), (33, H * D)))
    rope = nn.RoPE(D, traditional=False, base=500.0, scale=0.5)
    inv_freq = 0.5 * 500.0 ** (-mx.arange(0, D, 2, dtype=mx.float32) / D)
    scale = D ** -0.5

    def reference(q, k, v):  # each row on its own, through mlx's RoPE and mlx's causal attention
        out = []
        for s, n in zip(starts, lens):
            if n:
                qq = rope(q[s:s + n].reshape(1, n, H, D).transpose(0, 2, 1, 3))
                kk = rope(k[s:s + n].reshape(1, n, G, D).transpose(0, 2, 1, 3))
                vv = v[s:s + n].reshape(1, n, G, D).transpose(0, 2, 1, 3)
                o = mx.fast.scaled_dot_product_attention(qq, kk, vv, scale=scale, mask="causal")
                out.append(o.transpose(0, 2, 1, 3).reshape(n, H * D))
        return mx.concatenate(out + [mx.zeros((N - sum(lens), H * D))])

    def fused(q, k, v):
        return attention(q, k, v, rows, inv_freq, H, G, scale)

    assert mx.allclose(fused(q, k, v), reference(q, k, v), atol=1e-5).item()
    g1 = mx.grad(lambda *a: (fused(*a) * c).sum(), argnums=(0, 1, 2))(q, k, v)
    g2 = mx.grad(lambda *a: (reference(*a) * c).sum(), argnums=(0, 1, 2))(q, k, v)
    for a, b in zip(g1, g2):
        assert mx.allclose(a, b, atol=1e-5).item()


def test_packed_rows_give_the_losses_of_padded_batches(home, ext, monkeypatch):
    path = create_tiny("fp")
    packed, t1 = _train(path, steps=10)
    if ext is None:
        assert not t1.packed
        return
    assert t1.packed and "packed rows (no padding)" in t1.kernels
    monkeypatch.setattr(fastext, "packed_attention", lambda: None)
    padded, t2 = _train(path, steps=10)
    assert not t2.packed
    # the first loss differs only in summation order; ten optimiser steps later the rounding has grown (how
    # much depends on the CPU's vector width: 3e-6 on an AVX2 EPYC), while a wrong packing is off by far more
    assert packed[0] == pytest.approx(padded[0], rel=1e-5)
    assert packed == pytest.approx(padded, rel=1e-4, abs=1e-6)
    # eight examples hold no validation rows (validation_loss() is None): the training losses are the comparison
    assert t1.validation_loss() is None and t2.validation_loss() is None


def test_packed_batch_layout():
    from fmscript.ai.trainer import make_packed_batch

    ids, targets, mask, table, real = make_packed_batch([([1, 2, 3, 4], 2), ([5, 6, 7], 1)], multiple=8)
    assert ids.tolist() == [1, 2, 3, 5, 6, 0, 0, 0] and targets.tolist() == [2, 3, 4, 6, 7, 0, 0, 0]
    assert mask.tolist() == [0, 1, 1, 1, 1, 0, 0, 0]  # row 0's loss starts at its offset; filler has none
    assert table.tolist() == [[0, 3], [3, 2], [5, 3]] and real == 7


def test_bf16_linear_is_the_bf16_product(ext):
    if not fastext.bf16_gemm():
        assert ext is None or ext.bf16_gemm() == ""
        return
    x = mx.random.normal((2, 9, 64), key=mx.random.key(5))
    w = (mx.random.normal((48, 64), key=mx.random.key(6)) / 8).astype(mx.bfloat16)
    exact = x.astype(mx.bfloat16).astype(mx.float32) @ w.astype(mx.float32).T  # what a bf16 GEMM computes
    y = fastext.bf16_linear(x, w)
    assert y.dtype == mx.float32 and y.shape == (2, 9, 48)
    assert mx.allclose(y, exact, rtol=1e-5, atol=1e-5).item()
    dy = mx.random.normal((2, 9, 48), key=mx.random.key(7))
    gx = mx.vjp(lambda x: fastext.bf16_linear(x, w), [x], [dy])[1][0]
    ref = dy @ w.astype(mx.float32)
    # the cotangent is rounded to bf16 too: within bf16's precision (8 bits of mantissa)
    assert (mx.abs(gx - ref).max() / mx.abs(ref).max()).item() < 1e-2


def test_training_losses_are_the_same_with_and_without_the_extension(home, ext, monkeypatch):
    path = create_tiny("fx")
    with_ext, t1 = _train(path)
    if ext is not None:
        assert {"fused C++ cross-entropy", "fused C++ attention"} <= set(t1.kernels)
    monkeypatch.setenv("FMSCRIPT_EXT", "off")
    fastext._state.clear()
    without, t2 = _train(path)
    assert not any("C++" in k for k in t2.kernels)
    assert with_ext[0] == pytest.approx(without[0], rel=1e-5)  # summation order only; later steps: as above
    assert with_ext == pytest.approx(without, rel=1e-4, abs=1e-6)


def test_bf16_base_weights_train_within_tolerance_of_float32(home, ext, tmp_path):
    path = create_tiny("fb")
    fp32, t32 = _train(path, steps=12)
    bf16, t16 = _train(path, steps=12, base_dtype="bf16")
    if not fastext.bf16_gemm():  # no bf16 GEMM on this CPU: the base stays float32, and the run says so
        assert t16.base_dtype == "float32" and bf16 == fp32
        return
    assert t16.base_dtype == "bfloat16" and any("bf16 base" in k for k in t16.kernels)
    weights = [v for k, v in __import__("mlx.utils", fromlist=["x"]).tree_flatten(t16.model.parameters())
               if not k.endswith(("lora_a", "lora_b")) and v.ndim == 2]
    assert weights and all(v.dtype == mx.bfloat16 for v in weights)
    assert bf16 != fp32  # the base really changed
    # Tolerance: bf16 keeps 8 bits of mantissa, so the first loss (same adapter, rounded base) is within 0.2 %;
    # training at a high learning rate then drifts apart, within 10 % per step and 5 % over the last four.
    assert bf16[0] == pytest.approx(fp32[0], rel=2e-3)
    assert bf16 == pytest.approx(fp32, rel=0.1)
    assert sum(bf16[-4:]) == pytest.approx(sum(fp32[-4:]), rel=0.05)
    assert bf16[-1] < 0.6 * bf16[0]  # and it learns
    # The adapter is the same file: float32 LoRA weights under the same names.
    a16 = mx.load(str(t16.write_adapter(tmp_path / "a16") / "adapters.safetensors"))
    a32 = mx.load(str(t32.write_adapter(tmp_path / "a32") / "adapters.safetensors"))
    assert sorted(a16) == sorted(a32) and all(v.dtype == mx.float32 for v in a16.values())


def test_a_fresh_build_is_owner_only_and_reused(home, tmp_path, monkeypatch):
    import stat

    if fastext._why_not_buildable() is not None:
        fastext._state.clear()
        assert fastext.load() is None and "not used" in fastext.status()
        return
    monkeypatch.setenv("FMSCRIPT_EXT_DIR", str(tmp_path / "ext"))
    fastext._state.clear()
    assert fastext.load() is not None, fastext.status()
    (folder,) = [p for p in (tmp_path / "ext").iterdir() if not p.name.startswith(".")]
    (so,) = folder.iterdir()
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700 and stat.S_IMODE(so.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "ext").stat().st_mode) & 0o077 == 0
    assert [p.name for p in (tmp_path / "ext").iterdir()] == [folder.name]  # no build folder left behind
    mtime = so.stat().st_mtime_ns
    fastext._state.clear()
    assert fastext.load() is not None and so.stat().st_mtime_ns == mtime  # the cached build, not a new one
    fastext._state.clear()


def test_base_dtype_parameter():
    assert parse_params({}).base_dtype == "float32"
    assert parse_params({"base_dtype": "BF16"}).base_dtype == "bfloat16"
    assert parse_params('{"base_dtype": "bfloat16"}').base_dtype == "bfloat16"
    with pytest.raises(ParameterError, match="base_dtype.*bfloat16, float32"):
        parse_params({"base_dtype": "int4"})
