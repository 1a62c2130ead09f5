"""``fmscript models …`` and ``fmscript jobs …`` (waiting and progress: :mod:`fmscript.ai.waiting`).

The main CLI calls :func:`add_commands` with its subparsers; every handler is ``handler(args) -> int`` with the
conventions' exit codes: 0 ok, 1 a job failed (or was cancelled), 2 usage or I/O error.
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

from fmscript.errors import FMScriptError, UsageError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def add_commands(subparsers) -> None:
    """Add ``models`` and ``jobs`` to an argparse subparsers object."""
    m = subparsers.add_parser("models", help="list, show, remove or build local models")
    msub = m.add_subparsers(dest="models_command", metavar="COMMAND")
    msub.required = True
    p = msub.add_parser("list", help="base models (models/) and tuned models (tuned/) in the fmscript home")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=cmd_models_list)
    p = msub.add_parser("show", help="details of one model")
    p.add_argument("name")
    p.set_defaults(handler=cmd_models_show)
    p = msub.add_parser("remove", help="delete a tuned or base model from the fmscript home")
    p.add_argument("name")
    p.set_defaults(handler=cmd_models_remove)
    p = msub.add_parser("create-tiny", help="build a small random llama model with its own tokenizer (offline)")
    p.add_argument("name")
    p.add_argument("--size", choices=["tiny", "small"], default="tiny")
    p.add_argument("--kind", choices=["chat", "embedding"], default="chat",
                   help="embedding: a decoder embedding model NAME (last-token pooling) and a BERT-style encoder "
                        "NAME-bert (mean pooling, needs mlx-embeddings)")
    p.add_argument("--corpus", metavar="FILE", help="text to train the tokenizer on (default: the shipped corpus)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--force", action="store_true", help="replace a model of that name")
    p.add_argument("--arch", default="llama", choices=_arch_names(),
                   help="model family: fmscript's own llama (default) or a family's architecture and chat template")
    p.set_defaults(handler=cmd_models_create_tiny)
    p = msub.add_parser("quantize", help="a 4- or 8-bit copy of a base model (QLoRA trains adapters on it)")
    p.add_argument("name")
    p.add_argument("--bits", type=int, choices=[4, 8], default=4)
    p.add_argument("--group-size", type=int, choices=[32, 64, 128], default=64)
    p.add_argument("--out", metavar="NAME", help="name of the new model (default: NAME-<bits>bit)")
    p.add_argument("--force", action="store_true", help="replace a model of that name")
    p.set_defaults(handler=cmd_models_quantize)
    p = msub.add_parser("fuse", help="merge a tuned model's adapter into its base: a standalone Hugging Face folder")
    p.add_argument("name")
    p.add_argument("--out", metavar="NAME", help="name of the new model (default: NAME-fused)")
    p.add_argument("--dequantize", action="store_true", help="write full-precision weights from a quantized base")
    p.add_argument("--gguf", action="store_true", help="also write model.gguf (llama and mistral models)")
    p.add_argument("--force", action="store_true", help="replace a model of that name")
    p.set_defaults(handler=cmd_models_fuse)

    j = subparsers.add_parser("jobs", help="list, show, cancel or wait for fine-tuning jobs")
    jsub = j.add_subparsers(dest="jobs_command", metavar="COMMAND")
    jsub.required = True
    p = jsub.add_parser("list", help="recent jobs, newest first")
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_jobs_list)
    p = jsub.add_parser("show", help="one job with its events")
    p.add_argument("id")
    p.add_argument("--plot", metavar="FILE", help="draw the loss curves into FILE.png or FILE.svg (needs matplotlib)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_jobs_show)
    p = jsub.add_parser("cancel", help="cancel a queued or running job")
    p.add_argument("id")
    p.set_defaults(handler=cmd_jobs_cancel)
    p = jsub.add_parser("wait", help="wait for a job to end, with a progress bar on a terminal")
    p.add_argument("id")
    p.add_argument("--timeout", type=float, default=None, help="seconds")
    p.set_defaults(handler=cmd_jobs_wait)


def _arch_names() -> list[str]:
    from fmscript.ai.families import arch_names

    return arch_names()


def _err(e: FMScriptError | str) -> None:
    sys.stderr.write((e.render() if isinstance(e, FMScriptError) else f"fmscript: error: {e}") + "\n")


def _guard(fn):
    def run(args) -> int:
        try:
            return fn(args)
        except FMScriptError as e:
            _err(e)
            return EXIT_USAGE
        except BrokenPipeError:
            raise  # the reader went away: the command line stops quietly
        except OSError as e:
            _err(f"{e.strerror or e}: {e.filename or ''}".rstrip(": "))
            return EXIT_USAGE
    run.__name__ = fn.__name__
    run.__doc__ = fn.__doc__
    return run


def _size(n: int | None) -> str:
    if not n:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


# ---------------------------------------------------------------------------------------------- models

@_guard
def cmd_models_list(args) -> int:
    from fmscript.ai.modelstore import list_models

    models = list_models()
    if getattr(args, "json", False):
        print(json.dumps(models, indent=2))
        return EXIT_OK
    if not models:
        print("No models yet. 'fmscript models create-tiny NAME' builds one; fmscript/tiny-chat is built on first use.")
        return EXIT_OK
    print(f"{'NAME':40} {'KIND':6} {'SIZE':>10}  DETAIL")
    for m in models:
        detail = f"{m.get('parameters', 0) / 1e6:.2f}M params" if m["kind"] == "base" else \
            f"base {m.get('base_model')}"
        print(f"{m['id']:40} {m['kind']:6} {_size(m.get('bytes')):>10}  {detail}")
    return EXIT_OK


@_guard
def cmd_models_show(args) -> int:
    from fmscript.ai.modelstore import show_model

    print(json.dumps(show_model(args.name), indent=2))
    return EXIT_OK


@_guard
def cmd_models_remove(args) -> int:
    from fmscript.ai.modelstore import remove_model

    r = remove_model(args.name)
    print(f"Removed {r['kind']} model {args.name}.")
    return EXIT_OK


@_guard
def cmd_models_create_tiny(args) -> int:
    from fmscript.ai.modelstore import check_model_name, models_root
    from fmscript.ai.tinymodel import create_tiny

    check_model_name(args.name)
    dest = models_root() / args.name
    if dest.exists() and not args.force:
        raise UsageError(f"a model named {args.name} already exists in {dest}; give --force to replace it")
    t = time.perf_counter()
    if args.kind == "embedding":
        path = create_tiny(args.name, corpus_path=args.corpus, seed=args.seed, kind="embedding")
        print(f"Created embedding model {args.name} (decoder, last-token pooling) in {path}.")
        bert = f"{args.name}-bert"
        try:
            path = create_tiny(bert, corpus_path=args.corpus, seed=args.seed, kind="bert")
            print(f"Created embedding model {bert} (BERT-style, mean pooling) in {path} "
                  f"({time.perf_counter() - t:.1f} s).")
        except FMScriptError as e:
            print(f"Skipped the BERT-style model: {e.message}", file=sys.stderr)
        return EXIT_OK
    arch = getattr(args, "arch", "llama")
    path = create_tiny(args.name, size=args.size, corpus_path=args.corpus, seed=args.seed, arch=arch)
    print(f"Created {args.size} {arch} model {args.name} in {path} ({time.perf_counter() - t:.1f} s).")
    return EXIT_OK


@_guard
def cmd_models_quantize(args) -> int:
    from fmscript.ai.quantize import quantize

    t = time.perf_counter()
    path = quantize(args.name, bits=args.bits, group_size=args.group_size, out=args.out, overwrite=args.force)
    print(f"Quantized {args.name} to {args.bits} bits in {path} ({time.perf_counter() - t:.1f} s).")
    return EXIT_OK


@_guard
def cmd_models_fuse(args) -> int:
    from fmscript.ai.fuse import fuse

    t = time.perf_counter()
    path = fuse(args.name, out=args.out, dequantize=args.dequantize, gguf=args.gguf, overwrite=args.force)
    print(f"Fused {args.name} into {path} ({time.perf_counter() - t:.1f} s)"
          + (f"; GGUF: {path / 'model.gguf'}." if args.gguf else "."))
    return EXIT_OK


# ---------------------------------------------------------------------------------------------- jobs

def _ts(ms) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ms / 1000)) if ms else "-"


@_guard
def cmd_jobs_list(args) -> int:
    from fmscript.ai.jobs import JobStore

    jobs = JobStore().list_jobs(limit=args.limit)
    if getattr(args, "json", False):
        print(json.dumps(jobs, indent=2))
        return EXIT_OK
    if not jobs:
        print("No fine-tuning jobs.")
        return EXIT_OK
    print(f"{'ID':24} {'STATUS':10} {'STEP':>11} {'CREATED':19}  MODEL → TUNED")
    for j in jobs:
        step = f"{j.get('step') or 0}/{j.get('total_steps') or '?'}"
        print(f"{j['id']:24} {j['status']:10} {step:>11} {_ts(j['created_at']):19}  "
              f"{j['model']} → {j['fine_tuned_model']}")
    return EXIT_OK


@_guard
def cmd_jobs_show(args) -> int:
    from fmscript.ai.jobs import JobStore

    if args.plot:
        check_plot_path(args.plot)
    store = JobStore()
    job = store.get_job(args.id)
    events = store.events(args.id)
    if getattr(args, "json", False):
        print(json.dumps({"job": job, "events": events}, indent=2))
    else:
        for k in ("id", "status", "model", "fine_tuned_model", "training_file_name", "training_file",
                  "created_at", "started_at", "finished_at", "step", "total_steps", "trained_tokens", "error"):
            v = job.get(k)
            if k.endswith("_at"):
                v = _ts(v)
            if v is not None:
                print(f"{k:20} {v}")
        print(f"{'hyperparameters':20} {json.dumps(job['hyperparameters'])}")
        print("events:")
        for e in events:
            print(f"  {_ts(e['ts'])} {e['level']:7} {e['message']}")
    if args.plot:
        points = [(d["step"], d.get("train_loss"), d.get("val_loss")) for d in store.metrics(args.id)]
        if not points:
            _err(f"The job {args.id} has no loss values to plot yet.")
            return EXIT_USAGE
        write_loss_plot(args.plot, points, title=f"Fine-tuning job {args.id}: {job['model']} → "
                                                 f"{job['fine_tuned_model']}")
        sys.stderr.write(f"Wrote the loss curves to {args.plot}.\n")
    return EXIT_OK


@_guard
def cmd_jobs_cancel(args) -> int:
    from fmscript.ai.jobs import JobStore

    job = JobStore().cancel_job(args.id)
    print(f"{job['id']} {job['status']}")
    return EXIT_OK


@_guard
def cmd_jobs_wait(args) -> int:
    from fmscript.ai.local import LocalEngine
    from fmscript.ai.waiting import wait_for_job

    engine = LocalEngine()
    engine.job(args.id)  # an unknown id is an error before any waiting
    res = wait_for_job(engine, args.id, timeout=args.timeout)["result"]
    print(json.dumps({"result": res}, ensure_ascii=False))
    if res["status"] == "succeeded":
        return EXIT_OK
    if res["status"] in ("failed", "cancelled"):
        job = engine.job(args.id)
        if job.get("error"):
            sys.stderr.write(f"fmscript: job {args.id} {res['status']}: {job['error']}\n")
        return EXIT_FAILED
    sys.stderr.write(f"fmscript: job {args.id} is still {res['status']} after {args.timeout} seconds.\n")
    return EXIT_FAILED


# ---------------------------------------------------------------------------------------------- plot

PLOT_FORMATS = {".png": "png", ".svg": "svg"}


def check_plot_path(path: str) -> str:
    """The plot's format from the file's suffix; a usage error for other suffixes or a folder that is missing."""
    p = Path(path)
    fmt = PLOT_FORMATS.get(p.suffix.lower())
    if fmt is None:
        raise UsageError(f"--plot writes PNG or SVG files: give a name ending in .png or .svg, not {p.name!r}")
    folder = p.parent if str(p.parent) else Path(".")
    if not folder.is_dir():
        raise UsageError(f"cannot write {path}: the folder {folder} does not exist")
    return fmt


def write_loss_plot(path: str, points: list[tuple], title: str = "Loss") -> None:
    """Train and validation loss against the step, drawn with matplotlib into a PNG or SVG (by the suffix)."""
    fmt = check_plot_path(path)
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise UsageError("--plot needs matplotlib: pip install 'fmscript[plot]'") from None
    fig = Figure(figsize=(8, 4.5), dpi=100, layout="constrained")
    ax = fig.subplots()
    for idx, label, colour in ((1, "train loss", "tab:blue"), (2, "validation loss", "tab:orange")):
        series = [(p[0], p[idx]) for p in points if p[idx] is not None]
        if series:
            ax.plot([s for s, _ in series], [v for _, v in series], label=label, color=colour,
                    marker="o" if len(series) <= 30 else None, markersize=3)
    ax.set_xlabel("step")
    ax.set_ylabel("loss (cross-entropy)")
    ax.set_title(title, fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend()
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=target.suffix, dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fig.savefig(fh, format=fmt)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it private; a picture is as readable as any new file
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
