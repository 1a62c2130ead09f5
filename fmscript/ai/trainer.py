"""LoRA fine-tuning on mlx, with fmscript's own batching loop.

Why not ``mlx_lm.tuner.train``: it pads every batch to 1 + 32k tokens (about a quarter of the compute is padding on
short chat rows), cannot resume an optimizer from a checkpoint, and cannot be stopped between steps by a job's
status. This loop pads each batch to its own longest row (rounded up to a multiple of :data:`PAD_MULTIPLE` so the
compiled step is reused), compiles the step with ``mx.compile``, masks the prompt so that only the assistant's
tokens carry loss, and writes checkpoints and the final adapter atomically (a temporary folder, then a rename).
With ``cpu_streams`` 2 each batch is trained as two halves on two mlx CPU streams, so that mlx's one thread per
stream becomes two on a two-core CPU; the update is the whole batch's (docs/local-engine.md, "Two CPU streams").

Defaults (conventions.md): rank 8, scale 20, dropout 0, all linear layers of the last ``lora_layers`` blocks,
AdamW with bias correction (weight decay 0), prompt masked, seed 0, fp32 LoRA weights.
The adapter is saved in mlx-lm's format, so ``mlx_lm.generate --adapter-path`` can use it too.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from fmscript.ai.generate import check_messages
from fmscript.ai.params import FineTuneParams

PAD_MULTIPLE = 8
ADAPTER_FILE = "adapters.safetensors"


@dataclass
class TrainResult:
    """How a run ended: ``stopped`` is None when it finished, else 'cancelled' or 'shutdown'."""

    steps: int
    trained_tokens: int
    train_loss: float | None
    val_loss: float | None
    stopped: str | None = None
    adapter_dir: Path | None = None
    metrics: list = field(default_factory=list)
    tokens_per_sec: float | None = None
    seconds: float = 0.0


def tokenize_examples(tokenizer, examples: list[dict], mask_prompt: bool, max_seq_length: int):
    """Chat examples → ``(token ids, offset)``; loss counts tokens from ``offset`` on (the last assistant reply)."""
    from fmscript.ai.families import chat_messages, render

    rows = []
    for ex in examples:
        tools = ex.get("tools") or None  # tool-calling examples: the model's own template renders them
        msgs = chat_messages(tokenizer, check_messages(ex["messages"]), tools)
        tokens = list(render(tokenizer, msgs, tools=tools))
        if mask_prompt:
            prompt = render(tokenizer, msgs[:-1], add_generation_prompt=True, tools=tools)
            offset = len(prompt)
        else:
            offset = 1
        tokens = tokens[:max_seq_length]
        offset = min(offset, len(tokens) - 1)
        rows.append((tokens, max(offset, 1)))
    return rows


def held_out_count(n: int, fraction: float) -> int:
    """How many of ``n`` examples are held out for validation loss; sets under 10 examples are all trained on."""
    if fraction <= 0 or n < 10:
        return 0
    return max(1, int(round(n * fraction)))


def training_count(n: int, fraction: float) -> int:
    """How many of ``n`` examples are trained on (what an epoch is made of)."""
    return n - held_out_count(n, fraction)


def split_validation(n: int, fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Hold out ``fraction`` of the examples for validation loss; sets under 10 examples are all trained on."""
    import numpy as np

    idx = list(range(n))
    k = held_out_count(n, fraction)
    if not k:
        return idx, []
    perm = np.random.default_rng(seed).permutation(n).tolist()
    return sorted(perm[k:]), sorted(perm[:k])


def batch_indices(train_idx: list[int], batch_size: int, step: int, seed: int) -> list[int]:
    """The rows of one step: epochs of a seeded permutation, cut into batches. A pure function of ``step``, so a
    resumed job sees exactly the batches it would have seen."""
    import numpy as np

    n = len(train_idx)
    out = []
    pos = step * batch_size
    while len(out) < batch_size:
        epoch, i = divmod(pos, n)
        perm = np.random.default_rng([seed, epoch]).permutation(n)
        take = min(batch_size - len(out), n - i)
        out.extend(train_idx[j] for j in perm[i:i + take])
        pos += take
    return out


def make_batch(rows, pad_id: int = 0, multiple: int | None = None):
    """Pad rows to the longest one (rounded up to ``multiple``): inputs, targets, loss mask, real token count."""
    import numpy as np

    multiple = multiple or PAD_MULTIPLE
    longest = max(len(t) for t, _ in rows) - 1
    T = max(multiple, -(-longest // multiple) * multiple)
    B = len(rows)
    inputs = np.full((B, T), pad_id, np.int32)
    targets = np.full((B, T), pad_id, np.int32)
    mask = np.zeros((B, T), np.float32)
    real = 0
    for b, (toks, off) in enumerate(rows):
        L = len(toks) - 1
        inputs[b, :L] = toks[:-1]
        targets[b, :L] = toks[1:]
        mask[b, off - 1:L] = 1.0
        real += len(toks)
    return inputs, targets, mask, real


def make_packed_batch(rows, multiple: int | None = None):
    """The rows one after another, no padding between them (for ``mlxlite.packed_forward``): input ids, targets,
    loss mask, ``(start, length)`` per row, and the real token count. The total is rounded up to ``multiple`` with a
    last, loss-free row of filler, so that the compiled step is reused; the row table always has one row more than
    the batch (that filler row, maybe empty), so its shape does not change either."""
    import numpy as np

    multiple = multiple or PAD_MULTIPLE
    n = sum(len(t) - 1 for t, _ in rows)
    N = max(multiple, -(-n // multiple) * multiple)
    ids = np.zeros(N, np.int32)
    targets = np.zeros(N, np.int32)
    mask = np.zeros(N, np.float32)
    table = np.zeros((len(rows) + 1, 2), np.int32)
    pos = real = 0
    for b, (toks, off) in enumerate(rows):
        L = len(toks) - 1
        ids[pos:pos + L] = toks[:-1]
        targets[pos:pos + L] = toks[1:]
        mask[pos + off - 1:pos + L] = 1.0
        table[b] = (pos, L)
        pos += L
        real += len(toks)
    table[-1] = (pos, N - pos)
    return ids, targets, mask, table, real


def split_rows(rows, packed: bool, multiple: int | None = None) -> tuple[list, list]:
    """Two halves of a batch for two CPU streams (``cpu_streams`` 2), as even in work as the rows allow.

    Packed rows cost their tokens: the longest row goes to the lighter half, then the next (greedy, which is within
    a row of the best split). Padded rows cost rows x their half's padded length: rows sorted by length, cut where
    the larger half is smallest, so that each half pads only to its own longest row. Which row lands where changes
    only the order of a sum: the loss is the whole batch's."""
    multiple = multiple or PAD_MULTIPLE
    order = sorted(range(len(rows)), key=lambda i: (-len(rows[i][0]), i))
    if packed:
        halves, load = ([], []), [0, 0]
        for i in order:
            h = 0 if load[0] <= load[1] else 1
            halves[h].append(i)
            load[h] += len(rows[i][0]) - 1
    else:
        def cost(idx):
            return len(idx) * max(multiple, -(-(len(rows[idx[0]][0]) - 1) // multiple) * multiple)

        k = min(range(1, len(order)), key=lambda k: (max(cost(order[:k]), cost(order[k:])), abs(2 * k - len(order))))
        halves = (order[:k], order[k:])
    return [rows[i] for i in sorted(halves[0])], [rows[i] for i in sorted(halves[1])]


def default_cpu_streams() -> int:
    """Where neither the job nor ``FMSCRIPT_CPU_STREAMS`` says: two streams when this process may use two CPUs,
    where they were measured ahead of one stream with MKL at two threads (1.14–1.29×, bench/README.md "Two CPU
    streams"); one elsewhere: with more cores MKL's own threads use them (two streams there are not measured)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        cpus = os.cpu_count() or 1
    return 2 if cpus == 2 else 1


def cpu_streams_asked(params) -> bool:
    """Whether the job or the server chose ``cpu_streams`` (then a job that cannot have two is told so)."""
    return bool(getattr(params, "cpu_streams", None)) or bool(os.environ.get("FMSCRIPT_CPU_STREAMS", "").strip())


def cpu_streams_for(params) -> int:
    """How many mlx CPU streams share each batch: the job's ``cpu_streams``, else ``FMSCRIPT_CPU_STREAMS``, else
    :func:`default_cpu_streams`."""
    from fmscript.ai.params import ParameterError

    if getattr(params, "cpu_streams", None):
        return int(params.cpu_streams)
    raw = os.environ.get("FMSCRIPT_CPU_STREAMS", "").strip()
    if not raw:
        return default_cpu_streams()
    if raw not in ("1", "2"):
        raise ParameterError(f"FMSCRIPT_CPU_STREAMS must be 1 or 2, not {raw!r}.")
    return int(raw)


_stream_pair: tuple = ()


def _cpu_stream_pair():
    """The two mlx CPU streams of ``cpu_streams`` 2, made once per process: mlx keeps a stream's thread for the life
    of the process, so a worker that trains many jobs must not make two more for each."""
    global _stream_pair
    if not _stream_pair:
        import mlx.core as mx

        _stream_pair = (mx.new_stream(mx.cpu), mx.new_stream(mx.cpu))
    return _stream_pair


#: How rank 0 tells the other processes why training stops (a sum over processes of which only rank 0 is non-zero).
_STOP_CODES = {"cancelled": 1, "shutdown": 2}


class LoRATrainer:
    """One fine-tuning run: load the base, add LoRA layers, train, checkpoint, write the adapter."""

    group = None  # mlx's distributed group when data-parallel (distributed.py), else None
    rank, world = 0, 1

    def __init__(self, base_path: str | os.PathLike, params: FineTuneParams, examples: list[dict],
                 run_dir: str | os.PathLike | None = None, report=None, should_stop=None, compile: bool = True):
        self.base_path = Path(base_path)
        self.p = params
        self.examples = examples
        self.run_dir = Path(run_dir) if run_dir else None
        self.report = report or (lambda message, data=None, level="info": None)
        self.should_stop = should_stop or (lambda: None)
        self.compile = compile

    # ------------------------------------------------------------------------------------------ setup
    def _setup(self):
        import mlx.core as mx
        import mlx.nn as nn
        import mlx.optimizers as optim
        from fmscript.ai.mlxlite import load_model, load_tokenizer, lora_layers

        p = self.p
        mx.random.seed(p.seed)
        from fmscript.ai.distributed import training_group

        self.group = training_group()
        self.rank, self.world = (self.group.rank(), self.group.size()) if self.group is not None else (0, 1)
        if self.rank != 0:
            self.report = lambda message, data=None, level="info": None
        model, config = load_model(self.base_path)
        self.config = config
        tokenizer = load_tokenizer(self.base_path, eos_token_ids=config.get("eos_token_id"))
        self.tokenizer = tokenizer
        model.freeze()
        self.num_layers = min(p.lora_layers, len(model.layers))
        self.lora_config = {"rank": p.rank, "scale": p.lora_scale, "dropout": p.dropout}
        lora_layers(model, self.num_layers, self.lora_config)
        model.train()
        self.model = model

        self.rows = tokenize_examples(tokenizer, self.examples, p.mask_prompt, p.max_seq_length)
        self.train_idx, self.val_idx = split_validation(len(self.rows), p.validation_fraction, p.seed)
        pad = tokenizer.pad_token_id
        self.pad_id = int(pad) if pad is not None else 0

        lr = p.learning_rate
        if p.warmup_steps:
            lr = optim.join_schedules([optim.linear_schedule(0.0, p.learning_rate, p.warmup_steps),
                                       lambda _: p.learning_rate], [p.warmup_steps])
        self.optimizer = optim.AdamW(learning_rate=lr, weight_decay=p.weight_decay, bias_correction=True)
        self.optimizer.init(model.trainable_parameters())

        cross_entropy = nn.losses.cross_entropy
        self.fast_math = False
        self.kernels = []  # what this run computes differently from plain mlx (for the start event)
        if p.fast_math:
            from fmscript.ai import fastmath

            if fastmath.wanted():
                from fmscript.ai import fastext

                attention = fastext.causal_attention()
                fastmath.patch_model_module(model, attention)
                cross_entropy = fastmath.cross_entropy
                self.fast_math = True
                self.kernels.append("fast CPU exp")
                fused = fastext.cross_entropy()
                if fused is not None:
                    cross_entropy = fused
                    self.kernels.append("fused C++ cross-entropy")
                if attention is not None:
                    self.kernels.append("fused C++ attention")
        self.base_dtype = self._convert_base(model) if p.base_dtype == "bfloat16" else "float32"

        def loss_fn(model, inputs, targets, mask):
            logits = model(inputs).astype(mx.float32)
            ce = cross_entropy(logits, targets) * mask
            ntok = mask.sum()
            return ce.sum() / ntok, ntok

        self._loss_fn = loss_fn
        loss_and_grad = nn.value_and_grad(model, loss_fn)
        optimizer = self.optimizer
        state = [model.state, optimizer.state, mx.random.state]

        def step(inputs, targets, mask):
            (loss, ntok), grads = loss_and_grad(model, inputs, targets, mask)
            optimizer.update(model, grads)
            return loss, ntok

        # Linears on unpadded tokens: the rows packed, padding nowhere (mlxlite.packed_forward); one process only.
        self.packed = False
        if self.fast_math and self.group is None and p.dropout == 0:
            from fmscript.ai import fastext
            from fmscript.ai.mlxlite import packed_forward

            forward = self._packed_forward = packed_forward(model, fastext.packed_attention())
            if forward is not None:
                self.packed = True
                self.kernels.append("packed rows (no padding)")

                def packed_loss(model, ids, targets, mask, rows):
                    ce = cross_entropy(forward(ids, rows).astype(mx.float32), targets) * mask
                    ntok = mask.sum()
                    return ce.sum() / ntok, ntok

                packed_grad = nn.value_and_grad(model, packed_loss)

                def step(ids, targets, mask, rows):  # noqa: F811 (the packed step replaces the padded one)
                    (loss, ntok), grads = packed_grad(model, ids, targets, mask, rows)
                    optimizer.update(model, grads)
                    return loss, ntok

        group = self.group
        if group is not None:
            # Data parallel: each process has its share of the batch's rows; its loss is divided by the whole
            # batch's token count, so the summed gradients are exactly those of the whole batch on one process.
            from fmscript.ai.distributed import all_sum_tree

            def shard_loss(model, inputs, targets, mask, denom):
                logits = model(inputs).astype(mx.float32)
                return (cross_entropy(logits, targets) * mask).sum() / denom, mask.sum()

            shard_grad = nn.value_and_grad(model, shard_loss)

            def step(inputs, targets, mask, denom):  # noqa: F811 (the distributed step replaces the plain one)
                (loss, ntok), grads = shard_grad(model, inputs, targets, mask, denom)
                grads = all_sum_tree(grads, group)
                optimizer.update(model, grads)
                return mx.distributed.all_sum(loss, group=group), ntok

        # Two CPU streams (cpu_streams 2): each half of the batch has its own mlx stream, and so its own thread,
        # for the elementwise ops, copies and reductions mlx runs on one thread per stream. Each half's loss is
        # divided by the whole batch's token count, so the two gradients add up to the whole batch's.
        self.streams = None
        self._saved_threads = None
        n_streams = cpu_streams_for(p)
        if n_streams == 2:
            why = ("mlx does not run on the CPU here" if mx.default_device() != mx.cpu else
                   "the job trains data-parallel over processes" if group is not None else
                   "batch_size is 1" if p.batch_size < 2 else None)
            if why:
                if cpu_streams_asked(p):  # the machine's own default falls back without a word
                    self.report(f"cpu_streams 2 is not used: {why}; one stream trains.", {"cpu_streams": 1},
                                level="warning")
            else:
                self.streams = _cpu_stream_pair()
                self.kernels.append("two CPU streams")
                self._half_setup(cross_entropy, state)

        def evaluate(inputs, targets, mask):
            loss, ntok = loss_fn(model, inputs, targets, mask)
            return loss * ntok, ntok

        if self.compile:
            from functools import partial

            step = partial(mx.compile, inputs=state, outputs=state)(step)
            evaluate = partial(mx.compile, inputs=state)(evaluate)
        self._step = step
        self._eval = evaluate
        self._state = state
        if self.streams is not None:
            self._step = self._two_stream_step
            from fmscript.ai import blas, fastext

            # One MKL thread and one kernel thread per stream: two streams are already two threads on two cores.
            self._saved_threads = (blas.set_threads(1), fastext.set_threads(1))

    def _half_setup(self, cross_entropy, state):
        """The compiled half step (loss and gradients of one half, over the whole batch's ``denom``) and the compiled
        update that adds the two halves' gradients. One compiled function serves both streams: mx.compile keeps a
        trace per default stream, and never fuses ops of two streams into one kernel."""
        import mlx.core as mx
        import mlx.nn as nn
        from mlx.utils import tree_map

        model, optimizer = self.model, self.optimizer
        if self.packed:
            forward = self._packed_forward

            def half_loss(model, ids, targets, mask, rows, denom):
                ce = cross_entropy(forward(ids, rows).astype(mx.float32), targets) * mask
                return ce.sum() / denom, mask.sum()
        else:
            def half_loss(model, inputs, targets, mask, denom):
                logits = model(inputs).astype(mx.float32)
                return (cross_entropy(logits, targets) * mask).sum() / denom, mask.sum()

        half_grad = nn.value_and_grad(model, half_loss)

        def half(*batch):
            (loss, ntok), grads = half_grad(model, *batch)
            return loss, ntok, grads

        def update(grads_a, grads_b):
            optimizer.update(model, tree_map(lambda a, b: a + b, grads_a, grads_b))

        if self.compile:
            from functools import partial

            # The model's state is an output too: nn.value_and_grad leaves its traced parameters in the model, and
            # compile puts the real ones back only into outputs. Dropout draws from mx.random.state in each half.
            live = [model.state, mx.random.state]
            half = partial(mx.compile, inputs=live, outputs=live)(half)
            update = partial(mx.compile, inputs=state, outputs=state)(update)
        self._half, self._update = half, update

    def prepare_batch(self, rows):
        """The arrays of one step (as the step takes them) and the batch's real token count."""
        import mlx.core as mx

        if self.streams is not None:
            denom = mx.array(float(sum(len(t) - max(off, 1) for t, off in rows)))  # every row's loss tokens
            halves = []
            for part in split_rows(rows, self.packed):
                b = make_packed_batch(part) if self.packed else make_batch(part, self.pad_id)
                halves.append(tuple(mx.array(x) for x in b[:-1]) + (denom,))
            return halves, sum(len(t) for t, _ in rows)
        b = make_packed_batch(rows) if self.packed else make_batch(rows, self.pad_id)
        return [mx.array(x) for x in b[:-1]], b[-1]

    def _two_stream_step(self, *halves):
        """One optimiser step from two halves, each on its own CPU stream; returns (loss, ntok) like the others."""
        import mlx.core as mx

        out = []
        for s, batch in zip(self.streams, halves):
            with mx.stream(s):
                out.append(self._half(*batch))
        (la, na, ga), (lb, nb, gb) = out
        self._update(ga, gb)
        return la + lb, na + nb

    def _threads_data(self) -> dict:
        """For the start event: how many CPU streams train, and (with two) the thread counts inside each."""
        if self.streams is None:
            return {"cpu_streams": 1}
        from fmscript.ai import blas, fastext

        return {"cpu_streams": len(self.streams), "mkl_threads": blas.get_threads(), "ext_threads": fastext.threads()}

    def _restore_threads(self):
        if self._saved_threads is None:
            return
        from fmscript.ai import blas, fastext

        mkl, ext = self._saved_threads
        if mkl is not None:
            blas.set_threads(mkl)
        if ext is not None:
            fastext.set_threads(ext)
        self._saved_threads = None

    def _convert_base(self, model) -> str:
        """bf16 frozen base weights: on the CPU only with a bf16 GEMM (mlx's own bf16 matmul is ~15x slower than
        its float32 one there), elsewhere with mlx's kernels. Returns the dtype the base ends up in."""
        import mlx.core as mx
        from fmscript.ai import fastext
        from fmscript.ai.mlxlite import bf16_base

        if mx.default_device() != mx.cpu:
            bf16_base(model)
            self.kernels.append("bf16 base weights")
            return "bfloat16"
        gemm = fastext.bf16_gemm()
        if not gemm:
            self.report("The base weights stay float32: bf16 needs fmscript's C++ kernels here "
                        f"({fastext.status()}).", {"base_dtype": "float32"}, level="warning")
            return "float32"
        bf16_base(model, fastext.bf16_linear)
        self.kernels.append(f"bf16 base weights ({gemm} GEMM)")
        return "bfloat16"

    # ------------------------------------------------------------------------------------------ checkpoints
    def _ckpt_link(self) -> Path | None:
        return self.run_dir / "checkpoint" if self.run_dir else None

    def save_checkpoint(self, step: int, trained_tokens: int) -> None:
        """``runs/<job>/ckpt-<step>/`` written in a temporary folder, then ``checkpoint`` re-pointed at it."""
        if not self.run_dir or self.rank != 0:  # one writer; the others resume from the same folder
            return
        import mlx.core as mx
        from mlx.utils import tree_flatten

        self.run_dir.mkdir(parents=True, exist_ok=True)
        final = self.run_dir / f"ckpt-{step:08d}"
        tmp = self.run_dir / f".tmp-ckpt-{step:08d}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        mx.save_safetensors(str(tmp / ADAPTER_FILE), dict(tree_flatten(self.model.trainable_parameters())))
        mx.save_safetensors(str(tmp / "optimizer.safetensors"), dict(tree_flatten(self.optimizer.state)))
        (tmp / "state.json").write_text(json.dumps({"step": step, "trained_tokens": trained_tokens,
                                                    "params": self.p.to_json()}))
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
        link, tmp_link = self.run_dir / "checkpoint", self.run_dir / ".checkpoint.tmp"
        if tmp_link.is_symlink() or tmp_link.exists():
            tmp_link.unlink()
        os.symlink(final.name, tmp_link)
        os.replace(tmp_link, link)
        for old in self.run_dir.glob("ckpt-*"):
            if old.name != final.name:
                shutil.rmtree(old, ignore_errors=True)

    def load_checkpoint(self) -> tuple[int, int]:
        """Restore adapter and optimizer from ``runs/<job>/checkpoint``; returns (step, trained tokens)."""
        link = self._ckpt_link()
        if link is None or not (link / "state.json").is_file():
            return 0, 0
        import mlx.core as mx
        from mlx.utils import tree_unflatten

        st = json.loads((link / "state.json").read_text())
        self.model.load_weights(list(mx.load(str(link / ADAPTER_FILE)).items()), strict=False)
        opt = mx.load(str(link / "optimizer.safetensors"))
        self.optimizer.state = tree_unflatten(list(opt.items()))
        self._state[1] = self.optimizer.state
        mx.eval(self.model.parameters(), self.optimizer.state)
        return int(st["step"]), int(st.get("trained_tokens", 0))

    # ------------------------------------------------------------------------------------------ run
    def validation_loss(self) -> float | None:
        if not self.val_idx:
            return None
        import mlx.core as mx

        total, count = 0.0, 0.0
        bs = max(1, min(self.p.batch_size, 8))
        for i in range(0, len(self.val_idx), bs):
            rows = [self.rows[j] for j in self.val_idx[i:i + bs]]
            inp, tgt, msk, _ = make_batch(rows, self.pad_id)
            s, n = self._eval(mx.array(inp), mx.array(tgt), mx.array(msk))
            mx.eval(s, n)
            total += s.item()
            count += n.item()
        return total / count if count else None

    def total_steps(self) -> int:
        p = self.p
        if p.epochs:
            return max(1, math.ceil(p.epochs * len(self.train_idx) / p.batch_size))
        return p.max_steps

    def run(self, resume: bool = True, stage_dir: str | os.PathLike | None = None) -> TrainResult:
        """Train to the end (or until ``should_stop`` answers) and, on success, write the adapter to ``stage_dir``."""
        t_setup = time.perf_counter()
        self._setup()
        try:
            return self._train(resume, stage_dir, t_setup)
        finally:
            self._restore_threads()

    def _train(self, resume: bool, stage_dir, t_setup: float) -> TrainResult:
        import mlx.core as mx

        p = self.p
        total = self.total_steps()
        start_step, trained_tokens = (self.load_checkpoint() if resume else (0, 0))
        start_tokens = trained_tokens
        if start_step:
            self.report(f"Resumed from the checkpoint at step {start_step}.", {"resumed_from": start_step})
        self.report(f"Training {len(self.train_idx)} examples ({len(self.val_idx)} held out for validation), "
                    f"{total} steps, batch {p.batch_size}, LoRA rank {p.rank} on the last {self.num_layers} "
                    f"blocks{''.join(', ' + k for k in self.kernels)} (setup {time.perf_counter() - t_setup:.1f} s).",
                    {"total_steps": total, "train_examples": len(self.train_idx),
                     "validation_examples": len(self.val_idx), "base_dtype": self.base_dtype,
                     "kernels": self.kernels, **self._threads_data()})

        metrics, stopped = [], None
        t0 = time.perf_counter()
        eval_seconds = 0.0  # validation and checkpoints: left out of tokens/s
        win_t, win_tokens, win_loss, win_steps = t0, 0, 0.0, 0
        last_train = last_val = None
        step = start_step
        stop_check_t = 0.0
        while step < total:
            rows = [self.rows[i] for i in batch_indices(self.train_idx, p.batch_size, step, p.seed)]
            if self.group is None:
                args, real = self.prepare_batch(rows)
                loss, ntok = self._step(*args)
            else:
                real = sum(len(t) for t, _ in rows)
                denom = float(sum(len(t) - max(off, 1) for t, off in rows))  # every row's loss tokens
                inp, tgt, msk, _ = make_batch(rows[self.rank::self.world], self.pad_id)
                loss, ntok = self._step(mx.array(inp), mx.array(tgt), mx.array(msk), mx.array(denom))
            mx.eval(loss, self._state)
            step += 1
            trained_tokens += real
            win_tokens += real
            win_loss += loss.item()
            win_steps += 1
            report_now = step % p.steps_per_report == 0 or step == total
            eval_now = step % p.steps_per_eval == 0 or step == total
            if report_now or eval_now:
                now = time.perf_counter()
                last_train = win_loss / win_steps
                data = {"step": step, "total_steps": total, "train_loss": round(last_train, 6),
                        "tokens_per_sec": round(win_tokens / max(now - win_t, 1e-9), 1),
                        "elapsed": round(now - t0, 3), "trained_tokens": trained_tokens}
                if eval_now and self.val_idx and self.rank == 0:
                    t_eval = time.perf_counter()
                    last_val = self.validation_loss()
                    data["val_loss"] = round(last_val, 6)
                    eval_seconds += time.perf_counter() - t_eval
                metrics.append(data)
                self.report(f"Step {step}/{total}: train loss {last_train:.4f}"
                            + (f", validation loss {data['val_loss']:.4f}" if "val_loss" in data else "")
                            + f", {data['tokens_per_sec']:.0f} tokens/s.", data)
                win_t, win_tokens, win_loss, win_steps = time.perf_counter(), 0, 0.0, 0
            if self.run_dir and step % p.save_every == 0 and step < total:
                t_save = time.perf_counter()
                self.save_checkpoint(step, trained_tokens)
                eval_seconds += time.perf_counter() - t_save
            now = time.perf_counter()
            if self.group is not None:  # rank 0 decides; every process learns it at the same step
                code = 0
                if self.rank == 0 and now - stop_check_t > 0.25:
                    stop_check_t = now
                    code = _STOP_CODES.get(self.should_stop(), 0)
                code = int(mx.distributed.all_sum(mx.array(code), group=self.group).item())
                stopped = {v: k for k, v in _STOP_CODES.items()}.get(code)
                if stopped:
                    if stopped == "shutdown" and self.run_dir:
                        self.save_checkpoint(step, trained_tokens)
                    break
            elif now - stop_check_t > 0.25:
                stop_check_t = now
                stopped = self.should_stop()
                if stopped:
                    if stopped == "shutdown" and self.run_dir:
                        self.save_checkpoint(step, trained_tokens)
                    break
        seconds = time.perf_counter() - t0 - eval_seconds
        ran_tokens = trained_tokens - start_tokens
        result = TrainResult(step, trained_tokens, last_train, last_val, stopped, None, metrics,
                             tokens_per_sec=ran_tokens / seconds if seconds > 0 and ran_tokens else None,
                             seconds=seconds)
        if stopped is None and stage_dir is not None and self.rank == 0:
            result.adapter_dir = self.write_adapter(stage_dir)
        return result

    def write_adapter(self, dest: str | os.PathLike) -> Path:
        """Write ``adapters.safetensors`` and ``adapter_config.json`` (mlx-lm's format) into a fresh folder."""
        import mlx.core as mx
        from mlx.utils import tree_flatten

        dest = Path(dest)
        shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir(parents=True)
        mx.save_safetensors(str(dest / ADAPTER_FILE), dict(tree_flatten(self.model.trainable_parameters())))
        cfg = {"fine_tune_type": "lora", "num_layers": self.num_layers, "lora_parameters": self.lora_config,
               "model": str(self.base_path), "mask_prompt": self.p.mask_prompt, "batch_size": self.p.batch_size,
               "learning_rate": self.p.learning_rate, "iters": self.total_steps(), "seed": self.p.seed}
        (dest / "adapter_config.json").write_text(json.dumps(cfg, indent=2) + "\n")
        return dest
