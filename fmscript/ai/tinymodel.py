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
#: Built-in embedding models (``models create-tiny --kind embedding`` builds the same): a decoder with
#: last-token pooling (Qwen3-Embedding style) and a BERT-style sentence encoder (mean pooling).
BUILTIN_EMBEDDING_MODELS = {
    "fmscript/tiny-embed": "decoder",
    "fmscript/tiny-bert": "bert",
}
#: BERT-style encoder sizes (mlx-embeddings' ``bert`` architecture).
BERT_SIZES = {"tiny": dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128,
                           vocab_size=1024, max_position_embeddings=512, type_vocab_size=2)}

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
# Tools (Hermes/Qwen style, the form fmscript.ai.tools parses back): the definitions in a system block, a call as
# <tool_call>{"name": …, "arguments": …}</tool_call>, a result as a user turn inside <tool_response>. Without tools
# the text is what it always was, so adapters trained before stay valid.
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% if tools %}{{ '<|system|>\n# Tools\nTo call a tool, answer <tool_call>{\"name\": …, \"arguments\": {…}}"
    "</tool_call>.\n' }}"
    "{% for t in tools %}{{ (t.function if t.function is defined else t) | tojson }}{{ '\n' }}{% endfor %}"
    "{{ '<|end|>\n' }}{% endif %}"
    "{% for message in messages %}"
    "{% if message['role'] == 'tool' %}"
    "{{ '<|user|>\n<tool_response>\n' + message['content'] + '\n</tool_response><|end|>\n' }}"
    "{% elif message['role'] == 'assistant' and message.tool_calls %}"
    "{{ '<|assistant|>\n' + (message['content'] or '') }}"
    "{% for tc in message.tool_calls %}{% set fn = tc.function if tc.function is defined else tc %}"
    "{{ '<tool_call>{\"name\": ' + (fn.name | tojson) + ', \"arguments\": ' + "
    "(fn.arguments if fn.arguments is string else (fn.arguments | tojson)) + '}</tool_call>' }}{% endfor %}"
    "{{ '<|end|>\n' }}"
    "{% else %}"
    "{% if message['role'] not in ['system', 'user', 'assistant'] %}"
    "{{ raise_exception('Unknown role: ' + message['role']) }}{% endif %}"
    "{{ '<|' + message['role'] + '|>\n' + message['content'] + '<|end|>\n' }}"
    "{% endif %}"
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


def build_embedding_folder(dest: Path, family: str = "decoder", corpus_path: str | os.PathLike | None = None,
                           seed: int = 0) -> Path:
    """A small random embedding model: ``decoder`` (the tiny llama, marked as an embedding model: mlx-lm runs
    it, last-token pooling) or ``bert`` (a BERT encoder that mlx-embeddings runs, mean pooling). Written in a
    temporary folder and renamed into place, as the chat models are."""
    if family not in ("decoder", "bert"):
        raise FMScriptError(f"Unknown embedding model family {family!r}: use decoder or bert.",
                            code=E_INVALID_PARAMETER)
    if family == "bert":
        try:
            from mlx_embeddings.models import bert as mlx_bert
        except ImportError:
            raise FMScriptError("A BERT-style embedding model needs the mlx-embeddings package "
                                "(pip install 'fmscript[bert]').", code=E_INVALID_PARAMETER) from None
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".tmp-", dir=dest.parent)) / "model"
    try:
        # The chat model's folder gives the tokenizer (and, for the decoder, the weights).
        build_model_folder(work, size="tiny", corpus_path=corpus_path, seed=seed)
        cfg = json.loads((work / "config.json").read_text())
        if family == "decoder":
            cfg["fmscript"].update({"kind": "embedding", "pooling": "last"})
        else:
            import numpy as np
            from mlx.utils import tree_flatten

            args = dict(BERT_SIZES["tiny"], vocab_size=max(BERT_SIZES["tiny"]["vocab_size"], cfg["vocab_size"]))
            model = mlx_bert.Model(mlx_bert.ModelArgs(model_type="bert", **args))
            rng = np.random.default_rng(seed)
            weights = {}
            for name, p in tree_flatten(model.parameters()):
                shape = tuple(p.shape)
                if name.endswith("bias"):
                    weights[name] = np.zeros(shape, np.float32)
                elif "LayerNorm" in name:
                    weights[name] = np.ones(shape, np.float32)
                else:
                    weights[name] = (rng.standard_normal(shape, dtype=np.float32) * shape[-1] ** -0.5
                                     ).astype(np.float32)
            _write_safetensors(work / "model.safetensors", weights)
            (work / "generation_config.json").unlink(missing_ok=True)
            cfg = {"architectures": ["BertModel"], "model_type": "bert", **args, "hidden_act": "gelu",
                   "layer_norm_eps": 1e-12, "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0,
                   "torch_dtype": "float32", "fmscript": {"kind": "embedding", "pooling": "mean", "seed": seed}}
        (work / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(work, dest)
    finally:
        shutil.rmtree(work.parent, ignore_errors=True)
    return dest


def create_tiny(name: str, size: str = "tiny", corpus_path: str | os.PathLike | None = None,
                home: str | os.PathLike | None = None, seed: int = 0, overwrite: bool = True,
                kind: str = "chat", arch: str = "llama") -> Path:
    """Build a model under ``models/<name>`` of the fmscript home (or of ``home``) and return its folder.

    ``kind`` is ``chat``, or ``embedding`` (a decoder embedding model) or ``bert`` (a BERT-style encoder);
    ``arch`` (chat models): ``llama`` (fmscript's own) or a family of :mod:`fmscript.ai.families` (``gemma``,
    ``qwen3``, …)."""
    from fmscript.ai.modelstore import check_model_name, models_root

    check_model_name(name)
    dest = (Path(home) / "models" if home else models_root()) / name
    if dest.exists() and not overwrite:
        return dest
    with private():  # a model folder of the home: owner-only
        if kind != "chat":
            return build_embedding_folder(dest, "decoder" if kind == "embedding" else kind, corpus_path, seed)
        if arch != "llama":
            from fmscript.ai.families import build_family_folder

            return build_family_folder(dest, arch, size=size, corpus_path=corpus_path, seed=seed)
        return build_model_folder(dest, size=size, corpus_path=corpus_path, seed=seed)


def ensure_builtin(name: str) -> Path | None:
    """Create a built-in model (``fmscript/tiny-chat``, ``fmscript/small-chat``, ``fmscript/tiny-embed``,
    ``fmscript/tiny-bert``) on first use; None for other names."""
    size = BUILTIN_MODELS.get(name)
    family = BUILTIN_EMBEDDING_MODELS.get(name)
    if size is None and family is None:
        return None
    from fmscript.ai.modelstore import models_root

    dest = models_root() / name
    if (dest / "config.json").is_file() and (dest / "model.safetensors").is_file():
        return dest
    with private():
        if family is not None:
            return build_embedding_folder(dest, family)
        return build_model_folder(dest, size=size)
