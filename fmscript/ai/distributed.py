"""Data-parallel LoRA over several processes with mlx's distributed layer (its ring backend, TCP).

Why data parallel: LoRA's trainable state is tiny, so every process keeps the whole model and trains on its share
of each batch's rows; after the backward pass the adapters' gradients are summed (``all_sum``) and every process
takes the same optimizer step. Each share's loss is divided by the token count of the whole batch, so the sum is
exactly the gradient one process would compute on the whole batch (the same losses, to float rounding).

``fmscript.ai.worker`` runs a job with ``processes`` > 1 (a Fine-Tune Parameter, or the server-wide
``FMSCRIPT_TRAIN_PROCESSES``) through ``mlx.launch --backend ring``: on this machine, or on the hosts of
``FMSCRIPT_TRAIN_HOSTFILE`` (mlx's host file; every host needs fmscript, the same base model path and the run
folder on a shared file system). Rank 0 reports, checks for cancel, writes checkpoints and the adapter; the other
ranks compute. A cancel or a stop reaches every rank at the same step; a resumed job loads the checkpoint on every
rank, so durability (checkpoint, resume after kill -9) is the single-process one.

``python -m fmscript.ai.distributed`` is what each process runs: ``--job ID --stage DIR`` for the worker, or
``--base PATH --data FILE --params JSON --out FILE`` to train a file outside any job (tests, benchmarks).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from fmscript.errors import E_INVALID_PARAMETER, FMScriptError

RESULT_FILE = "distributed-result.json"
STOP_FILE = "stop"  # written by the worker into the run folder: rank 0 checkpoints and every rank stops


def training_group():
    """mlx's distributed group when this process was started by ``mlx.launch`` with more than one process."""
    if not (os.environ.get("MLX_HOSTFILE") or os.environ.get("MLX_RANK")):
        return None
    import mlx.core as mx

    group = mx.distributed.init()
    return group if group.size() > 1 else None


def all_sum_tree(tree, group):
    """Sum every array of a gradient tree over the processes: one flat buffer per dtype, one ``all_sum`` each."""
    import mlx.core as mx
    from mlx.utils import tree_flatten, tree_unflatten

    flat = tree_flatten(tree)
    if not flat:
        return tree
    out = []
    by_dtype = {}
    for i, (_, v) in enumerate(flat):
        by_dtype.setdefault(v.dtype, []).append(i)
    summed = [None] * len(flat)
    for idx in by_dtype.values():
        big = mx.concatenate([flat[i][1].reshape(-1) for i in idx])
        big = mx.distributed.all_sum(big, group=group)
        start = 0
        for i in idx:
            v = flat[i][1]
            summed[i] = big[start:start + v.size].reshape(v.shape)
            start += v.size
    out = [(k, summed[i]) for i, (k, _) in enumerate(flat)]
    return tree_unflatten(out)


def processes_for(params) -> int:
    """How many processes train a job: its ``processes`` parameter, else ``FMSCRIPT_TRAIN_PROCESSES``, else 1."""
    if getattr(params, "processes", None):
        return int(params.processes)
    raw = os.environ.get("FMSCRIPT_TRAIN_PROCESSES", "").strip()
    if not raw:
        return 1
    try:
        n = int(raw)
    except ValueError:
        raise FMScriptError(f"FMSCRIPT_TRAIN_PROCESSES must be a whole number, not {raw!r}.",
                            code=E_INVALID_PARAMETER) from None
    return max(1, n)


def launch_command(processes: int, args: list[str], hostfile: str | None = None) -> list[str]:
    """``mlx.launch`` (as ``python -m``) running ``python -m fmscript.ai.distributed ARGS`` on each process."""
    hostfile = hostfile or os.environ.get("FMSCRIPT_TRAIN_HOSTFILE") or None
    cmd = [sys.executable, "-c", "from mlx._distributed_utils.launch import main; main()", "--backend", "ring"]
    if hostfile:
        cmd += ["--hostfile", hostfile]
    else:
        cmd += ["-n", str(processes)]
    return cmd + ["--", sys.executable, "-m", "fmscript.ai.distributed", *args]


# ---------------------------------------------------------------------------------------------- one process

def _run_job(job_id: str, stage: str) -> int:
    """One rank of a worker's job. Rank 0 reports to the job store and writes the result for the worker."""
    from fmscript import home as fmhome
    from fmscript.ai import modelstore
    from fmscript.ai.jobs import JobStore
    from fmscript.ai.params import FineTuneParams
    from fmscript.ai.trainer import LoRATrainer
    from fmscript.ai.trainingdata import load_examples
    from fmscript.ai.worker import process_alive

    store = JobStore()
    job = store.get_job(job_id)
    params = FineTuneParams.from_json(job["hyperparameters"])
    examples = load_examples(store.get_file(job["training_file"])["path"])
    base = modelstore.resolve_model(job["model"], fetch=True)
    worker_pid = int(os.environ.get("FMSCRIPT_DIST_WORKER", "0") or 0)
    run_dir = fmhome.runs_dir(job_id, ensure=True)

    def report(message, data=None, level="info"):
        if store.add_event(job_id, message, level, data, only_running=True) and data and "step" in data:
            store.update_progress(job_id, data["step"], data.get("trained_tokens") or 0)

    def should_stop():
        if (worker_pid and not process_alive(worker_pid)) or (run_dir / STOP_FILE).exists():
            return "shutdown"
        return None if store.status_of(job_id) == "running" else "cancelled"

    trainer = LoRATrainer(base.base_path, params, examples, run_dir=run_dir, report=report, should_stop=should_stop)
    result = trainer.run(resume=True, stage_dir=stage)
    if trainer.rank == 0:
        out = {"steps": result.steps, "trained_tokens": result.trained_tokens, "train_loss": result.train_loss,
               "val_loss": result.val_loss, "stopped": result.stopped, "seconds": result.seconds,
               "tokens_per_sec": result.tokens_per_sec, "processes": trainer.world,
               "base_path": str(base.base_path)}
        tmp = run_dir / (RESULT_FILE + ".tmp")
        tmp.write_text(json.dumps(out))
        os.replace(tmp, run_dir / RESULT_FILE)
    return 0


def _run_file(base: str, data: str, params: str, out: str | None, stage: str | None) -> int:
    from fmscript.ai.params import parse_params
    from fmscript.ai.trainer import LoRATrainer
    from fmscript.ai.trainingdata import load_examples

    trainer = LoRATrainer(base, parse_params(params), load_examples(data))
    result = trainer.run(resume=False, stage_dir=stage)
    if trainer.rank == 0 and out:
        Path(out).write_text(json.dumps({"processes": trainer.world, "metrics": result.metrics,
                                         "train_loss": result.train_loss, "steps": result.steps}))
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m fmscript.ai.distributed")
    ap.add_argument("--job")
    ap.add_argument("--stage")
    ap.add_argument("--base")
    ap.add_argument("--data")
    ap.add_argument("--params", default="{}")
    ap.add_argument("--out")
    a = ap.parse_args(argv)
    from fmscript.ai import blas

    blas.load_into_this_process()
    if a.job:
        return _run_job(a.job, a.stage)
    return _run_file(a.base, a.data, a.params, a.out, a.stage)


if __name__ == "__main__":
    sys.exit(main())
