"""How much memory a LoRA job needs and how much this process may use, so a job that cannot fit is refused before
it exists (FileMaker error 7) instead of being killed by the system half-way.

Why these parts: the frozen base is read at its stored size (a 4-bit model is a quarter of its fp16 self, so
quantization counts through the safetensors sizes); only the adapters carry gradients and AdamW's two moments; the
backward pass keeps the activations of the LoRA blocks only (frozen blocks before the first adapter need no
gradient), and those grow with batch × sequence length, the attention scores with its square; the logits with the
vocabulary. What there is: psutil's available memory, lowered by the cgroup's limit (containers, systemd slices)
when that leaves less.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

GiB = 1 << 30
RUNTIME_BYTES = 256 << 20  # interpreter, mlx, tokenizer, compiled graphs


@dataclass
class Estimate:
    """Bytes a job needs, by part, and the shape it was computed for."""

    weights: int
    lora: int
    activations: int
    logits: int
    runtime: int
    tokens: int
    batch_size: int
    seq_len: int
    bits: int | None

    @property
    def total(self) -> int:
        return self.weights + self.lora + self.activations + self.logits + self.runtime

    def describe(self) -> str:
        w = f"weights {self.weights / GiB:.1f} GiB" + (f" at {self.bits} bits" if self.bits else "")
        return (f"{w}, LoRA {self.lora / GiB:.2f} GiB, activations {self.activations / GiB:.1f} GiB and logits "
                f"{self.logits / GiB:.1f} GiB for batch {self.batch_size} × {self.seq_len} tokens")


def _config(path: Path) -> dict:
    try:
        cfg = json.loads((Path(path) / "config.json").read_text())
    except (OSError, ValueError):
        return {}
    return {**cfg.get("text_config", {}), **cfg}


def weights_bytes(path: Path, cfg: dict) -> int:
    files = list(Path(path).glob("*.safetensors"))
    if files:
        return sum(f.stat().st_size for f in files)
    from fmscript.ai.modelstore import estimate_parameters

    per = 4 if str(cfg.get("torch_dtype", "")).endswith("32") else 2
    q = cfg.get("quantization") or cfg.get("quantization_config") or {}
    if q.get("bits"):
        per = q["bits"] / 8 * 1.25  # scales and biases per group
    return int(estimate_parameters(cfg) * per)


def estimate(path: Path, batch_size: int = 1, seq_len: int = 2048, lora_layers: int = 4, rank: int = 8) -> Estimate:
    """A deliberately generous estimate of LoRA training memory for the model folder ``path``."""
    cfg = _config(path)
    try:
        h, L = int(cfg["hidden_size"]), int(cfg["num_hidden_layers"])
        v = int(cfg.get("vocab_size", 32000))
        inter = int(cfg.get("intermediate_size", 4 * h))
        heads = int(cfg.get("num_attention_heads", max(1, h // 128)))
        kvh = int(cfg.get("num_key_value_heads", heads))
        hd = int(cfg.get("head_dim") or h // heads)
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        h, L, v, inter, heads, kvh, hd = 4096, 32, 32000, 11008, 32, 32, 128
    q = cfg.get("quantization") or cfg.get("quantization_config") or {}
    bits = q.get("bits") if isinstance(q, dict) else None
    act = 4 if bits or str(cfg.get("torch_dtype", "float32")).endswith("32") else 2
    n = max(0, min(lora_layers, L))
    tokens = batch_size * seq_len
    # LoRA on q, k, v, o, gate, up, down of n blocks: rank × (in + out) each; weight, gradient, two moments (fp32).
    shapes = [(h, heads * hd), (h, kvh * hd), (h, kvh * hd), (heads * hd, h), (h, inter), (h, inter), (inter, h)]
    lora = n * sum(rank * (i + o) for i, o in shapes) * 4 * 4
    per_block = tokens * (10 * h + 4 * inter + 2 * (heads + 2 * kvh) * hd) * act \
        + batch_size * heads * seq_len * seq_len * act * 2  # attention scores and their softmax
    activations = max(n, 1) * per_block
    logits = tokens * v * 4 * 3  # fp32 logits, softmax, gradient
    return Estimate(weights_bytes(path, cfg), lora, activations, logits, RUNTIME_BYTES, tokens, batch_size,
                    seq_len, bits)


# ---------------------------------------------------------------------------------------------- what there is

def _read_int(p: Path) -> int | None:
    try:
        text = p.read_text().strip()
    except OSError:
        return None
    if not text or text == "max":
        return None
    try:
        return int(text)
    except ValueError:
        return None


def cgroup_room(root: str | os.PathLike = "/sys/fs/cgroup", self_cgroup: str | os.PathLike = "/proc/self/cgroup"):
    """Bytes the cgroup (v2, or v1's memory controller) still lets this process use, or None when unlimited.

    v2: the smallest ``memory.max - memory.current`` from this process's cgroup up to the root."""
    root = Path(root)
    rel = ""
    try:
        for line in Path(self_cgroup).read_text().splitlines():
            parts = line.split(":", 2)
            if len(parts) == 3 and parts[0] == "0" and parts[1] == "":
                rel = parts[2].strip().lstrip("/")
    except OSError:
        pass
    room = None
    if (root / "cgroup.controllers").exists() or (root / "memory.max").exists() or \
            (rel and (root / rel / "memory.max").exists()):
        p = root / rel if rel else root
        while True:
            limit, used = _read_int(p / "memory.max"), _read_int(p / "memory.current")
            if limit is not None:
                left = limit - (used or 0)
                room = left if room is None else min(room, left)
            if p == root or root not in p.parents:
                break
            p = p.parent
        return room
    limit = _read_int(root / "memory" / "memory.limit_in_bytes")
    if limit is not None and limit < (1 << 60):  # v1 writes a huge number for "no limit"
        return limit - (_read_int(root / "memory" / "memory.usage_in_bytes") or 0)
    return None


def available(root: str | os.PathLike = "/sys/fs/cgroup",
              self_cgroup: str | os.PathLike = "/proc/self/cgroup") -> tuple[int, str]:
    """(bytes this process may still use, where that figure comes from)."""
    env = os.environ.get("FMSCRIPT_MEMORY_LIMIT")
    if env:
        from fmscript.ai.modelstore import parse_bytes

        return parse_bytes(env), "FMSCRIPT_MEMORY_LIMIT"
    import psutil

    have, source = int(psutil.virtual_memory().available), "available memory"
    room = cgroup_room(root, self_cgroup)
    if room is not None and room < have:
        have, source = max(room, 0), "the cgroup's memory limit"
    return have, source


def check(path: Path, name: str | None = None, batch_size: int = 1, seq_len: int = 2048, lora_layers: int = 4,
          rank: int = 8) -> Estimate:
    """Refuse (NotEnoughMemory, error 7) a job whose estimate exceeds what there is; returns the estimate."""
    from fmscript.ai.modelstore import NotEnoughMemory

    est = estimate(path, batch_size, seq_len, lora_layers, rank)
    have, source = available()
    if est.total > have:
        raise NotEnoughMemory(
            f"The model {name or str(path)!r} needs about {est.total / GiB:.1f} GiB to fine-tune "
            f"({est.describe()}) but only {have / GiB:.1f} GiB is available ({source}): choose a smaller or "
            "quantized base model ('fmscript models quantize'), a smaller batch_size or max_seq_length, "
            "or fewer lora_layers.")
    return est
