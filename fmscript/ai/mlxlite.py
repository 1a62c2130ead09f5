"""Load a model and its chat tokenizer for training without importing transformers (or torch).

Why: ``import mlx_lm`` imports transformers, which imports torch when it is installed; in the training worker
that costs ~230 MiB of resident memory and seconds of start-up, for nothing the trainer uses. This module
imports only mlx-lm's model files (``mlx_lm.models.<type>``, plain mlx code) and its LoRA layer (``mlx_lm.tuner.lora``,
subclassed for one shared product of sibling projections), and reads the
tokenizer with the ``tokenizers`` library, rendering the chat template with jinja2 exactly as transformers does
(sandboxed, ``trim_blocks``, ``lstrip_blocks``). Whatever it cannot handle (quantized models, custom model files,
tokenizers without ``tokenizer.json`` or without a chat template) goes through mlx-lm's own loaders instead.
"""
from __future__ import annotations

import glob
import importlib
import importlib.util
import json
import sys
import types
from pathlib import Path

_REMAP = {"mistral": "llama", "iquestcoder": "llama", "xverse": "llama"}


def light_mlx_lm():
    """Make ``mlx_lm.models.*`` importable without running ``mlx_lm/__init__.py`` (which imports transformers)."""
    if "mlx_lm" not in sys.modules:
        spec = importlib.util.find_spec("mlx_lm")
        if spec is None or not spec.submodule_search_locations:
            raise ImportError("mlx_lm is not installed")
        pkg = types.ModuleType("mlx_lm")
        pkg.__path__ = list(spec.submodule_search_locations)
        pkg.__file__ = spec.origin
        pkg.__spec__ = spec
        pkg.__fmscript_light__ = True
        sys.modules["mlx_lm"] = pkg


def arch_module(model_type: str):
    """mlx-lm's model module for a Hugging Face ``model_type`` (``mistral`` is mlx-lm's llama), imported light."""
    light_mlx_lm()
    return importlib.import_module(f"mlx_lm.models.{_REMAP.get(model_type, model_type)}")


def load_model(path: str | Path):
    """(model, config) for a Hugging Face folder; mlx-lm's full loader for anything unusual."""
    import mlx.core as mx

    path = Path(path)
    config = json.loads((path / "config.json").read_text())
    files = sorted(glob.glob(str(path / "model*.safetensors")))
    unusual = any(k in config for k in ("quantization", "quantization_config", "model_file")) or not files
    arch = None
    if not unusual:
        try:
            arch = arch_module(config["model_type"])
        except (ImportError, KeyError):
            arch = None
    if arch is None:
        from mlx_lm.utils import load_model as full_load

        return full_load(path)
    model = arch.Model(arch.ModelArgs.from_dict(config))
    weights = {}
    for f in files:
        weights.update(mx.load(f))
    if hasattr(model, "sanitize"):
        weights = model.sanitize(weights)
    model.load_weights(list(weights.items()), strict=True)
    mx.eval(model.parameters())
    model.eval()
    return model, config


def _token_text(v):
    return v.get("content") if isinstance(v, dict) else v


class ChatTokenizer:
    """The parts of a Hugging Face tokenizer the trainer needs: chat template, encode, decode, special ids."""

    def __init__(self, path: str | Path, eos_token_ids=None):
        from tokenizers import Tokenizer

        path = Path(path)
        self._tok = Tokenizer.from_file(str(path / "tokenizer.json"))
        cfg = json.loads((path / "tokenizer_config.json").read_text())
        template = cfg.get("chat_template")
        if isinstance(template, list):  # named templates: use the default one
            named = {t.get("name"): t.get("template") for t in template if isinstance(t, dict)}
            template = named.get("default")
        if template is None and (path / "chat_template.jinja").is_file():
            template = (path / "chat_template.jinja").read_text()
        if not isinstance(template, str):
            raise ValueError("no chat template")
        self.bos_token = _token_text(cfg.get("bos_token"))
        self.eos_token = _token_text(cfg.get("eos_token"))
        self.pad_token = _token_text(cfg.get("pad_token"))
        self.pad_token_id = self._tok.token_to_id(self.pad_token) if self.pad_token else None
        eos = eos_token_ids if eos_token_ids is not None else \
            ([self._tok.token_to_id(self.eos_token)] if self.eos_token else [])
        self.eos_token_ids = set([eos] if isinstance(eos, int) else [e for e in eos if e is not None])

        import jinja2
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        def raise_exception(message):
            raise jinja2.exceptions.TemplateError(message)

        env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                            extensions=["jinja2.ext.loopcontrols"])
        env.filters["tojson"] = lambda x, indent=None, **kw: json.dumps(x, ensure_ascii=False, indent=indent)
        env.globals["raise_exception"] = raise_exception
        import datetime

        env.globals["strftime_now"] = lambda fmt: datetime.datetime.now().strftime(fmt)
        self._template = env.from_string(template)

    def apply_chat_template(self, messages, tokenize: bool = True, add_generation_prompt: bool = False, **kw):
        text = self._template.render(messages=messages, add_generation_prompt=add_generation_prompt,
                                     bos_token=self.bos_token or "", eos_token=self.eos_token or "", **kw)
        if not tokenize:
            return text
        return self._tok.encode(text, add_special_tokens=False).ids

    def encode(self, text: str, add_special_tokens: bool = False):
        return self._tok.encode(text, add_special_tokens=add_special_tokens).ids

    def decode(self, ids) -> str:
        return self._tok.decode(list(ids), skip_special_tokens=False)


def load_tokenizer(path: str | Path, eos_token_ids=None):
    """A :class:`ChatTokenizer` where possible, else mlx-lm's tokenizer wrapper (which imports transformers)."""
    try:
        return ChatTokenizer(path, eos_token_ids)
    except Exception:
        from mlx_lm.utils import load_tokenizer as full

        return full(Path(path), eos_token_ids=eos_token_ids)


def _light_subpackage(name: str) -> None:
    """Register the package ``name`` (inside the light ``mlx_lm``) without running its ``__init__.py``."""
    if name in sys.modules:
        return
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(f"{name} is not installed")
    pkg = types.ModuleType(name)
    pkg.__path__ = list(spec.submodule_search_locations)
    pkg.__file__ = spec.origin
    pkg.__spec__ = spec
    pkg.__fmscript_light__ = True
    sys.modules[name] = pkg


def mlx_lm_lora_linear():
    """mlx-lm's own ``LoRALinear`` class, loaded without ``mlx_lm/__init__.py`` or ``mlx_lm/tuner/__init__.py``
    (both import transformers, and so torch)."""
    light_mlx_lm()
    if getattr(sys.modules["mlx_lm"], "__fmscript_light__", False):
        _light_subpackage("mlx_lm.tuner")
    from mlx_lm.tuner.lora import LoRALinear

    return LoRALinear


_LORA_CLASS = None


def lora_linear_class():
    """mlx-lm's ``LoRALinear`` extended with the shared-input product of :class:`_SharedInput`: same parameters,
    same initialisation (mlx-lm's own ``from_base`` builds every layer), same adapter files."""
    global _LORA_CLASS
    if _LORA_CLASS is not None:
        return _LORA_CLASS
    base = mlx_lm_lora_linear()

    class SharedInputLoRALinear(base):
        @classmethod
        def from_base(cls, linear, r: int = 8, dropout: float = 0.0, scale: float = 20.0):
            layer = base.from_base(linear, r=r, dropout=dropout, scale=scale)
            layer.__class__ = cls  # mlx-lm's from_base names its own class; the layer itself is mlx-lm's
            return layer

        def __call__(self, x):
            group = self.__dict__.get("_fm_group")
            if group is None:
                return super().__call__(x)
            y = self.linear(x)
            return y + (self.scale * (group.xa(self, x) @ self.lora_b)).astype(x.dtype)

    _LORA_CLASS = SharedInputLoRALinear
    return SharedInputLoRALinear


class _SharedInput:
    """LoRA layers that read the same input (q/k/v, gate/up): one ``x @ [A_1 | A_2 | ...]`` instead of one small
    matmul each, forward and backward (a rank-8 matmul costs about as much as a rank-24 one). The adapters keep their
    own ``lora_a`` (file format unchanged); a member called with another input, after its adapters changed, or
    twice, starts a new product."""

    __slots__ = ("members", "x", "a", "prod", "used")

    def __init__(self, members):
        self.members = members
        self.x = self.a = self.prod = None
        self.used = set()

    def xa(self, member, x):
        i = next(k for k, m in enumerate(self.members) if m is member)
        a = [m.lora_a for m in self.members]
        if self.x is not x or i in self.used or any(p is not q for p, q in zip(a, self.a)):
            import mlx.core as mx

            self.x, self.a, self.used = x, a, set()
            self.prod = x @ mx.concatenate(a, axis=-1)
        self.used.add(i)
        prod = self.prod
        if len(self.used) == len(self.members):  # all served: keep no reference to this graph
            self.x = self.a = self.prod = None
            self.used = set()
        starts = [0]
        for m in self.members:
            starts.append(starts[-1] + m.lora_a.shape[-1])
        return prod[..., starts[i]:starts[i + 1]]


#: Sibling projections that take the same input in mlx-lm's models.
_SHARED_INPUT = ({"q_proj", "k_proj", "v_proj"}, {"gate_proj", "up_proj"})


def lora_layers(model, num_layers: int, config: dict) -> None:
    """mlx-lm's ``linear_to_lora_layers`` for plain LoRA: every ``nn.Linear`` (or quantized one) in the last
    ``num_layers`` blocks gets LoRA under the same name, so mlx-lm can load the adapter too."""
    import mlx.nn as nn
    from mlx.utils import tree_unflatten

    blocks = model.layers[-max(num_layers, 0):]
    if any(hasattr(m, "to_lora") or "Switch" in type(m).__name__ for b in blocks for _, m in b.named_modules()):
        from mlx_lm.tuner.utils import linear_to_lora_layers  # mixture-of-experts layers: mlx-lm knows them

        return linear_to_lora_layers(model, num_layers, config)
    LoRALinear = lora_linear_class()
    for block in blocks:
        swaps = [(name, LoRALinear.from_base(m, r=config["rank"], dropout=config["dropout"], scale=config["scale"]))
                 for name, m in block.named_modules() if isinstance(m, (nn.Linear, nn.QuantizedLinear))]
        if swaps:
            block.update_modules(tree_unflatten(swaps))
        if config.get("dropout", 0) == 0:
            _group_shared_inputs(block, LoRALinear)


def _group_shared_inputs(block, lora_class) -> None:
    """Tie each set of :data:`_SHARED_INPUT` siblings (plain float LoRA layers of one input size) together."""
    import mlx.nn as nn

    parents = {}
    for name, m in block.named_modules():
        if isinstance(m, lora_class) and type(m.linear) is nn.Linear:
            parent, _, leaf = name.rpartition(".")
            parents.setdefault(parent, {})[leaf] = m
    for children in parents.values():
        for names in _SHARED_INPUT:
            members = [children[n] for n in sorted(names) if n in children]
            if len(members) > 1 and len({(m.lora_a.shape[0], m.lora_a.dtype) for m in members}) == 1:
                group = _SharedInput(members)
                for m in members:
                    object.__setattr__(m, "_fm_group", group)


def bf16_base(model, matmul=None) -> int:
    """Store the frozen base weights of every float ``nn.Linear`` (LoRA's base layers too) and of a tied embedding
    in bfloat16, computing with ``matmul(x, w_bf16)`` = ``x @ w.T`` in float32 (the extension's bf16 GEMM), or with
    mlx's own bf16 matmul when ``matmul`` is None (GPUs). LoRA weights, norms and the loss stay float32, and the
    adapter file is the same. Returns how many matrices were converted."""
    import mlx.core as mx
    import mlx.nn as nn
    from mlx.utils import tree_unflatten

    def product(x, w):
        if matmul is not None:
            return matmul(x, w)
        return (x.astype(mx.bfloat16) @ w.T).astype(x.dtype)

    class Bf16Linear(nn.Module):
        def __init__(self, linear):
            super().__init__()
            self.weight = linear.weight.astype(mx.bfloat16)
            if "bias" in linear:
                self.bias = linear.bias
            self.freeze()

        def __call__(self, x):
            y = product(x, self.weight)
            return y + self.bias if "bias" in self else y

    class Bf16Embedding(nn.Embedding):
        def __init__(self, emb):
            nn.Module.__init__(self)
            self.weight = emb.weight.astype(mx.bfloat16)
            self.freeze()

        def __call__(self, x):
            return self.weight[x].astype(mx.float32)

        def as_linear(self, x):
            return product(x, self.weight)

    count = 0
    swaps = []
    for name, m in model.named_modules():
        if type(m) is nn.Linear and m.weight.dtype == mx.float32:
            swaps.append((name, Bf16Linear(m)))
        elif type(m) is nn.Embedding and m.weight.dtype == mx.float32 and name.endswith("embed_tokens"):
            swaps.append((name, Bf16Embedding(m)))
    if swaps:
        model.update_modules(tree_unflatten(swaps))
        count = len(swaps)
    mx.eval(model.parameters())
    return count


def packed_forward(model, attention):
    """``forward(ids, rows) -> logits`` over the batch's rows packed one after another without padding, for
    mlx-lm's llama models (llama, mistral) with plain RoPE; None for any other model (the padded forward is used).

    Why: with padding to the longest row, ~8 % of every projection, MLP and LM-head product is spent on padding
    (bench/README.md); packed, only attention needs to know where rows start, and ``attention`` (fastext's
    ``packed_attention``: RoPE and causal attention per row in one C++ kernel) takes the rows as data, so the compiled
    step is reused for any row lengths of the same total. The model's own modules (LoRA layers, norms, MLP) run
    unchanged on (tokens, hidden) arrays."""
    import mlx.core as mx
    import mlx.nn as nn

    if attention is None or type(model).__module__ != "mlx_lm.models.llama":
        return None
    inner = getattr(model, "model", None)
    if inner is None or getattr(inner, "swa_idx", None) is not None:
        return None
    head_dims = set()
    for layer in inner.layers:
        a = getattr(layer, "self_attn", None)
        rope = getattr(a, "rope", None)
        if type(rope) is not nn.RoPE or rope.traditional or getattr(layer, "use_sliding", False) or \
                rope.dims != a.head_dim or not all(hasattr(layer, n) for n in
                                                   ("input_layernorm", "post_attention_layernorm", "mlp")):
            return None
        head_dims.add((rope.dims, float(rope.base), float(rope.scale)))
    if len(head_dims) != 1:
        return None
    dims, base, scale = head_dims.pop()
    inv_freq = scale * mx.power(mx.array(base, mx.float32), -mx.arange(0, dims, 2, dtype=mx.float32) / dims)
    tied = model.args.tie_word_embeddings

    def forward(ids, rows):
        h = inner.embed_tokens(ids)
        for layer in inner.layers:
            a = layer.self_attn
            x = layer.input_layernorm(h)
            o = attention(a.q_proj(x), a.k_proj(x), a.v_proj(x), rows, inv_freq, a.n_heads, a.n_kv_heads, a.scale)
            h = h + a.o_proj(o)
            h = h + layer.mlp(layer.post_attention_layernorm(h))
        h = inner.norm(h)
        return inner.embed_tokens.as_linear(h) if tied else model.lm_head(h)

    return forward
