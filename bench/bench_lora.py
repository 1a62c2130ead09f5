#!/usr/bin/env python
"""LoRA fine-tuning speed: fmscript's local engine vs the stock ``mlx_lm lora`` CLI vs PyTorch + PEFT.

One command, same data, same models, same run:

    python bench/bench_lora.py                 # tiny and small
    python bench/bench_lora.py --sizes tiny    # just the tiny model

Setup for every runner: the models from ``fmscript models create-tiny`` (tiny, small), 200 training and 20
validation chat rows (~72 tokens), LoRA rank 8 / scale 20 / dropout 0 on all 7 linear layers of every block,
batch 4, AdamW lr 1e-3 with bias correction and no weight decay, fp32, loss on every token, 100 steps
(``mlx_lm lora`` on stock mlx: 10 steps on small, it runs at ~22 tokens/s). fmscript and PEFT see the very same
batches in the same order; mlx-lm batches its own way (sorted by length, padded to 1+32k).

Each runner is a separate process, so peak RSS is its own (``wait4``; fmscript's is its worker's). tokens/s counts
the real (unpadded) tokens of the training steps, without model loading and validation. torch and peft come
from the ``bench`` extra (``pip install -e .[bench]``); fmscript never imports them.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LINEAR = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
RANK, SCALE, LR, BATCH, SEED = 8, 20.0, 1e-3, 4, 0


# ---------------------------------------------------------------------------------------------- data

def make_rows(n: int = 220) -> list[dict]:
    """Deterministic support-desk chat rows of roughly 72 tokens (small model's tokenizer)."""
    import random

    rnd = random.Random(1234)
    names = ["Alice", "Bruno", "Chen", "Dana", "Emil", "Fatima", "Goran", "Hana", "Ivan", "Julia"]
    products = ["invoice layout", "customer table", "sales report", "training file", "order form", "price list"]
    issues = ["does not open", "shows the wrong total", "is empty after the import", "prints two pages",
              "sorts by the wrong field", "loses the last record"]
    fixes = ["Open the layout in Layout mode and check the field's calculation.",
             "Run Perform Find again, then sort the found set by date.",
             "Import the records with the field mapping saved last week.",
             "Set the printer to one page per record and try again.",
             "Check the sort order and save it with the script.",
             "Commit the record before you close the window."]
    rows = []
    for i in range(n):
        who, prod, issue = rnd.choice(names), rnd.choice(products), rnd.choice(issues)
        q = f"Hello, this is {who}. Since Monday the {prod} {issue}. Order {1000 + i} is waiting. What should I do?"
        a = f"Thank you, {who}. {rnd.choice(fixes)} {rnd.choice(fixes)} If the {prod} still {issue}, call us."
        rows.append({"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]})
    return rows


# ---------------------------------------------------------------------------------------------- runners

def run_child(cmd: list[str], env: dict | None = None, log: Path | None = None) -> tuple[int, int, str]:
    """Run a process to its end; (exit code, peak RSS in bytes, output) from its own rusage."""
    out = open(log, "w+b") if log else subprocess.PIPE
    p = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=str(ROOT))
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    if log:
        out.seek(0)
        text = out.read().decode(errors="replace")
        out.close()
    else:
        text = p.stdout.read().decode(errors="replace")
    return p.returncode, ru.ru_maxrss * 1024, text


def bench_fmscript(model_dir: Path, rows_file: Path, steps: int, n_layers: int, val_fraction: float,
                   work: Path, dtype: str = "fp32") -> dict:
    """Through the public engine: LocalEngine.fine_tune → the worker process (MKL preloaded) → events."""
    home = work / "fmhome"
    env = dict(os.environ, FMSCRIPT_HOME=str(home), FMSCRIPT_WORKER_IDLE="1", PYTHONPATH=str(ROOT))
    params = {"max_steps": steps, "learning_rate": LR, "batch_size": BATCH, "lora_layers": n_layers,
              "rank": RANK, "scale": SCALE, "dropout": 0, "mask_prompt": False, "weight_decay": 0,
              "seed": SEED, "validation_fraction": val_fraction, "steps_per_report": 10,
              "steps_per_eval": steps, "save_every": 10 ** 7, "fine_tuned_model_name": "bench",
              "base_dtype": "bfloat16" if dtype == "bf16" else "float32"}
    code = f"""
import json, sys
from fmscript.ai.local import LocalEngine
from fmscript.ai.jobs import JobStore
e = LocalEngine()
r = e.fine_tune({str(model_dir)!r}, {str(rows_file)!r}, {params!r})["result"]
done = e.wait(r["id"], timeout=3600)["result"]
s = JobStore()
final = [ev["data"] for ev in s.events(r["id"]) if ev["data"] and ev["data"].get("final")]
metrics = s.metrics(r["id"])
blas = [ev["data"] for ev in s.events(r["id"]) if ev["data"] and "blas" in ev["data"]]
kern = [ev["data"] for ev in s.events(r["id"]) if ev["data"] and "kernels" in ev["data"]]
print("RESULT " + json.dumps({{"status": done["status"], "final": final, "metrics": metrics, "blas": blas, "kern": kern,
                              "error": s.get_job(r["id"])["error"]}}))
"""
    rc, _rss, out = run_child([sys.executable, "-c", code], env=env)
    line = [ln for ln in out.splitlines() if ln.startswith("RESULT ")]
    if rc != 0 or not line:
        return {"error": out[-2000:]}
    res = json.loads(line[0][7:])
    if res["status"] != "succeeded" or not res["final"]:
        return {"error": res.get("error") or res["status"]}
    fin = res["final"][0]
    m = [x for x in res["metrics"] if "train_loss" in x]
    return {"tokens_per_sec": fin["tokens_per_sec_avg"], "ms_per_step": fin["seconds"] / fin["steps"] * 1000,
            "peak_rss": fin["peak_rss"], "val_loss": fin["val_loss_final"], "steps": fin["steps"],
            "train_loss": m[-1]["train_loss"],
            "blas": (res["blas"][0]["blas"] if res["blas"] else "?")
            + "".join(f", {k}" for k in (res["kern"][0]["kernels"] if res["kern"] else []))}


MLX_TRAIN = re.compile(r"^\s*(\d+)\s+([\d.]+) [▼▲]\s+([\d,]+)\s+([\d.]+)k")
MLX_VAL = re.compile(r"^\s*(\d+)\s+val ([\d.]+)")


def bench_mlx_lm(model_dir: Path, data_dir: Path, steps: int, n_layers: int, work: Path, preload: bool) -> dict:
    """The stock CLI, ``python -m mlx_lm lora --config``, optionally with MKL preloaded."""
    import yaml

    cfg = {"model": str(model_dir), "train": True, "data": str(data_dir), "fine_tune_type": "lora",
           "optimizer": "adamw", "optimizer_config": {"adamw": {"bias_correction": True, "weight_decay": 0.0}},
           "num_layers": n_layers, "batch_size": BATCH, "iters": steps, "val_batches": -1, "learning_rate": LR,
           "steps_per_report": min(10, steps), "steps_per_eval": steps, "save_every": 10 ** 9,
           "adapter_path": str(work / "mlx_lm_adapters"), "max_seq_length": 2048, "seed": SEED,
           "lora_parameters": {"rank": RANK, "scale": SCALE, "dropout": 0.0}, "mask_prompt": False}
    cfg_path = work / f"mlx_lm_{'mkl' if preload else 'stock'}.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg))
    env = dict(os.environ, COLUMNS="200", NO_COLOR="1", TERM="dumb")
    env.pop("LD_PRELOAD", None)
    if preload:
        from fmscript.ai.blas import worker_environment

        env, _ = worker_environment(env)
        if "MLX_BFS_MAX_WIDTH" not in os.environ:
            env.pop("MLX_BFS_MAX_WIDTH", None)  # mlx-lm as it comes: only the BLAS preloaded
    rc, rss, out = run_child([sys.executable, "-m", "mlx_lm", "lora", "--config", str(cfg_path)], env=env,
                             log=work / f"mlx_lm_{'mkl' if preload else 'stock'}.log")
    trains, vals = [], []
    for ln in re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", out).splitlines():
        m = MLX_TRAIN.match(ln)
        if m:
            trains.append((int(m.group(1)), float(m.group(2)), float(m.group(3).replace(",", "")),
                           float(m.group(4)) * 1000))
            continue
        m = MLX_VAL.match(ln)
        if m:
            vals.append((int(m.group(1)), float(m.group(2))))
    if rc != 0 or not trains:
        return {"error": out[-2000:]}
    # Each report covers a window of steps: time = window tokens / window tokens/s.
    seconds, prev_tok = 0.0, 0.0
    for _it, _loss, tps, tok in trains:
        seconds += (tok - prev_tok) / tps if tps else 0.0
        prev_tok = tok
    return {"tokens_per_sec": trains[-1][3] / seconds, "ms_per_step": seconds / trains[-1][0] * 1000,
            "peak_rss": rss, "val_loss": vals[-1][1] if vals else None, "steps": trains[-1][0],
            "train_loss": trains[-1][1], "blas": "mkl" if preload else "reference"}


def bench_peft(model_dir: Path, batches_file: Path, work: Path, dtype: str = "fp32") -> dict:
    rc, rss, out = run_child([sys.executable, str(Path(__file__).resolve()), "--peft-child", str(model_dir),
                              str(batches_file)], env=dict(os.environ, PYTHONPATH=str(ROOT), BENCH_DTYPE=dtype),
                             log=work / "peft.log")
    line = [ln for ln in out.splitlines() if ln.startswith("RESULT ")]
    if rc != 0 or not line:
        return {"error": out[-2000:]}
    res = json.loads(line[0][7:])
    res["peak_rss"] = rss
    return res


def peft_child(model_dir: str, batches_file: str) -> None:
    """PyTorch + PEFT on the exact batches fmscript trains on, each padded to its longest row; with
    ``BENCH_DTYPE=bf16`` the model is loaded in bfloat16 (PEFT's usual bf16 run: LoRA weights and activations
    in bf16 too)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    spec = json.loads(Path(batches_file).read_text())
    torch.manual_seed(SEED)
    torch.set_num_threads(int(os.environ.get("BENCH_TORCH_THREADS", os.cpu_count() or 1)))
    dtype = torch.bfloat16 if os.environ.get("BENCH_DTYPE") == "bf16" else torch.float32
    model = AutoModelForCausalLM.from_pretrained(model_dir, torch_dtype=dtype)
    model = get_peft_model(model, LoraConfig(r=RANK, lora_alpha=RANK * SCALE, lora_dropout=0.0,
                                             target_modules=LINEAR, bias="none", task_type="CAUSAL_LM"))
    model.train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=LR, weight_decay=0.0)

    def tensors(rows):
        longest = max(len(r) for r in rows) - 1
        inp = torch.zeros((len(rows), longest), dtype=torch.long)
        tgt = torch.zeros((len(rows), longest), dtype=torch.long)
        att = torch.zeros((len(rows), longest), dtype=torch.long)
        for b, r in enumerate(rows):
            n = len(r) - 1
            inp[b, :n] = torch.tensor(r[:-1])
            tgt[b, :n] = torch.tensor(r[1:])
            att[b, :n] = 1
        return inp, tgt, att

    def loss_of(rows):
        inp, tgt, att = tensors(rows)
        logits = model(input_ids=inp, attention_mask=att).logits
        ce = torch.nn.functional.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), tgt.reshape(-1),
                                               reduction="none")
        m = att.reshape(-1).float()
        return (ce * m).sum(), m.sum()

    losses, tokens = [], 0
    t0 = time.perf_counter()
    for rows in spec["batches"]:
        s, n = loss_of(rows)
        loss = s / n
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        tokens += sum(len(r) for r in rows)
    seconds = time.perf_counter() - t0
    model.eval()
    with torch.no_grad():
        tot, cnt = 0.0, 0.0
        for i in range(0, len(spec["val"]), BATCH):
            s, n = loss_of(spec["val"][i:i + BATCH])
            tot += s.item()
            cnt += n.item()
    print("RESULT " + json.dumps({"tokens_per_sec": tokens / seconds, "ms_per_step": seconds / len(losses) * 1000,
                                  "val_loss": tot / cnt, "steps": len(losses),
                                  "train_loss": sum(losses[-10:]) / len(losses[-10:]),
                                  "blas": f"torch {torch.__version__}, {torch.get_num_threads()} threads, {dtype}"}))


# ---------------------------------------------------------------------------------------------- CPU-time A/B

def cpu_ab(size: str, steps: int, variants: list[str], rounds: int = 2) -> None:
    """Process CPU time per training step of fmscript's trainer under several settings, alternated A/B/A/B in one
    process: the measure of a lever on a machine whose cores are shared (wall time is then meaningless). A variant is
    a JSON object of Fine-Tune Parameters, plus ``_env`` (environment variables for that variant, such as
    ``FMSCRIPT_EXT=off``) and ``_off`` (names of ``fastext`` functions that answer None, e.g. ``packed_attention``).
    Run it with MKL preloaded and one thread for every library (``MKL_NUM_THREADS=1 OMP_NUM_THREADS=1
    FMSCRIPT_EXT_THREADS=1``)."""
    import mlx.core as mx

    from fmscript.ai import fastext
    from fmscript.ai.params import parse_params
    from fmscript.ai.tinymodel import build_model_folder
    from fmscript.ai.trainer import LoRATrainer, batch_indices

    work = Path(tempfile.mkdtemp(prefix="fmscript-cpu-ab-"))
    os.environ.setdefault("FMSCRIPT_HOME", str(work / "home"))
    model_dir = build_model_folder(work / size, size=size)
    n_layers = json.loads((model_dir / "config.json").read_text())["num_hidden_layers"]
    rows = make_rows(220)
    first = None
    for rnd in range(rounds):
        for i, text in enumerate(variants):
            v = json.loads(text)
            env, offs = v.pop("_env", {}), v.pop("_off", [])
            saved_env = {k: os.environ.get(k) for k in env}
            os.environ.update(env)
            saved = {n: getattr(fastext, n) for n in offs}
            for n in offs:
                setattr(fastext, n, lambda *a, **k: None)
            fastext._state.clear()
            try:
                params = {"max_steps": steps, "learning_rate": LR, "batch_size": BATCH, "lora_layers": n_layers,
                          "rank": RANK, "scale": SCALE, "mask_prompt": False, "seed": SEED,
                          "validation_fraction": 20 / 220, **v}
                tr = LoRATrainer(model_dir, parse_params(params), rows)
                tr._setup()
            finally:
                for n, f in saved.items():
                    setattr(fastext, n, f)
                for k, old in saved_env.items():
                    os.environ.pop(k) if old is None else os.environ.__setitem__(k, old)
            batches = [tr.prepare_batch([tr.rows[j] for j in batch_indices(tr.train_idx, BATCH, step, SEED)])[0]
                       for step in range(steps)]
            t = time.process_time()
            losses = []
            for b in batches:  # the first call of each shape compiles: included, as in a real run
                loss, _ = tr._step(*b)
                mx.eval(loss, tr._state)
                losses.append(loss.item())
            ms = (time.process_time() - t) / steps * 1000
            tr._restore_threads()
            if i == 0 and first is None:
                first = losses
            diff = max(abs(a - b) / max(abs(b), 1e-9) for a, b in zip(losses, first))
            print(f"round {rnd} variant {i} {text}: {ms:.1f} ms CPU/step, loss {losses[0]:.6f} → {losses[-1]:.6f}, "
                  f"max relative loss difference from variant 0: {diff:.1e}; {', '.join(tr.kernels)}", flush=True)
    shutil.rmtree(work, ignore_errors=True)


def cpu_ab_peft(size: str, steps: int, dtype: str, rounds: int = 2) -> None:
    """PEFT's process CPU time per step on the same batches (torch at one thread), for :func:`cpu_ab`'s figures."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from fmscript.ai.tinymodel import build_model_folder
    from fmscript.ai.trainer import batch_indices, split_validation, tokenize_examples
    from mlx_lm.utils import load_tokenizer

    work = Path(tempfile.mkdtemp(prefix="fmscript-cpu-ab-"))
    model_dir = build_model_folder(work / size, size=size)
    rows = make_rows(220)
    train_idx, _ = split_validation(len(rows), 20 / 220, SEED)
    toks = tokenize_examples(load_tokenizer(model_dir), rows, mask_prompt=False, max_seq_length=2048)
    batches = [[toks[i][0] for i in batch_indices(train_idx, BATCH, s, SEED)] for s in range(steps)]
    torch.set_num_threads(1)
    for rnd in range(rounds):
        torch.manual_seed(SEED)
        model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.bfloat16 if dtype == "bf16" else
                                                     torch.float32)
        model = get_peft_model(model, LoraConfig(r=RANK, lora_alpha=RANK * SCALE, lora_dropout=0.0,
                                                 target_modules=LINEAR, bias="none", task_type="CAUSAL_LM"))
        model.train()
        opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=LR, weight_decay=0.0)
        t = time.process_time()
        for batch in batches:
            longest = max(len(r) for r in batch) - 1
            inp = torch.zeros((len(batch), longest), dtype=torch.long)
            tgt, att = inp.clone(), inp.clone()
            for b, r in enumerate(batch):
                inp[b, :len(r) - 1], tgt[b, :len(r) - 1], att[b, :len(r) - 1] = torch.tensor(r[:-1]), \
                    torch.tensor(r[1:]), 1
            logits = model(input_ids=inp, attention_mask=att).logits.float()
            ce = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt.reshape(-1),
                                                   reduction="none")
            m = att.reshape(-1).float()
            loss = (ce * m).sum() / m.sum()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        print(f"round {rnd} PEFT {size} {dtype}: {(time.process_time() - t) / steps * 1000:.1f} ms CPU/step, "
              f"last loss {loss.item():.6f}", flush=True)
    shutil.rmtree(work, ignore_errors=True)


# ---------------------------------------------------------------------------------------------- two CPU streams

STREAM_VARIANTS = {
    # one stream, MKL and the extension's kernels on both cores inside each call (the default)
    "1 stream, MKL 2 threads": ({"cpu_streams": 1}, {"MKL_NUM_THREADS": "2", "OMP_NUM_THREADS": "2",
                                                     "FMSCRIPT_EXT_THREADS": "2"}),
    # the control: one stream, one thread everywhere (what the two streams are made of)
    "1 stream, MKL 1 thread": ({"cpu_streams": 1}, {"MKL_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
                                                    "FMSCRIPT_EXT_THREADS": "1"}),
    # each half of the batch on its own mlx CPU stream (own thread), one thread inside each call
    "2 streams, MKL 1 thread each": ({"cpu_streams": 2}, {"MKL_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
                                                           "FMSCRIPT_EXT_THREADS": "1"}),
}


def streams_child(model_dir: str, steps: int, params_json: str) -> None:
    """One variant of :func:`cpu_streams_ab` in its own process (thread settings belong to a process's start):
    fmscript's trainer on the bench's batches; wall time and process CPU time of the steps, compiles included."""
    import mlx.core as mx

    from fmscript.ai.params import parse_params
    from fmscript.ai.trainer import LoRATrainer, batch_indices

    n_layers = json.loads((Path(model_dir) / "config.json").read_text())["num_hidden_layers"]
    params = {"max_steps": steps, "learning_rate": LR, "batch_size": BATCH, "lora_layers": n_layers, "rank": RANK,
              "scale": SCALE, "mask_prompt": False, "seed": SEED, "validation_fraction": 20 / 220,
              **json.loads(params_json)}
    tr = LoRATrainer(model_dir, parse_params(params), make_rows(220))
    tr._setup()
    batches, tokens = [], 0
    for step in range(steps):
        args, real = tr.prepare_batch([tr.rows[j] for j in batch_indices(tr.train_idx, BATCH, step, SEED)])
        batches.append(args)
        tokens += real
    losses = []
    t, c = time.perf_counter(), time.process_time()
    for b in batches:
        loss, _ = tr._step(*b)
        mx.eval(loss, tr._state)
        losses.append(loss.item())
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    print("RESULT " + json.dumps({"tokens_per_sec": tokens / wall, "ms_per_step": wall / steps * 1000,
                                  "cpu_ms_per_step": cpu / steps * 1000, "losses": losses,
                                  "kernels": tr.kernels}), flush=True)


def cpu_streams_ab(size: str, steps: int, rounds: int, peft: bool = True) -> None:
    """Wall-clock tokens/s at two threads: one stream with MKL at 2 threads against two streams with MKL at 1 thread
    each (``cpu_streams`` 2), alternated, each variant its own process; PEFT at 2 threads on the same batches once
    per round. Meaningful only on a quiet machine: the load average is printed with every figure."""
    from fmscript.ai.blas import worker_environment
    from fmscript.ai.tinymodel import build_model_folder
    from fmscript.ai.trainer import batch_indices, split_validation, tokenize_examples
    from mlx_lm.utils import load_tokenizer

    os.environ.setdefault("BENCH_TORCH_THREADS", "2")  # PEFT at two threads, as the two variants
    work = Path(tempfile.mkdtemp(prefix="fmscript-streams-"))
    model_dir = build_model_folder(work / size, size=size)
    rows = make_rows(220)
    train_idx, val_idx = split_validation(len(rows), 20 / 220, SEED)
    toks = tokenize_examples(load_tokenizer(model_dir), rows, mask_prompt=False, max_seq_length=2048)
    bfile = work / "batches.json"
    bfile.write_text(json.dumps({"batches": [[toks[i][0] for i in batch_indices(train_idx, BATCH, s, SEED)]
                                             for s in range(steps)], "val": [toks[i][0] for i in val_idx]}))
    base_env, _ = worker_environment(dict(os.environ, PYTHONPATH=str(ROOT),
                                          FMSCRIPT_HOME=str(work / "home")))
    first = None
    print(f"{size}, {steps} steps, batch {BATCH}, {os.cpu_count()} CPUs", flush=True)
    for rnd in range(rounds):
        for name, (params, env) in STREAM_VARIANTS.items():
            load = os.getloadavg()[0]
            rc, rss, out = run_child([sys.executable, str(Path(__file__).resolve()), "--streams-child",
                                      str(model_dir), str(steps), json.dumps(params)], env=dict(base_env, **env))
            line = [ln for ln in out.splitlines() if ln.startswith("RESULT ")]
            if rc != 0 or not line:
                print(f"round {rnd} {name}: FAILED\n{out[-2000:]}", flush=True)
                continue
            r = json.loads(line[0][7:])
            first = first or r["losses"]
            diff = max(abs(a - b) / max(abs(b), 1e-9) for a, b in zip(r["losses"], first))
            print(f"round {rnd} {name:30} {r['tokens_per_sec']:7.0f} tok/s  {r['ms_per_step']:7.1f} ms/step wall  "
                  f"{r['cpu_ms_per_step']:7.1f} ms/step CPU  peak {rss / 2**20:4.0f} MiB  load {load:.2f}  "
                  f"losses vs the first: {diff:.1e}", flush=True)
        if peft:
            load = os.getloadavg()[0]
            r = bench_peft(model_dir, bfile, work)
            if "error" in r:
                print(f"round {rnd} PEFT: FAILED: {r['error'].strip().splitlines()[-1]}", flush=True)
            else:
                print(f"round {rnd} {'PEFT, torch 2 threads':30} {r['tokens_per_sec']:7.0f} tok/s  "
                      f"{r['ms_per_step']:7.1f} ms/step wall  peak {r['peak_rss'] / 2**20:4.0f} MiB  load {load:.2f}",
                      flush=True)
    shutil.rmtree(work, ignore_errors=True)


# ---------------------------------------------------------------------------------------------- main

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="tiny,small")
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--mlx-lm-small-steps", type=int, default=10, help="stock mlx_lm on small (slow)")
    ap.add_argument("--only", default="fmscript,mlx_lm,mlx_lm_mkl,peft",
                    help="comma list of runners: fmscript, mlx_lm (stock), mlx_lm_mkl, peft")
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    ap.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    ap.add_argument("--dtype", choices=["fp32", "bf16"], default="fp32",
                    help="bf16: fmscript with base_dtype=bfloat16 against PEFT on a bfloat16 model")
    ap.add_argument("--peft-child", nargs=2, help=argparse.SUPPRESS)
    ap.add_argument("--cpu-ab", nargs="+", metavar=("SIZE STEPS", "VARIANT"),
                    help="process CPU time per step of fmscript's trainer under JSON variants, alternated (see "
                         "cpu_ab); run with MKL preloaded and MKL_NUM_THREADS=1 OMP_NUM_THREADS=1 FMSCRIPT_EXT_THREADS=1")
    ap.add_argument("--cpu-ab-peft", nargs=3, metavar=("SIZE", "STEPS", "DTYPE"),
                    help="PEFT's process CPU time per step on the same batches (torch at 1 thread)")
    ap.add_argument("--cpu-streams", nargs=2, metavar=("SIZE", "STEPS"),
                    help="wall-clock tokens/s: one stream + MKL 2 threads vs cpu_streams 2 + MKL 1 thread each, "
                         "and PEFT at 2 threads (a quiet machine only)")
    ap.add_argument("--no-peft", action="store_true", help="--cpu-streams without the PEFT runs")
    ap.add_argument("--streams-child", nargs=3, help=argparse.SUPPRESS)
    ap.add_argument("--rounds", type=int, default=2, help="rounds of --cpu-ab / --cpu-ab-peft / --cpu-streams")
    args = ap.parse_args()
    if args.streams_child:
        streams_child(args.streams_child[0], int(args.streams_child[1]), args.streams_child[2])
        return 0
    if args.cpu_streams:
        cpu_streams_ab(args.cpu_streams[0], int(args.cpu_streams[1]), args.rounds, peft=not args.no_peft)
        return 0
    if args.peft_child:
        peft_child(*args.peft_child)
        return 0
    if args.cpu_ab:
        cpu_ab(args.cpu_ab[0], int(args.cpu_ab[1]), args.cpu_ab[2:], args.rounds)
        return 0
    if args.cpu_ab_peft:
        cpu_ab_peft(args.cpu_ab_peft[0], int(args.cpu_ab_peft[1]), args.cpu_ab_peft[2], args.rounds)
        return 0

    from fmscript.ai.tinymodel import build_model_folder
    from fmscript.ai.trainer import batch_indices, split_validation, tokenize_examples
    from mlx_lm.utils import load_tokenizer

    only = set(args.only.split(","))
    work = Path(tempfile.mkdtemp(prefix="fmscript-bench-"))
    rows = make_rows(220)
    n_val = 20
    val_fraction = n_val / len(rows)
    results = {}
    print(f"work folder: {work}", file=sys.stderr)
    for size in [s for s in args.sizes.split(",") if s]:
        sw = work / size
        sw.mkdir(parents=True)
        model_dir = build_model_folder(sw / "model", size=size)
        n_layers = json.loads((model_dir / "config.json").read_text())["num_hidden_layers"]
        # One split for everyone: the one fmscript's trainer makes from the combined file.
        train_idx, val_idx = split_validation(len(rows), val_fraction, SEED)
        assert len(val_idx) == n_val
        all_file = sw / "all.jsonl"
        all_file.write_text("".join(json.dumps(r) + "\n" for r in rows))
        data_dir = sw / "data"
        data_dir.mkdir()
        (data_dir / "train.jsonl").write_text("".join(json.dumps(rows[i]) + "\n" for i in train_idx))
        (data_dir / "valid.jsonl").write_text("".join(json.dumps(rows[i]) + "\n" for i in val_idx))
        tok = load_tokenizer(model_dir)
        toks = tokenize_examples(tok, rows, mask_prompt=False, max_seq_length=2048)
        lens = [len(t) for t, _ in toks]
        batches = [[toks[i][0] for i in batch_indices(train_idx, BATCH, s, SEED)] for s in range(args.steps)]
        bfile = sw / "batches.json"
        bfile.write_text(json.dumps({"batches": batches, "val": [toks[i][0] for i in val_idx]}))
        print(f"\n== {size}: {n_layers} blocks, rows {min(lens)}-{max(lens)} tokens (mean {sum(lens)/len(lens):.1f})",
              file=sys.stderr)
        res = {}
        runners = [
            ("fmscript", lambda: bench_fmscript(model_dir, all_file, args.steps, n_layers, val_fraction, sw,
                                                args.dtype)),
            ("peft", lambda: bench_peft(model_dir, bfile, sw, args.dtype)),
            ("mlx_lm_mkl", lambda: bench_mlx_lm(model_dir, data_dir, args.steps, n_layers, sw, True)),
            ("mlx_lm", lambda: bench_mlx_lm(model_dir, data_dir, args.steps if size == "tiny" else
                                            args.mlx_lm_small_steps, n_layers, sw, False)),
        ]
        for name, fn in runners:
            if name not in only:
                continue
            t = time.perf_counter()
            r = fn()
            r["wall_s"] = round(time.perf_counter() - t, 1)
            res[name] = r
            if "error" in r:
                print(f"  {name}: FAILED\n{r['error']}", file=sys.stderr)
            else:
                print(f"  {name:11} {r['tokens_per_sec']:9.0f} tok/s {r['ms_per_step']:8.1f} ms/step "
                      f"{r['peak_rss'] / 2**20:7.0f} MiB  val {r['val_loss'] if r['val_loss'] is not None else float('nan'):.4f}"
                      f"  ({r['steps']} steps, {r['blas']})", file=sys.stderr)
        results[size] = res
    print_table(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def print_table(results: dict) -> None:
    print("\n| model | runner | tokens/s | ms/step | peak RSS MiB | val loss | steps | BLAS |")
    print("|---|---|---:|---:|---:|---:|---:|---|")
    for size, res in results.items():
        for name, r in res.items():
            if "error" in r:
                print(f"| {size} | {name} | failed | | | | | |")
                continue
            vl = f"{r['val_loss']:.4f}" if r.get("val_loss") is not None else "-"
            print(f"| {size} | {name} | {r['tokens_per_sec']:.0f} | {r['ms_per_step']:.1f} | "
                  f"{r['peak_rss'] / 2**20:.0f} | {vl} | {r['steps']} | {r['blas']} |")
    print()
    for size, res in results.items():
        f, p = res.get("fmscript"), res.get("peft")
        if f and p and "error" not in f and "error" not in p:
            print(f"{size}: fmscript/PEFT tokens/s = {f['tokens_per_sec'] / p['tokens_per_sec']:.2f}x, "
                  f"peak RSS = {f['peak_rss'] / p['peak_rss']:.2f}x, "
                  f"val loss {f['val_loss']:.4f} vs {p['val_loss']:.4f}")
        for other in ("mlx_lm_mkl", "mlx_lm"):
            o = res.get(other)
            if f and o and "error" not in f and "error" not in o:
                print(f"{size}: fmscript/{other} tokens/s = {f['tokens_per_sec'] / o['tokens_per_sec']:.2f}x, "
                      f"peak RSS = {f['peak_rss'] / o['peak_rss']:.2f}x")


if __name__ == "__main__":
    sys.exit(main())
