"""``fmscript models quantize NAME --bits 4|8``: a quantized copy of a base model, for QLoRA.

Why mlx-lm's own ``convert``: its quantized folder (``config.json`` with a ``quantization`` block, packed weights
with scales and biases) is what mlx-lm's loader, the trainer (LoRA over ``QuantizedLinear`` layers: the frozen base
stays 4 or 8 bits, only the adapters are fp32) and fuse read. Layers whose input size does not divide into the
group size stay unquantized (mlx-lm's rule).
"""
from __future__ import annotations

import contextlib
import io
import shutil
import tempfile
from pathlib import Path

from fmscript.errors import E_INVALID_PARAMETER, FMScriptError
from fmscript.home import private

BITS = (4, 8)


def default_name(name: str, bits: int) -> str:
    return f"{name}-{bits}bit"


def quantize(name: str, bits: int = 4, group_size: int = 64, out: str | None = None,
             overwrite: bool = False) -> Path:
    """Write ``models/<out>`` (default ``<name>-<bits>bit``), the base model ``name`` quantized; return it."""
    from fmscript.ai import modelstore

    if bits not in BITS:
        raise FMScriptError(f"Quantization takes 4 or 8 bits, not {bits}.", code=E_INVALID_PARAMETER)
    if group_size not in (32, 64, 128):
        raise FMScriptError(f"The group size is 32, 64 or 128, not {group_size}.", code=E_INVALID_PARAMETER)
    src = modelstore.resolve_model(name, fetch=True)
    if src.kind == "tuned":
        raise FMScriptError(f"{name!r} is a tuned model: quantize its base model, or fuse it first "
                            "('fmscript models fuse').", code=E_INVALID_PARAMETER)
    cfg = modelstore.read_config(src.base_path)
    if "quantization" in cfg or "quantization_config" in cfg:
        raise FMScriptError(f"The model {name!r} is already quantized.", code=E_INVALID_PARAMETER)
    out = modelstore.check_model_name(out or default_name(name, bits))
    dest = modelstore.models_root() / out
    if dest.exists() and not overwrite:
        raise FMScriptError(f"A model named {out!r} already exists in {dest}.", code=E_INVALID_PARAMETER)
    from mlx_lm.convert import convert

    with private():
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-quant-", dir=dest.parent))
        target = tmp / "model"
        try:
            with contextlib.redirect_stdout(io.StringIO()):  # mlx-lm's [INFO] lines
                convert(str(src.base_path), str(target), quantize=True, q_bits=bits, q_group_size=group_size)
            (target / "README.md").unlink(missing_ok=True)  # mlx-lm's model card names a hub repo
            if dest.exists():
                shutil.rmtree(dest)
            target.rename(dest)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return dest
