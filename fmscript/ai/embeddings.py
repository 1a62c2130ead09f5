"""Embedding vectors: how FileMaker stores them, how they compare, and the Local engine's embedding models.

Storage (what Insert Embedding writes and Perform Semantic Find reads):

- **text**: a JSON array of numbers, ``[-0.06650865,0.0034368848,…]`` (each number the shortest text that reads
  back as the same 32-bit float, as in Claris's examples);
- **container**: the vector as little-endian IEEE-754 32-bit floats, 4 bytes a dimension, named
  :data:`CONTAINER_NAME`. Claris does not document the bytes of its container form; this one is the plain
  layout that NumPy, sqlite-vec and OpenAI's ``base64`` encoding share, so vectors travel without a conversion.

Comparison is cosine similarity; a semantic find over many records is one matrix-vector product over a float32
matrix read straight from the column (:func:`rank`), which is what keeps it within a small factor of a bare
NumPy brute force (``bench/bench_semantic.py``).

Local models (:func:`embed_local`):

- **decoder** models (Qwen3-Embedding style) through mlx-lm's architectures: the last token's final hidden state
  (the tokenizer's end-of-text token appended, as Qwen3-Embedding does), L2-normalised;
- **BERT-style sentence encoders** through ``mlx-embeddings`` (mean pooling over the attention mask,
  L2-normalised), when that package is installed.

A model folder says it is an embedding model in its ``config.json``: ``"fmscript": {"kind": "embedding"}``, a
sentence-transformers ``modules.json`` beside it, or an architecture that is not a ``…ForCausalLM``. Asking a
chat model for embeddings, or an embedding model to chat, is error 882 (Invalid AI request).
"""
from __future__ import annotations

import json
import threading
from collections import OrderedDict
from pathlib import Path

from fmscript.limits import json_loads
from fmscript.errors import E_AI_INVALID_REQUEST, E_INVALID_PARAMETER, FMScriptError

CONTAINER_NAME = "Embedding.fmvec"
_DTYPE = "<f4"


# -- storage ------------------------------------------------------------------------------------------------

def _np():
    import numpy as np

    return np


def vector_to_text(vec) -> str:
    """A vector as FileMaker's text form: a JSON array, each number as short as its 32-bit float allows."""
    np = _np()
    arr = np.asarray(vec, dtype=np.float32).ravel()
    return "[" + ",".join(str(x) for x in arr) + "]"


def vector_to_bytes(vec) -> bytes:
    """A vector as container bytes (little-endian float32)."""
    np = _np()
    return np.asarray(vec, dtype=_DTYPE).ravel().tobytes()


def vector_from_bytes(data: bytes, what: str = "the container"):
    np = _np()
    if len(data) == 0 or len(data) % 4:
        raise FMScriptError(f"{what} does not hold an embedding vector ({len(data)} bytes: a vector is 4 bytes "
                            "a dimension)", code=E_AI_INVALID_REQUEST)
    return np.frombuffer(data, dtype=_DTYPE).astype(np.float32)


def vector_from_text(text: str, what: str = "the text"):
    """A vector from its JSON-array text; anything else is error 882 naming what it was."""
    np = _np()
    t = (text or "").strip()
    try:
        values = json_loads(t) if t else None
    except json.JSONDecodeError as e:
        raise FMScriptError(f"{what} is not an embedding vector (a JSON array of numbers): {e.msg} at column "
                            f"{e.colno}", code=E_AI_INVALID_REQUEST) from None
    if (not isinstance(values, list) or not values
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)):
        raise FMScriptError(f"{what} is not an embedding vector (a JSON array of numbers)",
                            code=E_AI_INVALID_REQUEST)
    return np.asarray(values, dtype=np.float32)


def as_vector(value, what: str = "the value"):
    """A vector from bytes (container data) or text (a JSON array)."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return vector_from_bytes(bytes(value), what)
    return vector_from_text(value if isinstance(value, str) else str(value), what)


def cosine_similarity(a, b) -> float:
    """Cosine similarity of two vectors of the same dimension (0 when either is all zeros)."""
    np = _np()
    a = np.asarray(a, dtype=np.float32)
    b = np.asarray(b, dtype=np.float32)
    if a.shape != b.shape:
        raise FMScriptError(f"the two embedding vectors have different dimensions ({a.size} and {b.size})",
                            code=E_AI_INVALID_REQUEST)
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na == 0.0 or nb == 0.0:
        return 0.0
    return float(np.dot(a, b) / (na * nb))


# -- ranking ------------------------------------------------------------------------------------------------

#: Perform Semantic Find's Cosine similarity condition: its spellings and what each keeps.
CONDITIONS = {
    ">": "gt", "greater than": "gt", "gt": "gt",
    ">=": "ge", "≥": "ge", "greater than or equal": "ge", "greater than or equal to": "ge", "ge": "ge",
    "<": "lt", "less than": "lt", "lt": "lt",
    "<=": "le", "≤": "le", "less than or equal": "le", "less than or equal to": "le", "le": "le",
    "=": "eq", "equal": "eq", "equal to": "eq", "eq": "eq",
    "≠": "ne", "<>": "ne", "!=": "ne", "not equal": "ne", "not equal to": "ne", "ne": "ne",
}


def condition_of(text: str) -> str:
    key = " ".join((text or "").strip().casefold().split())
    if key not in CONDITIONS:
        raise FMScriptError(f"“{text}” is not a cosine similarity condition: use >, >=, <, <=, = or ≠ "
                            "(or their words: greater than, less than or equal to, …)", code=E_INVALID_PARAMETER)
    return CONDITIONS[key]


def stack(rows: list, what: str = "the target field"):
    """``(ids, matrix)`` from ``(record id, stored value)`` pairs (bytes or JSON text); empty values are
    skipped; a value that is no vector, or a dimension that differs from the others, is error 882 naming the
    record."""
    np = _np()
    rows = [r for r in rows if r[1] is not None and r[1] != "" and r[1] != b""]
    if not rows:
        return [], np.zeros((0, 0), dtype=np.float32)
    ids = [r[0] for r in rows]
    blobs = [r[1] for r in rows]
    if all(type(b) is bytes for b in blobs):
        sizes = set(map(len, blobs))
        if len(sizes) == 1 and not next(iter(sizes)) % 4:  # the fast path: one join, no loop in Python
            dim = next(iter(sizes)) // 4
            return ids, np.frombuffer(b"".join(blobs), dtype=_DTYPE).reshape(len(ids), dim)
    out, dim = [], None
    for rid, raw in rows:
        if isinstance(raw, (bytes, bytearray, memoryview)):
            v = vector_from_bytes(bytes(raw), f"{what} of record {rid}")
        else:
            v = vector_from_text(raw, f"{what} of record {rid}")
        if dim is None:
            dim = v.size
        elif v.size != dim:
            raise FMScriptError(f"{what} of record {rid} holds a vector of {v.size} dimensions, others hold {dim}: "
                                "embed every record with the same model", code=E_AI_INVALID_REQUEST)
        out.append(v)
    return ids, np.stack(out).astype(np.float32, copy=False)


def rank(query, ids: list, matrix, count: int | None = 10, condition: str | None = None,
         threshold: float | None = None) -> list[tuple[int, float]]:
    """The records most similar to ``query``: ``[(id, similarity), …]`` in descending similarity (ties by id),
    at most ``count`` (None: all), keeping only those that meet ``condition`` against ``threshold``."""
    np = _np()
    if not ids:
        return []
    q = np.asarray(query, dtype=np.float32).ravel()
    if q.size != matrix.shape[1]:
        raise FMScriptError(f"the query vector has {q.size} dimensions, the stored vectors {matrix.shape[1]}: "
                            "embed the query with the model that embedded the records", code=E_AI_INVALID_REQUEST)
    norms = np.sqrt(np.einsum("ij,ij->i", matrix, matrix))
    qn = float(np.linalg.norm(q))
    with np.errstate(divide="ignore", invalid="ignore"):
        sims = (matrix @ q) / (norms * qn if qn else 1.0)
    sims = np.where(np.isfinite(sims), sims, 0.0).astype(np.float32)
    if qn == 0.0:
        sims[:] = 0.0
    idx = np.arange(len(ids))
    if condition is not None and threshold is not None:
        t = np.float32(threshold)
        keep = {"gt": sims > t, "ge": sims >= t, "lt": sims < t, "le": sims <= t, "eq": np.isclose(sims, t),
                "ne": ~np.isclose(sims, t)}[condition]
        idx = idx[keep]
    if count is not None and 0 <= count < idx.size:
        # the best `count` in linear time, then sorted: a full sort of 100,000 similarities is the slow part
        part = idx[np.argpartition(-sims[idx], count - 1)[:count]] if count else idx[:0]
        idx = part
    order = idx[np.lexsort((np.asarray(ids)[idx], -sims[idx]))]
    return [(ids[i], float(sims[i])) for i in order.tolist()]


# -- local models -------------------------------------------------------------------------------------------

_CACHE: "OrderedDict[tuple, tuple]" = OrderedDict()
_LOCK = threading.RLock()


def model_kind(folder: Path) -> str:
    """``"embedding"`` or ``"chat"`` for a model folder (see the module's docstring)."""
    try:
        cfg = json.loads((Path(folder) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "chat"
    own = cfg.get("fmscript") if isinstance(cfg.get("fmscript"), dict) else {}
    if own.get("kind") in ("embedding", "chat"):
        return own["kind"]
    if (Path(folder) / "modules.json").is_file():
        return "embedding"
    archs = cfg.get("architectures") or []
    if archs and not any(str(a).endswith(("ForCausalLM", "ForConditionalGeneration")) for a in archs):
        return "embedding"
    return "chat"


def encoder_family(folder: Path) -> str:
    """``"bert"`` for an encoder (mlx-embeddings), ``"decoder"`` for a model mlx-lm runs."""
    try:
        cfg = json.loads((Path(folder) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "decoder"
    return "bert" if cfg.get("model_type") in ("bert", "xlm-roberta", "modernbert") else "decoder"


def require_kind(resolved, wanted: str, model_name: str) -> None:
    """Error 882 when a chat model is asked for embeddings, or an embedding model to chat."""
    if resolved.base_path is None:
        return
    kind = model_kind(resolved.base_path)
    if kind != wanted:
        if wanted == "embedding":
            raise FMScriptError(f"“{model_name}” is a text generation model, not an embedding model: name an "
                                "embedding model (fmscript models create-tiny --kind embedding builds one)",
                                code=E_AI_INVALID_REQUEST)
        raise FMScriptError(f"“{model_name}” is an embedding model: it makes vectors, not answers; use it with "
                            "Insert Embedding or GetEmbedding, and a text generation model here",
                            code=E_AI_INVALID_REQUEST)


def _load(resolved):
    key = resolved.cache_key
    with _LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
        from fmscript.ai import blas

        blas.load_into_this_process()
        family = encoder_family(resolved.base_path)
        if family == "bert":
            try:
                from mlx_embeddings.utils import load
            except ImportError:
                raise FMScriptError("BERT-style embedding models need the mlx-embeddings package "
                                    "(pip install 'fmscript[bert]')", code=E_AI_INVALID_REQUEST) from None
            model, tok = load(str(resolved.base_path))
        else:
            model, tok = _load_decoder(Path(resolved.base_path))
        model.eval()
        _CACHE[key] = (family, model, tok)
        while len(_CACHE) > 2:
            _CACHE.popitem(last=False)
        return _CACHE[key]


def _load_decoder(path: Path):
    """mlx-lm's model and tokenizer for a decoder embedding model. Qwen3-Embedding and its kind are published as
    the bare base model (``layers.0…``, ``embed_tokens`` without the ``model.`` prefix of a causal LM): mlx-lm
    builds the architecture, and the weights are given the prefix before they are loaded."""
    from mlx_lm.utils import load

    try:
        return load(str(path))
    except ValueError as first:
        import glob

        import mlx.core as mx
        from mlx.utils import tree_flatten
        from mlx_lm.utils import load_model, load_tokenizer

        model, _ = load_model(path, lazy=True, strict=False)
        weights = {}
        for wf in glob.glob(str(path / "model*.safetensors")):
            weights.update(mx.load(wf))
        if not weights or any(k.startswith("model.") for k in weights):
            raise first
        weights = {("model." + k if not k.startswith("lm_head") else k): v for k, v in weights.items()}
        weights = model.sanitize(weights) if hasattr(model, "sanitize") else weights
        wanted = {k for k, _ in tree_flatten(model.parameters()) if not k.startswith("lm_head")}
        missing = sorted(wanted - set(weights))
        if missing:
            raise FMScriptError(f"the embedding model in {path} lacks weights for {missing[0]} (and "
                                f"{len(missing) - 1} more)", code=E_AI_INVALID_REQUEST) from None
        model.load_weights([(k, v) for k, v in weights.items() if k in wanted], strict=False)
        mx.eval(model.parameters())
        return model, load_tokenizer(path)


def _ids(tok, text: str) -> list[int]:
    inner = getattr(tok, "_tokenizer", tok)
    return list(inner.encode(text, add_special_tokens=True) if hasattr(inner, "encode") else inner(text)["input_ids"])


def _limit(ids: list[int], max_tokens: int, truncate: bool, i: int) -> list[int]:
    if len(ids) > max_tokens and not truncate:
        raise FMScriptError(f"input {i + 1} has {len(ids)} tokens; the model takes at most {max_tokens} (turn on "
                            "TruncateEnabled to cut it)", code=E_AI_INVALID_REQUEST)
    return ids[:max_tokens]


def _decoder_vectors(model, tok, texts: list[str], max_tokens: int, truncate: bool = True):
    import mlx.core as mx

    np = _np()
    eos = getattr(tok, "eos_token_id", None)
    out = []
    for i, text in enumerate(texts):
        ids = _limit(_ids(tok, text), max_tokens - 1, truncate, i)
        if eos is not None and (not ids or ids[-1] != eos):
            ids.append(eos)  # the pooled token: Qwen3-Embedding appends <|endoftext|>
        if not ids:
            ids = [0]
        hidden = model.model(mx.array([ids]))  # the final, normalised hidden states of mlx-lm's decoder
        vec = np.array(hidden[0, -1].astype(mx.float32))
        n = float(np.linalg.norm(vec))
        out.append(vec / n if n else vec)
    return out


def _bert_vectors(model, tok, texts: list[str], max_tokens: int, truncate: bool = True):
    import mlx.core as mx

    np = _np()
    out = []
    for i, text in enumerate(texts):
        ids = _limit(_ids(tok, text), max_tokens, truncate, i) or [0]
        arr = mx.array([ids])
        res = model(arr, attention_mask=mx.ones(arr.shape))
        out.append(np.array(res.text_embeds[0].astype(mx.float32)))
    return out


def context_length(folder: Path) -> int:
    """The most tokens the model takes (``max_position_embeddings``; 512 when the config does not say)."""
    try:
        cfg = json.loads((Path(folder) / "config.json").read_text(encoding="utf-8"))
        return int(cfg.get("max_position_embeddings") or 512)
    except (OSError, ValueError, TypeError):
        return 512


def embed_local(model_name: str, texts: list[str], max_tokens: int | None = None, truncate: bool = True):
    """Vectors (float32 NumPy arrays, L2-normalised) for ``texts`` from a local embedding model.

    Each input is cut to ``max_tokens`` (at most the model's context length); with ``truncate`` False an input
    longer than the model's context length is error 882 instead."""
    from fmscript.ai import modelstore

    resolved = modelstore.resolve_model(model_name, fetch=True)
    require_kind(resolved, "embedding", model_name)
    family, model, tok = _load(resolved)
    limit = context_length(resolved.base_path)
    limit = min(limit, max_tokens) if max_tokens and truncate else limit
    with _LOCK:  # one embedding at a time per process: the loaded model is shared
        if family == "bert":
            return _bert_vectors(model, tok, texts, limit, truncate)
        return _decoder_vectors(model, tok, texts, limit, truncate)


def count_tokens(model_name: str, text: str) -> int:
    from fmscript.ai import modelstore

    resolved = modelstore.resolve_model(model_name, fetch=True)
    _, _, tok = _load(resolved)
    return len(_ids(tok, text))


def decode_tokens(model_name: str, ids: list[int]) -> str:
    """Token ids (OpenAI lets ``input`` be them) back to text with the model's tokenizer."""
    from fmscript.ai import modelstore

    resolved = modelstore.resolve_model(model_name, fetch=True)
    _, _, tok = _load(resolved)
    inner = getattr(tok, "_tokenizer", tok)
    try:
        return inner.decode([int(i) for i in ids])
    except (TypeError, ValueError, OverflowError) as e:
        raise FMScriptError(f"the token ids are not the model's: {e}", code=E_INVALID_PARAMETER) from None
