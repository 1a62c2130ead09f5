"""``fmscript models fuse NAME``: a tuned model (base + adapter) merged into one standalone Hugging Face folder.

Why: other servers (transformers, vLLM, llama.cpp, Ollama) want a plain model, not fmscript's adapter plus a
pointer. The LoRA update ``scale · B·A`` is added into each base weight (mlx-lm's ``LoRALinear.fuse``), the rest is
mlx-lm's own ``save`` (safetensors shards keyed like the family's Hugging Face checkpoints, ``config.json``, the
tokenizer with its chat template). A quantized base stays quantized unless ``dequantize`` (which transformers and
GGUF need); ``gguf`` also writes ``model.gguf`` through mlx-lm, which supports llama and mistral models (fp16).
"""
from __future__ import annotations

import contextlib
import io
import shutil
import tempfile
from pathlib import Path

from fmscript.errors import E_INVALID_PARAMETER, FMScriptError
from fmscript.home import private

#: The model types mlx-lm's GGUF writer knows.
GGUF_TYPES = ("llama", "mistral", "mixtral")


def default_name(name: str) -> str:
    return f"{name}-fused"


def fuse(name: str, out: str | None = None, dequantize: bool = False, gguf: bool = False,
         overwrite: bool = False) -> Path:
    """Write ``models/<out>`` (default ``<name>-fused``): the tuned model ``name`` merged; return the folder."""
    from fmscript.ai import modelstore

    r = modelstore.resolve_model(name, fetch=True)
    if r.kind != "tuned":
        raise FMScriptError(f"{name!r} is not a tuned model: fuse merges a fine-tuned adapter into its base model.",
                            code=E_INVALID_PARAMETER)
    cfg = modelstore.read_config(r.base_path)
    quantized = "quantization" in cfg or "quantization_config" in cfg
    if gguf and cfg.get("model_type") not in GGUF_TYPES:
        raise FMScriptError(f"GGUF export supports {', '.join(GGUF_TYPES)} models; {name!r} is a "
                            f"{cfg.get('model_type')!r} model.", code=E_INVALID_PARAMETER)
    if gguf and quantized and not dequantize:
        raise FMScriptError("GGUF export needs a de-quantized model: add --dequantize.", code=E_INVALID_PARAMETER)
    out = modelstore.check_model_name(out or default_name(name))
    dest = modelstore.models_root() / out
    if dest.exists() and not overwrite:
        raise FMScriptError(f"A model named {out!r} already exists in {dest}.", code=E_INVALID_PARAMETER)

    from mlx.utils import tree_flatten, tree_unflatten
    from mlx_lm.utils import dequantize_model, load, save

    model, tokenizer, config = load(str(r.base_path), adapter_path=str(r.adapter_path.resolve()),
                                    return_config=True)
    fused = [(n, m.fuse(dequantize=dequantize)) for n, m in model.named_modules() if hasattr(m, "fuse")]
    if fused:
        model.update_modules(tree_unflatten(fused))
    if dequantize:
        model = dequantize_model(model)
        config.pop("quantization", None)
        config.pop("quantization_config", None)
    with private():
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-fuse-", dir=dest.parent))
        target = tmp / "model"
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                save(target, str(r.base_path), model, tokenizer, config, donate_model=False)
                if gguf:
                    from mlx_lm.gguf import convert_to_gguf

                    convert_to_gguf(target, dict(tree_flatten(model.parameters())), config,
                                    str(target / "model.gguf"))
            (target / "README.md").unlink(missing_ok=True)  # mlx-lm's model card names a hub repo we do not have
            if dest.exists():
                shutil.rmtree(dest)
            target.rename(dest)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return dest
