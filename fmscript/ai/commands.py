"""``fmscript models …`` and ``fmscript jobs …``, plus the progress bar that ``fmscript run`` shows while waiting.

The main CLI calls :func:`add_commands` with its subparsers; every handler is ``handler(args) -> int`` with the
conventions' exit codes: 0 ok, 1 a job failed (or was cancelled), 2 usage or I/O error.
"""
from __future__ import annotations

import json
import os
import struct
import sys
import time
import zlib

from fmscript.errors import FMScriptError

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
    p.add_argument("--corpus", metavar="FILE", help="text to train the tokenizer on (default: the shipped corpus)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(handler=cmd_models_create_tiny)

    j = subparsers.add_parser("jobs", help="list, show, cancel or wait for fine-tuning jobs")
    jsub = j.add_subparsers(dest="jobs_command", metavar="COMMAND")
    jsub.required = True
    p = jsub.add_parser("list", help="recent jobs, newest first")
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_jobs_list)
    p = jsub.add_parser("show", help="one job with its events")
    p.add_argument("id")
    p.add_argument("--plot", metavar="FILE.png", help="draw the loss curve into a PNG file")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_jobs_show)
    p = jsub.add_parser("cancel", help="cancel a queued or running job")
    p.add_argument("id")
    p.set_defaults(handler=cmd_jobs_cancel)
    p = jsub.add_parser("wait", help="wait for a job to end, with a progress bar on a terminal")
    p.add_argument("id")
    p.add_argument("--timeout", type=float, default=None, help="seconds")
    p.set_defaults(handler=cmd_jobs_wait)


def _err(e: FMScriptError | str) -> None:
    sys.stderr.write((e.render() if isinstance(e, FMScriptError) else f"fmscript: error: {e}") + "\n")


def _guard(fn):
    def run(args) -> int:
        try:
            return fn(args)
        except FMScriptError as e:
            _err(e)
            return EXIT_USAGE
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
    from fmscript.ai.tinymodel import create_tiny

    t = time.perf_counter()
    path = create_tiny(args.name, size=args.size, corpus_path=args.corpus, seed=args.seed)
    print(f"Created {args.size} model {args.name} in {path} ({time.perf_counter() - t:.1f} s).")
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
        write_loss_png(args.plot, points)
        sys.stderr.write(f"Wrote the loss curve to {args.plot}.\n")
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

    engine = LocalEngine()
    bar = ProgressBar(label=args.id)
    try:
        res = engine.wait(args.id, timeout=args.timeout, on_progress=bar.on_event)["result"]
    finally:
        bar.close()
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


# ---------------------------------------------------------------------------------------------- progress

class ProgressBar:
    """Job progress on stderr: a redrawn bar on a terminal (step/total, loss, tokens/s, ETA), plain lines otherwise.

    Feed it job events (``on_event``), as ``LocalEngine.wait(on_progress=bar.on_event)`` does.
    """

    def __init__(self, stream=None, label: str = "", width: int = 28, tty: bool | None = None):
        self.stream = stream or sys.stderr
        self.label = label
        self.width = width
        self.tty = self.stream.isatty() if tty is None else tty
        self.color = self.tty and not os.environ.get("NO_COLOR")
        self._drawn = False
        self.total = None

    def on_event(self, event: dict) -> None:
        d = event.get("data") or {}
        if "total_steps" in d:
            self.total = d["total_steps"]
        if "step" in d:
            self.update(d["step"], d.get("total_steps") or self.total, d.get("train_loss"), d.get("val_loss"),
                        d.get("tokens_per_sec"), d.get("elapsed"))
        elif not self.tty:
            self._line(event.get("message", ""))
        elif event.get("level") in ("warning", "error"):
            self._line(event.get("message", ""))

    def update(self, step, total, loss=None, val_loss=None, tokens_per_sec=None, elapsed=None) -> None:
        total = total or step or 1
        frac = min(1.0, step / total)
        eta = ""
        if elapsed and step:
            rem = elapsed / step * (total - step)
            eta = f" ETA {int(rem // 60)}:{int(rem % 60):02d}"
        parts = [f"{step}/{total}"]
        if loss is not None:
            parts.append(f"loss {loss:.4f}")
        if val_loss is not None:
            parts.append(f"val {val_loss:.4f}")
        if tokens_per_sec:
            parts.append(f"{tokens_per_sec:,.0f} tok/s")
        text = " ".join(parts) + eta
        if self.tty:
            filled = int(frac * self.width)
            bar = "█" * filled + "░" * (self.width - filled)
            if self.color:
                bar = f"\x1b[36m{bar}\x1b[0m"
            label = f"{self.label} " if self.label else ""
            self.stream.write(f"\r\x1b[2K{label}{bar} {frac * 100:3.0f}% {text}")
            self.stream.flush()
            self._drawn = True
        else:
            self._line(("" if not self.label else self.label + ": ") + "step " + text)

    def _line(self, text: str) -> None:
        if self._drawn:
            self.stream.write("\n")
            self._drawn = False
        self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False


# ---------------------------------------------------------------------------------------------- PNG plot

def write_loss_png(path: str, points: list[tuple], width: int = 640, height: int = 360) -> None:
    """Draw train (blue) and validation (orange) loss against step into a PNG; no plotting library needed."""
    W, H, M = width, height, 40
    img = bytearray(b"\xff" * (W * H * 3))

    def px(x, y, c):
        if 0 <= x < W and 0 <= y < H:
            i = (y * W + x) * 3
            img[i:i + 3] = bytes(c)

    def line(x0, y0, x1, y1, c):
        dx, dy = abs(x1 - x0), -abs(y1 - y0)
        sx, sy = (1 if x0 < x1 else -1), (1 if y0 < y1 else -1)
        err = dx + dy
        while True:
            for ox in (0, 1):
                for oy in (0, 1):
                    px(x0 + ox, y0 + oy, c)
            if x0 == x1 and y0 == y1:
                break
            e2 = 2 * err
            if e2 >= dy:
                err += dy
                x0 += sx
            if e2 <= dx:
                err += dx
                y0 += sy

    steps = [p[0] for p in points]
    vals = [v for p in points for v in p[1:] if v is not None]
    smin, smax = min(steps), max(steps)
    vmin, vmax = (min(vals), max(vals)) if vals else (0.0, 1.0)
    if vmax - vmin < 1e-9:
        vmax = vmin + 1.0
    if smax == smin:
        smax = smin + 1

    def xy(s, v):
        return (M + int((s - smin) / (smax - smin) * (W - 2 * M)),
                H - M - int((v - vmin) / (vmax - vmin) * (H - 2 * M)))

    grey = (200, 200, 200)
    for k in range(5):  # grid
        y = M + k * (H - 2 * M) // 4
        line(M, y, W - M, y, grey)
    black = (0, 0, 0)
    line(M, H - M, W - M, H - M, black)
    line(M, M, M, H - M, black)
    for idx, colour in ((1, (31, 119, 180)), (2, (255, 127, 14))):
        series = [(p[0], p[idx]) for p in points if p[idx] is not None]
        for (s0, v0), (s1, v1) in zip(series, series[1:]):
            line(*xy(s0, v0), *xy(s1, v1), colour)
        for s, v in series:
            x, y = xy(s, v)
            for ox in (-2, -1, 0, 1, 2):
                for oy in (-2, -1, 0, 1, 2):
                    px(x + ox, y + oy, colour)
    raw = b"".join(b"\x00" + bytes(img[y * W * 3:(y + 1) * W * 3]) for y in range(H))

    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", W, H, 8, 2, 0, 0, 0)) + \
        chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    # Title-less by design: the caller's file name says what it is; axes run from the lowest to the highest value.
    tmp = f"{path}.tmp"
    with open(tmp, "wb") as f:
        f.write(png)
    os.replace(tmp, path)
