"""Vectorisable exp, SiLU and cross-entropy for mlx's CPU back end.

Why: on Linux CPUs, mlx evaluates ``exp`` (and so sigmoid, SiLU, softmax, log-sum-exp) one scalar at a time,
about 20 ns per element here (a multiply takes 0.15 ns): in LoRA training of a 28M model a quarter of every step
went to SiLU alone. This ``exp`` is built from multiplies, adds and a bit shift, which mlx vectorises and
``mx.compile`` fuses: a degree-7 polynomial on [-ln2/2, ln2/2] times 2**n, accurate to about 1 ulp of float32
(relative error < 2e-7), with the exact derivative (the output itself) as its gradient. Losses agree with
mlx's own functions to float32 rounding. Used only on the CPU back end; GPUs keep mlx's kernels.
"""
from __future__ import annotations

import math

import mlx.core as mx
import mlx.nn as nn

_LOG2E = 1.0 / math.log(2.0)
# ln 2 in two parts (Cody-Waite): n * _LN2_HI is exact in float32, so r = x - n ln2 keeps its precision.
_LN2_HI = 0.693145751953125
_LN2_LO = 1.428606765330187e-06
# 1/k! for k = 7..0: Taylor series of e**r; |r| <= ln2/2 makes the truncation error < 5e-9.
_COEFFS = [1.0 / math.factorial(k) for k in range(7, -1, -1)]


# Adding then subtracting 1.5 * 2**23 rounds a float32 of magnitude < 2**22 to the nearest integer. Unlike
# ``mx.floor`` (and ``mx.clip``'s NaN-aware min/max), it vectorises in mlx's CPU kernels, which are built without
# SSE4.1: the floor alone was a sixth of all elementwise time in a training step.
_ROUND = 12582912.0


@mx.custom_function
def exp(x):
    x = mx.where(x < -87.0, -87.0, mx.where(x > 88.0, 88.0, x))
    if x.dtype == mx.float32:
        n = (x * _LOG2E + _ROUND) - _ROUND
    else:  # 1.5 * 2**23 does not fit half precision
        n = mx.floor(x * _LOG2E + 0.5)
    r = (x - n * _LN2_HI) - n * _LN2_LO
    p = _COEFFS[0]
    for c in _COEFFS[1:]:
        p = p * r + c
    two_n = mx.view(mx.left_shift((n.astype(mx.int32) + 127), 23), mx.float32)
    return p * two_n


@exp.vjp
def _exp_vjp(primals, cotangent, output):
    return cotangent * output


@mx.custom_function
def silu(x):
    return x / (1.0 + exp(-x))


@silu.vjp
def _silu_vjp(primals, cotangent, output):
    # Recomputed from x, so the backward pass keeps nothing but x (which the matmul keeps anyway).
    x = primals[0] if isinstance(primals, (list, tuple)) else primals
    s = 1.0 / (1.0 + exp(-x))
    return cotangent * (s * (1.0 + x * (1.0 - s)))


def swiglu(gate, x):
    return silu(gate) * x


def cross_entropy(logits, targets):
    """Per-token cross-entropy (like ``nn.losses.cross_entropy``), with the fast exp in the log-sum-exp."""
    m = mx.stop_gradient(logits.max(axis=-1, keepdims=True))
    lse = mx.log(exp(logits - m).sum(axis=-1)) + m.squeeze(-1)
    picked = mx.take_along_axis(logits, targets[..., None], axis=-1).squeeze(-1)
    return lse - picked


def softmax(x, axis=-1):
    e = exp(x - mx.stop_gradient(x.max(axis=axis, keepdims=True)))
    return e / e.sum(axis=axis, keepdims=True)


#: Copy the (B, H, T, D) head views of q, k, v once before attention (bench/README.md has the A/B figures).
CONTIGUOUS_HEADS = True


def make_sdpa(original, fused_causal=None):
    """mlx-lm's ``scaled_dot_product_attention`` with the softmax on :func:`exp`, for training without a cache
    (no KV cache, no sinks, same number of query and key heads); anything else goes to ``original``.
    ``fused_causal(q, k, v, scale)``, when given, computes float32 causal attention in one kernel (fastext.py)."""

    def scaled_dot_product_attention_fast(queries, keys, values, cache, scale, mask, sinks=None):
        if cache is not None or sinks is not None or queries.shape[1] != keys.shape[1] or \
                not (mask is None or isinstance(mask, str) and mask == "causal"):
            return original(queries, keys, values, cache=cache, scale=scale, mask=mask, sinks=sinks)
        if fused_causal is not None and mask == "causal" and queries.shape[2] == keys.shape[2] and \
                queries.dtype == keys.dtype == values.dtype == mx.float32:
            return fused_causal(queries, keys, values, scale)
        if CONTIGUOUS_HEADS:  # one copy per head layout instead of one inside every matmul that reads a view
            queries, keys, values = mx.contiguous(queries), mx.contiguous(keys), mx.contiguous(values)
        scores = (queries * scale) @ keys.swapaxes(-1, -2)
        if mask == "causal":
            T, S = scores.shape[-2], scores.shape[-1]
            allowed = mx.arange(S)[None, :] <= (mx.arange(T)[:, None] + (S - T))
            scores = mx.where(allowed, scores, mx.array(-1e9, scores.dtype))
        return softmax(scores, axis=-1).astype(values.dtype) @ values

    scaled_dot_product_attention_fast.fmscript_fast = True
    return scaled_dot_product_attention_fast


def wanted() -> bool:
    """Only where mlx runs on the CPU (no Metal, no CUDA device)."""
    try:
        return mx.default_device() == mx.cpu
    except Exception:
        return False


def patch_model_module(model, fused_causal=None) -> bool:
    """Route the model module's SwiGLU and attention through the fast exp (only mlx-lm's shared helpers), and
    causal float32 attention through ``fused_causal`` when given (see :func:`make_sdpa`)."""
    import sys

    mod = sys.modules.get(type(model).__module__)
    if mod is None:
        return False
    changed = False
    if getattr(mod, "swiglu", None) is not None and getattr(mod.swiglu, "__name__", "") != "swiglu_fast":
        mod.swiglu = swiglu_fast
        changed = True
    sdpa = getattr(mod, "scaled_dot_product_attention", None)
    if sdpa is not None:
        original = getattr(sdpa, "fmscript_original", sdpa)  # re-patching replaces the earlier choice
        if not getattr(sdpa, "fmscript_fast", False) or getattr(sdpa, "fmscript_fused", None) is not fused_causal:
            fast = make_sdpa(original, fused_causal)
            fast.fmscript_original, fast.fmscript_fused = original, fused_causal
            mod.scaled_dot_product_attention = fast
            changed = True
    return changed


def swiglu_fast(gate, x):
    return swiglu(gate, x)
