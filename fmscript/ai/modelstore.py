"""Where models live and how a model name becomes files on disk.

A name is looked up in this order (conventions.md): an existing path, then ``models/<name>`` of the fmscript home,
then ``tuned/<name>``, then the Hugging Face hub through mlx-lm's loader (which fails offline: the error then
lists every place that was tried). Built-in names (``fmscript/tiny-chat``) are built on first use.

A tuned model is ``tuned/<name>``: a symbolic link to ``tuned/.store/<name>@<job id>/`` that holds
``adapter_config.json`` (mlx-lm's format), ``adapters.safetensors`` and ``fmscript_model.json`` (the pointer to
the base model). Replacing a tuned model swaps the link with one ``rename``, so a reader sees the old adapter or
the new one, never a half-written folder; folders whose names start with ``.`` are never listed.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from fmscript import home as fmhome
from fmscript.errors import (FMScriptError, E_FILE_MISSING, E_INVALID_PARAMETER, E_NOT_ENOUGH_MEMORY)

POINTER_FILE = "fmscript_model.json"
STORE = ".store"


class ModelNotFound(FMScriptError):
    """No model of that name on this machine (FileMaker's 'file missing', 100)."""

    code = E_FILE_MISSING


class NotEnoughMemory(FMScriptError):
    """Training or loading this model would not fit in the machine's memory (FileMaker error 7)."""

    code = E_NOT_ENOUGH_MEMORY


def models_root() -> Path:
    return fmhome.models_dir()


def tuned_root() -> Path:
    return fmhome.tuned_dir()


def check_model_name(name: str) -> str:
    """Reject names that could escape the home folder: at most one ``/``, no ``..``, no control characters."""
    if not isinstance(name, str) or not name.strip():
        raise FMScriptError("A model name is required.", code=E_INVALID_PARAMETER)
    if any(ord(c) < 32 or ord(c) == 127 for c in name) or "\\" in name:
        raise FMScriptError(f"The model name {name!r} holds a control character or a backslash.",
                            code=E_INVALID_PARAMETER)
    parts = name.split("/")
    if len(parts) > 2 or any(p in ("", ".", "..") or p.startswith(".") for p in parts):
        raise FMScriptError(f"The model name {name!r} is not valid: use 'name' or 'owner/name' "
                            "(one '/', no '..', no leading '.').", code=E_INVALID_PARAMETER)
    return name


@dataclass
class ResolvedModel:
    """What a model name stands for. ``base_path`` is None only for a hub name not downloaded yet."""

    name: str
    kind: str  # "path" | "base" | "tuned" | "hub"
    base_path: Path | None
    adapter_path: Path | None = None
    base_name: str | None = None
    tried: list[str] = field(default_factory=list)

    @property
    def cache_key(self) -> tuple:
        """Changes when a tuned model is replaced (the link points at a new folder)."""
        return (str(self.base_path), str(self.adapter_path.resolve()) if self.adapter_path else None)


def _is_model_folder(p: Path) -> bool:
    return p.is_dir() and (p / "config.json").is_file()


def _is_adapter_folder(p: Path) -> bool:
    return p.is_dir() and (p / "adapter_config.json").is_file() and (p / "adapters.safetensors").is_file()


def _looks_like_path(name: str) -> bool:
    return name.startswith(("/", "./", "../", "~")) or os.sep in name.replace("/", "") or \
        (len(name) > 1 and name[1] == ":")


def resolve_model(name: str, *, fetch: bool = False) -> ResolvedModel:
    """Turn a model name into folders. ``fetch=True`` lets a hub name be downloaded by mlx-lm's loader."""
    if not isinstance(name, str) or not name.strip():
        raise FMScriptError("A model name is required.", code=E_INVALID_PARAMETER)
    name = name.strip()
    tried: list[str] = []
    p = Path(name).expanduser()
    tried.append(str(p.resolve()) if not p.is_absolute() else str(p))
    if p.exists():
        if _is_adapter_folder(p):
            return _resolve_tuned(name, p, tried)
        if _is_model_folder(p):
            return ResolvedModel(name, "path", p.resolve(), tried=tried)
        raise ModelNotFound(f"The folder {str(p)!r} is not a model: it has no config.json (a base model) "
                            "and no adapter_config.json (a tuned model).")
    if not _looks_like_path(name):
        check_model_name(name)
        from fmscript.ai.tinymodel import ensure_builtin

        base = models_root() / name
        tried.append(str(base))
        if _is_model_folder(base):
            return ResolvedModel(name, "base", base, tried=tried)
        tuned = tuned_root() / name
        tried.append(str(tuned))
        if _is_adapter_folder(tuned):
            return _resolve_tuned(name, tuned, tried)
        built = ensure_builtin(name)
        if built is not None:
            return ResolvedModel(name, "base", built, tried=tried)
        cached = _hub_cached(name)
        if cached is not None:
            return ResolvedModel(name, "hub", cached, tried=tried)
        tried.append(f"the Hugging Face hub ({name})")
        if fetch:
            path = _hub_fetch(name, tried)
            return ResolvedModel(name, "hub", path, tried=tried)
        _hub_probe(name, tried)
        return ResolvedModel(name, "hub", None, tried=tried)
    raise ModelNotFound(_not_found_message(name, tried))


def _not_found_message(name: str, tried: list[str], reason: str = "") -> str:
    where = "; ".join(tried)
    msg = f"The model {name!r} was not found. Looked in: {where}."
    if reason:
        msg += f" The hub could not be reached ({reason})."
    msg += (" Put a Hugging Face model folder under the fmscript home's models/ folder, give its path, "
            "or build one with 'fmscript models create-tiny NAME'.")
    return msg


def _resolve_tuned(name: str, folder: Path, tried: list[str]) -> ResolvedModel:
    pointer = read_pointer(folder)
    base_name = pointer.get("base_model") if pointer else None
    base_path = pointer.get("base_path") if pointer else None
    if base_path and _is_model_folder(Path(base_path)):
        bp = Path(base_path)
    elif base_name:
        base = resolve_model(base_name)
        if base.kind == "tuned":
            raise FMScriptError(f"The tuned model {name!r} points at another tuned model {base_name!r}.")
        bp = base.base_path
        if bp is None:
            bp = _hub_fetch(base_name, base.tried)
    else:
        raise ModelNotFound(f"The tuned model {name!r} has no {POINTER_FILE} naming its base model.")
    return ResolvedModel(name, "tuned", bp, adapter_path=folder, base_name=base_name, tried=tried)


def write_pointer(folder: Path, *, base_model: str, base_path, job_id: str, fine_tuned_model: str,
                  **extra) -> Path:
    """Write a tuned model's pointer file (``fmscript_model.json``: its base model, the job, the final losses)."""
    import time

    data = {"base_model": base_model, "base_path": str(base_path), "job_id": job_id,
            "fine_tuned_model": fine_tuned_model, "created_at": int(time.time()), **extra}
    path = Path(folder) / POINTER_FILE
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path


def read_config(folder: Path) -> dict:
    """A model folder's ``config.json`` (empty when missing or unreadable)."""
    try:
        return json.loads((Path(folder) / "config.json").read_text())
    except (OSError, ValueError):
        return {}


def read_pointer(folder: Path) -> dict:
    try:
        return json.loads((Path(folder) / POINTER_FILE).read_text())
    except (OSError, ValueError):
        return {}


def _hub_cached(name: str) -> Path | None:
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(name, local_files_only=True))
    except Exception:
        return None


def _hub_probe(name: str, tried: list[str]) -> None:
    """Check quickly that the hub knows the name (fails fast offline), without downloading the weights."""
    reason = _hub_unreachable()
    if reason:
        raise ModelNotFound(_not_found_message(name, tried, reason))
    try:
        from huggingface_hub import hf_hub_download

        hf_hub_download(name, "config.json", etag_timeout=5)
    except Exception as e:  # offline, unknown repo, gated: all mean "not usable here"
        raise ModelNotFound(_not_found_message(name, tried, _short(e))) from None


def _hub_unreachable() -> str | None:
    """A reason the hub cannot be used now (offline mode, no DNS, no connection), found in a few seconds."""
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        return "HF_HUB_OFFLINE is set"
    import socket
    from urllib.parse import urlparse

    host = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname or "huggingface.co"
    try:
        with socket.create_connection((host, 443), timeout=3):
            return None
    except OSError as e:
        return f"no connection to {host}: {e.strerror or e}"


def _hub_fetch(name: str, tried: list[str]) -> Path:
    reason = _hub_unreachable()
    if reason:
        raise ModelNotFound(_not_found_message(name, tried, reason))
    try:
        from huggingface_hub import snapshot_download
        from mlx_lm.utils import DEFAULT_ALLOW_PATTERNS  # the files mlx-lm's loader fetches

        return Path(snapshot_download(name, allow_patterns=DEFAULT_ALLOW_PATTERNS))
    except Exception as e:
        raise ModelNotFound(_not_found_message(name, tried, _short(e))) from None


def _short(e: Exception) -> str:
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return text[:200]


# ---------------------------------------------------------------------------------------------- listing

def _dir_bytes(p: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(p):
        for f in files:
            try:
                total += os.path.getsize(os.path.join(root, f))
            except OSError:
                pass
    return total


def list_models() -> list[dict]:
    """Base models (``models/``) and tuned models (``tuned/``), sorted by name. Half-written folders are skipped."""
    out = []
    root = models_root()
    if root.is_dir():
        for d in sorted(root.iterdir()):
            if d.name.startswith("."):
                continue
            candidates = [d] if _is_model_folder(d) else \
                ([c for c in sorted(d.iterdir()) if not c.name.startswith(".") and _is_model_folder(c)]
                 if d.is_dir() else [])
            for c in candidates:
                out.append(_describe_base(c.relative_to(root).as_posix(), c))
    troot = tuned_root()
    if troot.is_dir():
        for d in sorted(troot.iterdir()):
            if d.name.startswith(".") or not _is_adapter_folder(d):
                continue
            out.append(_describe_tuned(d.name, d))
    return out


def _created(p: Path) -> int:
    try:
        return int(p.stat().st_mtime)
    except OSError:
        return 0


def _describe_base(name: str, p: Path) -> dict:
    cfg = {}
    try:
        cfg = json.loads((p / "config.json").read_text())
    except (OSError, ValueError):
        pass
    return {"id": name, "kind": "base", "path": str(p), "created": _created(p / "config.json"),
            "model_type": cfg.get("model_type"), "parameters": estimate_parameters(cfg),
            "bytes": _dir_bytes(p)}


def _describe_tuned(name: str, p: Path) -> dict:
    ptr = read_pointer(p)
    return {"id": name, "kind": "tuned", "path": str(p.resolve()), "created": int(ptr.get("created_at", 0) or
                                                                                  _created(p)),
            "base_model": ptr.get("base_model"), "job_id": ptr.get("job_id"), "bytes": _dir_bytes(p)}


def show_model(name: str) -> dict:
    """Everything known about one model: its description plus its config (base) or adapter config (tuned)."""
    r = resolve_model(name)
    if r.kind == "tuned":
        d = _describe_tuned(r.name, r.adapter_path)
        d["adapter_config"] = json.loads((r.adapter_path / "adapter_config.json").read_text())
        d["base_path"] = str(r.base_path)
        return d
    if r.base_path is None:
        return {"id": name, "kind": "hub", "path": None}
    d = _describe_base(name, r.base_path)
    d["kind"] = r.kind
    d["config"] = json.loads((r.base_path / "config.json").read_text())
    return d


def remove_model(name: str) -> dict:
    """Delete a tuned model (its link and folder) or a base model under ``models/``. Never a path outside the home."""
    check_model_name(name)
    t = tuned_root() / name
    if t.is_symlink() or _is_adapter_folder(t):
        target = t.resolve()
        if t.is_symlink():
            t.unlink()
        if target.is_dir() and tuned_root().resolve() in target.parents:
            shutil.rmtree(target, ignore_errors=True)
        return {"id": name, "object": "model", "deleted": True, "kind": "tuned"}
    b = models_root() / name
    if _is_model_folder(b):
        shutil.rmtree(b)
        return {"id": name, "object": "model", "deleted": True, "kind": "base"}
    raise ModelNotFound(f"There is no model {name!r} in {models_root()} or {tuned_root()}.")


def install_adapter(name: str, staged: Path, job_id: str) -> Path:
    """Publish a finished adapter folder as ``tuned/<name>`` with one atomic link swap; return the final folder.

    An older model of the same name stays readable until the swap, and its folder is removed after it.
    """
    troot = tuned_root()
    store = troot / STORE
    store.mkdir(parents=True, exist_ok=True)
    final = store / f"{name}@{job_id}"
    if final.exists():
        shutil.rmtree(final)
    os.replace(staged, final)
    link = troot / name
    old_target = link.resolve() if link.is_symlink() else None
    if link.exists() and not link.is_symlink():
        # A plain folder (copied in by hand): move it aside first; the name is briefly missing.
        aside = store / f".old-{name}@{job_id}"
        os.replace(link, aside)
        old_target = aside
    tmp_link = troot / f".link-{name}@{job_id}"
    if tmp_link.is_symlink() or tmp_link.exists():
        tmp_link.unlink()
    os.symlink(os.path.join(STORE, final.name), tmp_link)
    os.replace(tmp_link, link)
    if old_target is not None and old_target != final and old_target.is_dir() and store.resolve() in \
            old_target.resolve().parents:
        shutil.rmtree(old_target, ignore_errors=True)
    return final


# ---------------------------------------------------------------------------------------------- memory

def estimate_parameters(cfg: dict) -> int:
    """Parameter count of a decoder-only transformer from its config (0 when the config lacks the sizes)."""
    try:
        cfg = {**cfg.get("text_config", {}), **cfg}
        h = int(cfg["hidden_size"])
        L = int(cfg["num_hidden_layers"])
        inter = int(cfg.get("intermediate_size", 4 * h))
        v = int(cfg.get("vocab_size", 32000))
        heads = int(cfg.get("num_attention_heads", 1))
        kvh = int(cfg.get("num_key_value_heads", heads))
        hd = int(cfg.get("head_dim", h // heads))
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return 0
    attn = h * heads * hd * 2 + h * kvh * hd * 2
    mlp = 3 * h * inter
    emb = v * h * (1 if cfg.get("tie_word_embeddings", False) else 2)
    return L * (attn + mlp) + emb


def weights_bytes(path: Path) -> int:
    """Bytes of the weights on disk (safetensors), else estimated from the config."""
    files = list(Path(path).glob("*.safetensors"))
    if files:
        return sum(f.stat().st_size for f in files)
    try:
        cfg = json.loads((Path(path) / "config.json").read_text())
    except (OSError, ValueError):
        return 0
    per = 4 if str(cfg.get("torch_dtype", "")).endswith("32") else 2
    return estimate_parameters(cfg) * per


def available_memory() -> int:
    """Memory this process may still use, in bytes (psutil and the cgroup; ``FMSCRIPT_MEMORY_LIMIT`` overrides)."""
    from fmscript.ai.memory import available

    return available()[0]


def parse_bytes(text: str) -> int:
    t = text.strip().upper().rstrip("B")
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    if t and t[-1] in mult:
        return int(float(t[:-1]) * mult[t[-1]])
    return int(float(t))


def estimate_training_memory(path: Path, batch_size: int = 1, seq_len: int = 512) -> int:
    """Bytes LoRA training of ``path`` needs (see :mod:`fmscript.ai.memory`)."""
    from fmscript.ai.memory import estimate

    return estimate(Path(path), batch_size, seq_len).total


def check_training_memory(path: Path, batch_size: int = 1, name: str | None = None, *, params=None,
                          longest: int | None = None) -> int:
    """Refuse, before a job exists, a model whose training would not fit in memory. Returns the estimate.

    ``params`` (FineTuneParams) gives batch size, max_seq_length, lora_layers and rank; ``longest`` bounds the
    sequence length by the longest example (its UTF-8 bytes: a byte-level tokenizer never makes more tokens)."""
    from fmscript.ai.memory import check

    seq = int(getattr(params, "max_seq_length", 2048) or 2048)
    if longest:
        seq = min(seq, int(longest))
    return check(Path(path), name, batch_size=getattr(params, "batch_size", batch_size), seq_len=seq,
                 lora_layers=getattr(params, "lora_layers", 4), rank=getattr(params, "rank", 8)).total
