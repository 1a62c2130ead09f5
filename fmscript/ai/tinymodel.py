"""Build small llama-architecture models locally, because this project must run with no model hub.

``create_tiny`` writes a complete Hugging Face folder (``config.json``, ``model.safetensors``,
``tokenizer.json``, ``tokenizer_config.json`` with a chat template) that mlx-lm, transformers and PEFT all load.
Weights are random (seeded, so two builds are byte-identical); the tokenizer is a byte-level BPE trained on
a shipped corpus (or the user's), so any text, in any script, round-trips.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from fmscript.errors import E_FILE_MISSING, E_INVALID_PARAMETER, FMScriptError
from fmscript.home import private

#: Built-in base models: created under ``models/<name>`` on first use, so examples run on a fresh offline machine.
BUILTIN_MODELS = {
    "fmscript/tiny-chat": "tiny",
    "fmscript/small-chat": "small",
}

SIZES = {
    # hidden 64, 4 blocks: ~0.23M parameters; trains at thousands of tokens/s on a laptop CPU.
    "tiny": dict(hidden_size=64, num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=4,
                 intermediate_size=128, vocab_size=1024),
    # hidden 512, 8 blocks, vocab 4096: ~27.8M parameters (the size used by bench/ and perf-notes).
    "small": dict(hidden_size=512, num_hidden_layers=8, num_attention_heads=8, num_key_value_heads=8,
                  intermediate_size=1408, vocab_size=4096),
}

SPECIAL_TOKENS = ["<pad>", "<s>", "<|end|>", "<|system|>", "<|user|>", "<|assistant|>"]
EOS_TOKEN = "<|end|>"

# Role markers are single special tokens, so prompt masking cuts exactly at the assistant's first token.
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{% if message['role'] not in ['system', 'user', 'assistant'] %}"
    "{{ raise_exception('Unknown role: ' + message['role']) }}{% endif %}"
    "{{ '<|' + message['role'] + '|>\n' + message['content'] + '<|end|>\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}"
)

DEFAULT_CORPUS = Path(__file__).with_name("corpus.txt")


def _train_tokenizer(corpus_text: str, vocab_size: int):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, min_frequency=2, special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    # Lines as the iterator: deterministic for a given text.
    tok.train_from_iterator(corpus_text.splitlines(), trainer=trainer)
    return tok


def _init_weights(args: dict, seed: int) -> dict:
    """Random-normal weights (std 1/sqrt(fan in); embeddings 2/sqrt(hidden); norms 1) keyed like Hugging Face's LlamaForCausalLM (tied embeddings)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    h, inter, v = args["hidden_size"], args["intermediate_size"], args["vocab_size"]
    kv = h // args["num_attention_heads"] * args["num_key_value_heads"]

    def normal(*shape):
        # std 1/sqrt(fan_in): a random network that mixes tokens, so frozen layers carry information LoRA can use.
        return (rng.standard_normal(shape, dtype=np.float32) * (shape[-1] ** -0.5)).astype(np.float32)

    # Embeddings are tied to the output layer, which LoRA does not train: at the usual std 0.02 the largest logit
    # the model could ever produce is about 1, too flat to learn anything; 2/sqrt(h) gives logits of std ~2.
    w = {"model.embed_tokens.weight": (normal(v, h) * 2.0).astype(np.float32)}
    for i in range(args["num_hidden_layers"]):
        p = f"model.layers.{i}."
        w[p + "self_attn.q_proj.weight"] = normal(h, h)
        w[p + "self_attn.k_proj.weight"] = normal(kv, h)
        w[p + "self_attn.v_proj.weight"] = normal(kv, h)
        w[p + "self_attn.o_proj.weight"] = normal(h, h)
        w[p + "mlp.gate_proj.weight"] = normal(inter, h)
        w[p + "mlp.up_proj.weight"] = normal(inter, h)
        w[p + "mlp.down_proj.weight"] = normal(h, inter)
        w[p + "input_layernorm.weight"] = np.ones(h, np.float32)
        w[p + "post_attention_layernorm.weight"] = np.ones(h, np.float32)
    w["model.norm.weight"] = np.ones(h, np.float32)
    return w


def _write_safetensors(path: Path, tensors: dict) -> None:
    """A minimal safetensors writer (fp32 only), so building a model needs neither torch nor mlx."""
    import struct

    header, offset, blobs = {}, 0, []
    for name in sorted(tensors):
        arr = tensors[name]
        data = arr.tobytes()
        header[name] = {"dtype": "F32", "shape": list(arr.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header["__metadata__"] = {"format": "pt"}
    hb = json.dumps(header, separators=(",", ":")).encode()
    hb += b" " * (-len(hb) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        for b in blobs:
            f.write(b)


def read_corpus(corpus_path: str | os.PathLike | None = None) -> tuple[Path, str]:
    """(path, text) of the tokenizer corpus: the user's file or the shipped one; missing or empty is an error."""
    cpath = Path(corpus_path) if corpus_path else DEFAULT_CORPUS
    if not cpath.is_file():
        raise FMScriptError(f"The tokenizer corpus {str(cpath)!r} does not exist.", code=E_FILE_MISSING)
    text = cpath.read_text(encoding="utf-8", errors="replace")
    if not text.strip():
        raise FMScriptError(f"The tokenizer corpus {str(cpath)!r} is empty.", code=E_INVALID_PARAMETER)
    return cpath, text


def build_model_folder(dest: Path, size: str = "tiny", corpus_path: str | os.PathLike | None = None,
                       seed: int = 0) -> Path:
    """Write a complete model folder at ``dest`` (atomically: a temporary folder renamed into place)."""
    if size not in SIZES:
        raise FMScriptError(f"Unknown model size {size!r}: use one of {', '.join(SIZES)}.",
                            code=E_INVALID_PARAMETER)
    cpath, text = read_corpus(corpus_path)

    args = dict(SIZES[size])
    tok = _train_tokenizer(text, args["vocab_size"])
    ids = {t: tok.token_to_id(t) for t in SPECIAL_TOKENS}
    # The embedding keeps the nominal vocabulary size even when the corpus yields fewer merges.
    args["vocab_size"] = max(args["vocab_size"], tok.get_vocab_size())

    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=dest.parent))
    try:
        config = {
            "architectures": ["LlamaForCausalLM"], "model_type": "llama", **args,
            "hidden_act": "silu", "max_position_embeddings": 2048, "rms_norm_eps": 1e-5,
            "rope_theta": 10000.0, "tie_word_embeddings": True, "attention_bias": False, "mlp_bias": False,
            "torch_dtype": "float32", "bos_token_id": ids["<s>"], "eos_token_id": ids[EOS_TOKEN],
            "pad_token_id": ids["<pad>"], "initializer_range": round(args["hidden_size"] ** -0.5, 6),
            "fmscript": {"size": size, "seed": seed, "corpus": cpath.name},
        }
        (tmp / "config.json").write_text(json.dumps(config, indent=2) + "\n")
        (tmp / "generation_config.json").write_text(json.dumps(
            {"bos_token_id": ids["<s>"], "eos_token_id": ids[EOS_TOKEN], "pad_token_id": ids["<pad>"]}, indent=2) + "\n")
        tok.save(str(tmp / "tokenizer.json"))
        tconf = {
            "tokenizer_class": "PreTrainedTokenizerFast", "bos_token": "<s>", "eos_token": EOS_TOKEN,
            "pad_token": "<pad>", "unk_token": None, "add_bos_token": False, "add_eos_token": False,
            "clean_up_tokenization_spaces": False, "model_max_length": 2048, "chat_template": CHAT_TEMPLATE,
            "added_tokens_decoder": {str(ids[t]): {"content": t, "special": True, "lstrip": False, "rstrip": False,
                                                   "normalized": False, "single_word": False}
                                     for t in SPECIAL_TOKENS},
        }
        (tmp / "tokenizer_config.json").write_text(json.dumps(tconf, indent=2, ensure_ascii=False) + "\n")
        (tmp / "special_tokens_map.json").write_text(json.dumps(
            {"bos_token": "<s>", "eos_token": EOS_TOKEN, "pad_token": "<pad>"}, indent=2) + "\n")
        _write_safetensors(tmp / "model.safetensors", _init_weights(args, seed))
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest


def create_tiny(name: str, size: str = "tiny", corpus_path: str | os.PathLike | None = None,
                home: str | os.PathLike | None = None, seed: int = 0, overwrite: bool = True,
                arch: str = "llama") -> Path:
    """Build a model under ``models/<name>`` of the fmscript home (or of ``home``) and return its folder.

    ``arch``: ``llama`` (fmscript's own) or a family of :mod:`fmscript.ai.families` (``gemma``, ``qwen3``, …)."""
    from fmscript.ai.modelstore import check_model_name, models_root

    check_model_name(name)
    dest = (Path(home) / "models" if home else models_root()) / name
    if dest.exists() and not overwrite:
        return dest
    with private():  # a model folder of the home: owner-only
        if arch != "llama":
            from fmscript.ai.families import build_family_folder

            return build_family_folder(dest, arch, size=size, corpus_path=corpus_path, seed=seed)
        return build_model_folder(dest, size=size, corpus_path=corpus_path, seed=seed)


def ensure_builtin(name: str) -> Path | None:
    """Create a built-in model (``fmscript/tiny-chat``, ``fmscript/small-chat``) on first use; None for other names."""
    size = BUILTIN_MODELS.get(name)
    if size is None:
        return None
    from fmscript.ai.modelstore import models_root

    dest = models_root() / name
    if (dest / "config.json").is_file() and (dest / "model.safetensors").is_file():
        return dest
    with private():
        return build_model_folder(dest, size=size)
