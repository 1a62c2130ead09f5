"""Fine-tune parameters: the AI Model Server's keys and defaults, plus the Local engine's documented extras.

Values may arrive as JSON numbers or as JSON strings (FileMaker's example builds them with ``JSONString``), so
``"1500"`` and ``"1e-4"`` are accepted. Unknown keys are kept and reported as warnings, never fatal: a script
written for another provider still runs here.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass, field

from fmscript.limits import json_loads
from fmscript.errors import E_INVALID_PARAMETER, E_JSON_INVALID, FMScriptError

TUNED_PREFIX = "fm-mlx-"
#: The root name used when a script gives no ``fine_tuned_model_name``: the job id keeps it unique.
DEFAULT_NAME_TEMPLATE = "{base}-{job_ms}"


class ParameterError(FMScriptError):
    """A fine-tune parameter that cannot be used (FileMaker's 'invalid parameter')."""

    code = E_INVALID_PARAMETER


@dataclass
class FineTuneParams:
    """Everything the trainer needs. Field names are the JSON keys scripts use."""

    max_steps: int = 1000
    learning_rate: float = 2e-4
    lora_layers: int = 4
    batch_size: int = 1
    fine_tuned_model_name: str | None = None
    # Local-engine extras (documented in docs/local-engine.md).
    rank: int = 8
    scale: float = 20.0
    alpha: float | None = None  # when given, scale = alpha / rank (PEFT's convention)
    dropout: float = 0.0
    seed: int = 0
    validation_fraction: float = 0.1
    mask_prompt: bool = True
    weight_decay: float = 0.0
    warmup_steps: int = 0
    max_seq_length: int = 2048
    steps_per_report: int = 10
    steps_per_eval: int = 100
    save_every: int = 100
    fast_math: bool = True  # CPU only: vectorised exp in SiLU and the loss (fastmath.py); same losses to ~1e-6
    epochs: int | None = None  # OpenAI's n_epochs: steps = ceil(epochs * examples / batch_size)
    processes: int | None = None  # data-parallel training processes (distributed.py); None: the server's setting
    base_dtype: str = "float32"  # "bfloat16": frozen base weights in bf16 (half the memory; a bf16 GEMM on CPU)
    cpu_streams: int | None = None  # 2: each batch in two halves on two mlx CPU streams; None: FMSCRIPT_CPU_STREAMS
    unknown: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        d = asdict(self)
        if not d["unknown"]:
            d.pop("unknown")
        return d

    @classmethod
    def from_json(cls, d: dict) -> "FineTuneParams":
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    @property
    def lora_scale(self) -> float:
        return self.alpha / self.rank if self.alpha is not None else self.scale

    def warnings(self) -> list[str]:
        return [f"Unknown fine-tune parameter {k!r} is ignored by the Local engine." for k in self.unknown]


_INT_KEYS = {"max_steps": (1, 10_000_000), "lora_layers": (1, 10_000), "batch_size": (1, 4096),
             "rank": (1, 4096), "seed": (0, 2**32 - 1), "warmup_steps": (0, 10_000_000),
             "max_seq_length": (2, 1_000_000), "steps_per_report": (1, 10_000_000),
             "steps_per_eval": (1, 10_000_000), "save_every": (1, 10_000_000), "epochs": (1, 100_000),
             "processes": (1, 1024), "cpu_streams": (1, 2)}
_FLOAT_KEYS = {"learning_rate": (0.0, 10.0, False), "scale": (0.0, 1e6, False), "alpha": (0.0, 1e6, False),
               "dropout": (0.0, 1.0, True), "validation_fraction": (0.0, 0.9, True),
               "weight_decay": (0.0, 10.0, True)}
_BOOL_KEYS = {"mask_prompt", "fast_math"}
#: Text keys: the accepted spellings of each value.
_CHOICE_KEYS = {"base_dtype": {"float32": "float32", "fp32": "float32", "bfloat16": "bfloat16", "bf16": "bfloat16"}}
# Aliases other tools use for the same thing.
_ALIASES = {"iters": "max_steps", "num_layers": "lora_layers", "lr": "learning_rate", "lora_rank": "rank",
            "lora_alpha": "alpha", "lora_dropout": "dropout", "n_epochs": "epochs", "suffix": "fine_tuned_model_name",
            "val_fraction": "validation_fraction"}


def _number(key: str, v):
    if isinstance(v, bool):
        raise ParameterError(f"The fine-tune parameter {key!r} must be a number, not true/false.")
    if isinstance(v, (int, float)):
        return v
    if isinstance(v, str):
        t = v.strip()
        try:
            return int(t)
        except ValueError:
            pass
        try:
            f = float(t)
        except ValueError:
            raise ParameterError(f"The fine-tune parameter {key!r} must be a number; got {v!r}.") from None
        return f
    raise ParameterError(f"The fine-tune parameter {key!r} must be a number; got {json.dumps(v)}.")


def _int(key: str, v) -> int:
    lo, hi = _INT_KEYS[key]
    n = _number(key, v)
    if isinstance(n, float):
        if not math.isfinite(n) or n != int(n):
            raise ParameterError(f"The fine-tune parameter {key!r} must be a whole number; got {v!r}.")
        n = int(n)
    if key == "cpu_streams" and n not in (1, 2):
        raise ParameterError(f"The fine-tune parameter 'cpu_streams' must be 1 or 2; got {v!r}.")
    if n < lo or n > hi:
        what = "positive" if lo >= 1 else "zero or more"
        raise ParameterError(f"The fine-tune parameter {key!r} must be {what} (at most {hi}); got {v!r}.")
    return n


def _float(key: str, v) -> float:
    lo, hi, lo_ok = _FLOAT_KEYS[key]
    f = float(_number(key, v))
    if not math.isfinite(f) or f > hi or f < lo or (f == lo and not lo_ok):
        bound = f"between {lo} and {hi}" if lo_ok else f"greater than {lo} and at most {hi}"
        raise ParameterError(f"The fine-tune parameter {key!r} must be {bound}; got {v!r}.")
    return f


def _bool(key: str, v) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, (int, float)):
        return v != 0
    if isinstance(v, str) and v.strip().lower() in ("true", "1", "yes", "on"):
        return True
    if isinstance(v, str) and v.strip().lower() in ("false", "0", "no", "off", ""):
        return False
    raise ParameterError(f"The fine-tune parameter {key!r} must be true or false; got {v!r}.")


_BAD_NAME = re.compile(r"[\x00-\x1f\x7f/\\\ud800-\udfff]")
#: The longest fine_tuned_model_name in bytes: with "fm-mlx-" and ".link-…@fm-ftjob-<ms>" it fits 255.
MAX_NAME_BYTES = 192


def check_tuned_root_name(name) -> str:
    """Validate ``fine_tuned_model_name`` (before the prefix is added); spaces become hyphens."""
    if not isinstance(name, str):
        raise ParameterError(f"fine_tuned_model_name must be text; got {json.dumps(name)}.")
    n = name.strip()
    if not n:
        raise ParameterError("fine_tuned_model_name is empty.")
    if _BAD_NAME.search(n):
        raise ParameterError(f"fine_tuned_model_name {name!r} may not hold '/', '\\' or control characters.")
    if ".." in n or n.startswith("."):
        raise ParameterError(f"fine_tuned_model_name {name!r} may not hold '..' or start with '.'.")
    size = len(n.encode("utf-8", "surrogatepass"))
    if size > MAX_NAME_BYTES:
        # Counted as the file system counts a name (bytes of UTF-8): the adapter's folder and its staging
        # names (".link-<name>@<job id>") must fit NAME_MAX, 255 bytes.
        raise ParameterError(f"fine_tuned_model_name is {size} bytes long in UTF-8; at most {MAX_NAME_BYTES} "
                             "bytes are allowed.")
    if any(c in n for c in ':*?"<>|@'):
        raise ParameterError(f"fine_tuned_model_name {name!r} may not hold any of : * ? \" < > | @.")
    return n


def tuned_model_name(root: str) -> str:
    """``fm-mlx-<root, spaces → hyphens>``; a root that already has the prefix keeps it once."""
    n = re.sub(r"\s+", "-", check_tuned_root_name(root))
    return n if n.startswith(TUNED_PREFIX) else TUNED_PREFIX + n


def default_root_name(base_model: str, job_ms: int) -> str:
    """The name given when a script names none: the base model's last part and the job's millisecond id."""
    base = re.sub(r"[^A-Za-z0-9._-]+", "-", base_model.rstrip("/").split("/")[-1]).strip("-.") or "model"
    return DEFAULT_NAME_TEMPLATE.format(base=base, job_ms=job_ms)


def parse_params(value) -> FineTuneParams:
    """Parse Fine-Tune Parameters (a JSON object as text or dict; empty means all defaults)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        obj = {}
    elif isinstance(value, dict):
        obj = value
    elif isinstance(value, str):
        try:
            obj = json_loads(value)
        except json.JSONDecodeError as e:
            raise FMScriptError(f"Fine-tune parameters are not valid JSON ({e.msg} at column {e.colno}).",
                                code=E_JSON_INVALID) from None
        if not isinstance(obj, dict):
            raise ParameterError("Fine-tune parameters must be a JSON object, such as {\"max_steps\": 200}.")
    else:
        raise ParameterError("Fine-tune parameters must be a JSON object.")

    p = FineTuneParams()
    for raw_key, v in obj.items():
        key = _ALIASES.get(raw_key, raw_key)
        if v is None or (key == "epochs" and v == "auto"):
            continue  # JSON null / OpenAI's "auto" mean "the default"
        if key in _INT_KEYS:
            setattr(p, key, _int(raw_key if raw_key == key else key, v))
        elif key in _FLOAT_KEYS:
            setattr(p, key, _float(key, v))
        elif key in _BOOL_KEYS:
            setattr(p, key, _bool(key, v))
        elif key in _CHOICE_KEYS:
            choice = _CHOICE_KEYS[key].get(v.strip().lower()) if isinstance(v, str) else None
            if choice is None:
                raise ParameterError(f"The fine-tune parameter {key!r} must be one of "
                                     f"{', '.join(sorted(set(_CHOICE_KEYS[key].values())))}; got {json.dumps(v)}.")
            setattr(p, key, choice)
        elif key == "fine_tuned_model_name":
            p.fine_tuned_model_name = check_tuned_root_name(v if isinstance(v, str) else str(v))
        else:
            p.unknown[raw_key] = v
    if p.processes and p.processes > p.batch_size:
        raise ParameterError(f"The fine-tune parameter 'processes' ({p.processes}) may not exceed batch_size "
                             f"({p.batch_size}): each process trains on its share of every batch's rows.")
    if p.cpu_streams == 2 and p.batch_size < 2:
        raise ParameterError("The fine-tune parameter 'cpu_streams' 2 needs batch_size 2 or more: each stream "
                             f"trains on its half of every batch's rows (batch_size is {p.batch_size}).")
    return p
