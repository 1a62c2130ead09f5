"""Small random models of the families people fine-tune, each with its family's own chat-template rules.

Why: a user's base model is a Gemma, a Llama 3, a Qwen, a Mistral or a Phi-3, not fmscript's own tiny llama; each
family has its own architecture quirks (Gemma's scaled embeddings and 1+w norms, Gemma 2's soft-capping, Qwen's
biases and q/k norms, Phi-3's fused projections) and its own chat template (special tokens, role names, which roles
exist). ``build_family_folder`` writes a complete Hugging Face folder for one of them (``config.json`` with the
family's ``model_type``, seeded random ``model.safetensors`` keyed as in the family's Hugging Face checkpoints, a
byte-level BPE tokenizer holding the family's special tokens, and a chat template written after the family's
real one), so the engine's loaders, trainer and generator meet every family offline.

:func:`chat_messages` is the one place that adapts a conversation to a template: Gemma 1 and 2 have no system role
(their template raises), so a system message is put in front of the first user message, separated by a blank line,
exactly as Gemma 3's own template does; consecutive messages of one role are joined the same way for templates
that require alternating roles. Messages that a template accepts as they are pass unchanged.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from fmscript.errors import E_INVALID_PARAMETER, FMScriptError

# ---------------------------------------------------------------------------------------------- templates
# Written after each family's published template (Hugging Face tokenizer_config.json), keeping its tokens,
# its role names and its rules; the prompt with add_generation_prompt is always a prefix of the full chat,
# so prompt masking cuts at the answer's first token.

LLAMA3_TEMPLATE = (
    "{% for message in messages %}"
    "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' + message['content'] | trim"
    " + '<|eot_id|>' %}"
    "{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}"
    "{{ content }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
)

# Gemma and Gemma 2: no system role (the published template raises), roles must alternate, 'assistant' is 'model'.
GEMMA_TEMPLATE = (
    "{{ bos_token }}"
    "{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}"
    "{% for message in messages %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% if message['role'] == 'assistant' %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}"
    "{% endif %}"
    "{{ '<start_of_turn>' + role + '\n' + message['content'] | trim + '<end_of_turn>\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<start_of_turn>model\n' }}{% endif %}"
)

# Gemma 3: still no system turn, but its template puts a system message in front of the first user message.
GEMMA3_TEMPLATE = (
    "{{ bos_token }}"
    "{% if messages[0]['role'] == 'system' %}"
    "{% set first_user_prefix = messages[0]['content'] + '\n\n' %}{% set loop_messages = messages[1:] %}"
    "{% else %}{% set first_user_prefix = '' %}{% set loop_messages = messages %}{% endif %}"
    "{% for message in loop_messages %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% if message['role'] == 'assistant' %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}"
    "{% endif %}"
    "{{ '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else '') + message['content'] | trim"
    " + '<end_of_turn>\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<start_of_turn>model\n' }}{% endif %}"
)

# Qwen 2: ChatML, with Qwen's default system message when there is none.
QWEN2_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

# Qwen 3: ChatML without a default system message; the answer after the last user message carries an (empty)
# thinking block, and enable_thinking=false puts the same empty block into the generation prompt.
QWEN3_TEMPLATE = (
    "{% set ns = namespace(last_query=-1) %}"
    "{% for message in messages %}{% if message['role'] == 'user' %}{% set ns.last_query = loop.index0 %}"
    "{% endif %}{% endfor %}"
    "{% for message in messages %}"
    "{% if message['role'] == 'assistant' and loop.index0 > ns.last_query %}"
    "{{ '<|im_start|>assistant\n<think>\n\n</think>\n\n' + message['content'] + '<|im_end|>\n' }}"
    "{% else %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}"
    "{% if enable_thinking is defined and enable_thinking is false %}{{ '<think>\n\n</think>\n\n' }}{% endif %}"
    "{% endif %}"
)

# Mistral (v0.3 tokens): [INST] … [/INST] answer</s>, alternating roles; a system message goes in front of the
# first user message (Mistral's v0.3 template puts it in front of the last one, which would make the prompt of a
# training row differ from the row itself).
MISTRAL_TEMPLATE = (
    "{% if messages[0]['role'] == 'system' %}"
    "{% set system_message = messages[0]['content'] %}{% set loop_messages = messages[1:] %}"
    "{% else %}{% set loop_messages = messages %}{% endif %}"
    "{{ bos_token }}"
    "{% for message in loop_messages %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('After the optional system message, conversation roles must alternate "
    "user/assistant/user/assistant/...') }}{% endif %}"
    "{% if message['role'] == 'user' %}"
    "{% if loop.first and system_message is defined %}"
    "{{ '[INST] ' + system_message + '\n\n' + message['content'] + '[/INST]' }}"
    "{% else %}{{ '[INST] ' + message['content'] + '[/INST]' }}{% endif %}"
    "{% elif message['role'] == 'assistant' %}{{ ' ' + message['content'] | trim + eos_token }}"
    "{% endif %}"
    "{% endfor %}"
)

# Phi-3: <|system|>, <|user|>, <|assistant|> turns closed by <|end|>; a chat without a generation prompt ends in
# the end-of-text token.
PHI3_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'system' %}{{ '<|system|>\n' + message['content'] + '<|end|>\n' }}"
    "{% elif message['role'] == 'user' %}{{ '<|user|>\n' + message['content'] + '<|end|>\n' }}"
    "{% elif message['role'] == 'assistant' %}{{ '<|assistant|>\n' + message['content'] + '<|end|>\n' }}"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% else %}{{ eos_token }}{% endif %}"
)


@dataclass(frozen=True)
class Family:
    """What makes one family: its Hugging Face class and config keys, its tokens and its chat template."""

    arch: str
    model_type: str
    architecture: str
    special_tokens: tuple  # in id order, from 0
    bos: str | None
    eos: str  # the tokenizer's eos_token
    stop: tuple  # every token that ends an answer (config eos_token_id)
    pad: str | None
    template: str
    config: dict = field(default_factory=dict)
    system_role: bool = True
    norm_offset: bool = False  # Gemma's norms scale by 1 + w: stored zeros mean "identity"
    tied: bool = True
    note: str = ""


FAMILIES: dict[str, Family] = {f.arch: f for f in (
    Family("llama3", "llama", "LlamaForCausalLM",
           ("<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>",
            "<|finetune_right_pad_id|>"),
           "<|begin_of_text|>", "<|eot_id|>", ("<|end_of_text|>", "<|eot_id|>"), "<|finetune_right_pad_id|>",
           LLAMA3_TEMPLATE,
           {"rope_theta": 500000.0, "rms_norm_eps": 1e-5, "max_position_embeddings": 8192,
            "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                             "high_freq_factor": 4.0, "original_max_position_embeddings": 8192},
            "hidden_act": "silu", "attention_bias": False, "mlp_bias": False},
           note="Llama 3 / 3.1 / 3.2 chat format"),
    Family("gemma", "gemma", "GemmaForCausalLM",
           ("<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>"),
           "<bos>", "<eos>", ("<eos>", "<end_of_turn>"), "<pad>", GEMMA_TEMPLATE,
           {"rms_norm_eps": 1e-6, "rope_theta": 10000.0, "max_position_embeddings": 8192,
            "hidden_act": "gelu_pytorch_tanh", "hidden_activation": "gelu_pytorch_tanh", "attention_bias": False},
           system_role=False, norm_offset=True, note="Gemma (CodeGemma): no system role"),
    Family("gemma2", "gemma2", "Gemma2ForCausalLM",
           ("<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>"),
           "<bos>", "<eos>", ("<eos>", "<end_of_turn>"), "<pad>", GEMMA_TEMPLATE,
           {"rms_norm_eps": 1e-6, "rope_theta": 10000.0, "max_position_embeddings": 8192,
            "hidden_act": "gelu_pytorch_tanh", "hidden_activation": "gelu_pytorch_tanh", "attention_bias": False,
            "query_pre_attn_scalar": 16, "attn_logit_softcapping": 50.0, "final_logit_softcapping": 30.0,
            "sliding_window": 4096, "cache_implementation": "hybrid"},
           system_role=False, norm_offset=True, note="Gemma 2: no system role, soft-capped logits"),
    Family("gemma3", "gemma3_text", "Gemma3ForCausalLM",
           ("<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>"),
           "<bos>", "<eos>", ("<eos>", "<end_of_turn>"), "<pad>", GEMMA3_TEMPLATE,
           {"rms_norm_eps": 1e-6, "rope_theta": 1000000.0, "rope_local_base_freq": 10000.0,
            "max_position_embeddings": 32768, "hidden_activation": "gelu_pytorch_tanh", "attention_bias": False,
            "query_pre_attn_scalar": 16, "sliding_window": 512, "sliding_window_pattern": 2,
            "rope_scaling": None},
           norm_offset=True, note="Gemma 3 (text): the template folds a system message into the first user turn"),
    Family("qwen2", "qwen2", "Qwen2ForCausalLM",
           ("<|endoftext|>", "<|im_start|>", "<|im_end|>"),
           None, "<|im_end|>", ("<|im_end|>", "<|endoftext|>"), "<|endoftext|>", QWEN2_TEMPLATE,
           {"rms_norm_eps": 1e-6, "rope_theta": 1000000.0, "max_position_embeddings": 32768, "hidden_act": "silu",
            "use_sliding_window": False, "sliding_window": 32768, "max_window_layers": 2},
           note="Qwen 2 / 2.5: ChatML, a default system message"),
    Family("qwen3", "qwen3", "Qwen3ForCausalLM",
           ("<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>"),
           None, "<|im_end|>", ("<|im_end|>", "<|endoftext|>"), "<|endoftext|>", QWEN3_TEMPLATE,
           {"rms_norm_eps": 1e-6, "rope_theta": 1000000.0, "max_position_embeddings": 40960, "hidden_act": "silu",
            "attention_bias": False, "use_sliding_window": False, "sliding_window": None, "max_window_layers": 2},
           note="Qwen 3: ChatML with an empty thinking block (trained and prompted with thinking off)"),
    Family("mistral", "mistral", "MistralForCausalLM",
           ("<unk>", "<s>", "</s>", "[INST]", "[/INST]"),
           "<s>", "</s>", ("</s>",), None, MISTRAL_TEMPLATE,
           {"rms_norm_eps": 1e-5, "rope_theta": 1000000.0, "max_position_embeddings": 32768, "hidden_act": "silu",
            "sliding_window": None},
           note="Mistral 7B Instruct v0.3 tokens"),
    Family("phi3", "phi3", "Phi3ForCausalLM",
           ("<unk>", "<s>", "</s>", "<|endoftext|>", "<|system|>", "<|user|>", "<|assistant|>", "<|end|>"),
           "<s>", "<|endoftext|>", ("<|endoftext|>", "<|end|>"), "<|endoftext|>", PHI3_TEMPLATE,
           {"rms_norm_eps": 1e-5, "rope_theta": 10000.0, "max_position_embeddings": 4096,
            "original_max_position_embeddings": 4096, "hidden_act": "silu", "rope_scaling": None,
            "partial_rotary_factor": 1.0, "attention_bias": False, "resid_pdrop": 0.0, "embd_pdrop": 0.0,
            "attention_dropout": 0.0},
           tied=False, note="Phi-3: fused qkv and gate/up projections, untied output layer"),
)}

#: Family sizes: few blocks with grouped-query attention (2 key/value heads), head size 16.
SIZES = {
    "tiny": dict(hidden_size=64, num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2, head_dim=16,
                 intermediate_size=128, vocab_size=1024),
    "small": dict(hidden_size=512, num_hidden_layers=8, num_attention_heads=8, num_key_value_heads=4, head_dim=64,
                  intermediate_size=1408, vocab_size=4096),
}


def arch_names() -> list[str]:
    """Every ``--arch`` value: fmscript's own ``llama`` and the families."""
    return ["llama", *FAMILIES]


def family(arch: str) -> Family:
    try:
        return FAMILIES[arch]
    except KeyError:
        raise FMScriptError(f"There is no model family {arch!r}; choose one of {', '.join(arch_names())}.",
                            code=E_INVALID_PARAMETER) from None


# ---------------------------------------------------------------------------------------------- messages

def fold_system(messages: list[dict]) -> list[dict]:
    """A system message in front of the first user message (blank line between, as Gemma 3 does), and runs of one
    role joined into one message: what templates without a system role, or with strict alternation, accept."""
    msgs = [dict(m) for m in messages]
    system = [m["content"] for m in msgs if m["role"] == "system"]
    rest = [m for m in msgs if m["role"] != "system"]
    if system:
        prefix = "\n\n".join(system)
        for m in rest:
            if m["role"] == "user":
                m["content"] = prefix + "\n\n" + m["content"]
                break
        else:
            rest.insert(0, {"role": "user", "content": prefix})
    out: list[dict] = []
    for m in rest:
        if out and out[-1]["role"] == m["role"]:
            out[-1]["content"] += "\n\n" + m["content"]
        else:
            out.append(m)
    return out


def chat_messages(tokenizer, messages: list[dict], tools: list[dict] | None = None) -> list[dict]:
    """The messages as the tokenizer's template accepts them: unchanged when it renders them, else folded
    (:func:`fold_system`). Real Gemma 1/2 templates raise on a system message; this keeps its text."""
    try:
        render(tokenizer, messages, tokenize=False, tools=tools)
        return messages
    except Exception:
        return fold_system(messages)


def render(tokenizer, messages, tokenize: bool = True, add_generation_prompt: bool = False,
           tools: list[dict] | None = None):
    """The template applied with the options every family is trained and prompted with (thinking off; the tool
    definitions, when there are any, in the template's own tool format)."""
    extra = {"tools": tools} if tools else {}
    return tokenizer.apply_chat_template(messages, tokenize=tokenize, add_generation_prompt=add_generation_prompt,
                                         enable_thinking=False, **extra)


# ---------------------------------------------------------------------------------------------- building

def _train_tokenizer(corpus_text: str, vocab_size: int, special: tuple):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=2, special_tokens=list(special),
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(corpus_text.splitlines(), trainer=trainer)
    return tok


def model_config(fam: Family, size: str, ids: dict, vocab_size: int, seed: int, corpus: str) -> dict:
    dims = dict(SIZES[size])
    dims["vocab_size"] = vocab_size
    stop = [ids[t] for t in fam.stop]
    return {"architectures": [fam.architecture], "model_type": fam.model_type, **dims, **fam.config,
            "tie_word_embeddings": fam.tied, "torch_dtype": "float32",
            "bos_token_id": ids[fam.bos] if fam.bos else None, "eos_token_id": stop if len(stop) > 1 else stop[0],
            "pad_token_id": ids[fam.pad] if fam.pad else None,
            "initializer_range": round(dims["hidden_size"] ** -0.5, 6),
            "fmscript": {"arch": fam.arch, "size": size, "seed": seed, "corpus": corpus}}


def init_weights(fam: Family, config: dict, seed: int) -> dict:
    """Seeded random weights under the family's Hugging Face names (read from mlx-lm's model of the family).

    Linear weights have std 1/sqrt(fan in), biases 0, norms identity (1, or 0 for Gemma's 1 + w), embeddings
    2/sqrt(hidden) (see tinymodel: tied logits need that spread to learn)."""
    import numpy as np
    from mlx.utils import tree_flatten

    from fmscript.ai.mlxlite import arch_module

    arch = arch_module(fam.model_type)
    model = arch.Model(arch.ModelArgs.from_dict(config))
    shapes = {k: tuple(v.shape) for k, v in tree_flatten(model.parameters())}
    if fam.tied:
        shapes.pop("lm_head.weight", None)
    rng = np.random.default_rng(seed)
    out = {}
    for name in sorted(shapes):
        shape = shapes[name]
        if "norm" in name:
            out[name] = np.zeros(shape, np.float32) if fam.norm_offset else np.ones(shape, np.float32)
        elif name.endswith(".bias"):
            out[name] = np.zeros(shape, np.float32)
        else:
            w = rng.standard_normal(shape, dtype=np.float32) * (shape[-1] ** -0.5)
            if "embed_tokens" in name:
                w = w * 2.0
            out[name] = w.astype(np.float32)
    return out


def build_family_folder(dest: Path, arch: str, size: str = "tiny", corpus_path: str | os.PathLike | None = None,
                        seed: int = 0) -> Path:
    """Write a complete model folder of family ``arch`` at ``dest`` (atomically: a temporary folder renamed)."""
    from safetensors.numpy import save_file

    from fmscript.ai.tinymodel import read_corpus

    fam = family(arch)
    if size not in SIZES:
        raise FMScriptError(f"Unknown model size {size!r}; choose one of {', '.join(SIZES)}.",
                            code=E_INVALID_PARAMETER)
    cpath, text = read_corpus(corpus_path)
    tok = _train_tokenizer(text, SIZES[size]["vocab_size"], fam.special_tokens)
    ids = {t: tok.token_to_id(t) for t in fam.special_tokens}
    vocab = max(SIZES[size]["vocab_size"], tok.get_vocab_size())
    config = model_config(fam, size, ids, vocab, seed, cpath.name)
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=dest.parent))
    try:
        (tmp / "config.json").write_text(json.dumps(config, indent=2) + "\n")
        (tmp / "generation_config.json").write_text(json.dumps(
            {k: config[k] for k in ("bos_token_id", "eos_token_id", "pad_token_id") if config[k] is not None},
            indent=2) + "\n")
        tok.save(str(tmp / "tokenizer.json"))
        tconf = {
            "tokenizer_class": "PreTrainedTokenizerFast", "bos_token": fam.bos, "eos_token": fam.eos,
            "pad_token": fam.pad, "unk_token": "<unk>" if "<unk>" in ids else None, "add_bos_token": False,
            "add_eos_token": False, "clean_up_tokenization_spaces": False,
            "model_max_length": config["max_position_embeddings"], "chat_template": fam.template,
            "added_tokens_decoder": {str(ids[t]): {"content": t, "special": True, "lstrip": False, "rstrip": False,
                                                   "normalized": False, "single_word": False}
                                     for t in fam.special_tokens},
        }
        (tmp / "tokenizer_config.json").write_text(json.dumps(tconf, indent=2, ensure_ascii=False) + "\n")
        (tmp / "special_tokens_map.json").write_text(json.dumps(
            {k: v for k, v in (("bos_token", fam.bos), ("eos_token", fam.eos), ("pad_token", fam.pad)) if v},
            indent=2) + "\n")
        save_file(init_weights(fam, config, seed), str(tmp / "model.safetensors"), metadata={"format": "pt"})
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest
