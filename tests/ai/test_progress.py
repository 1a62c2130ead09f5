"""Waiting for jobs as people expect it: the bar in a real 80-column terminal, plain lines off a terminal, Ctrl-C,
epoch-based totals, no event after a cancel, and the small command-line promises (plots, pipes, create-tiny)."""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid

import pytest

from fmscript.ai.commands import add_commands
from fmscript.ai.local import LocalEngine

from .engine_support import wait_until

LEARN = {"learning_rate": 3e-3, "batch_size": 4}


def _cli(*argv) -> int:
    ap = argparse.ArgumentParser(prog="fmscript")
    add_commands(ap.add_subparsers(dest="command"))
    args = ap.parse_args(list(argv))
    return args.handler(args)


def _env(home) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "TMUX"}
    env.update(FMSCRIPT_HOME=str(home), HF_HUB_OFFLINE="1", LANG="C.UTF-8", LC_ALL="C.UTF-8",
               TERM="xterm-256color", PYTHONSAFEPATH="1")
    env.pop("NO_COLOR", None)
    return env




@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_the_bar_fits_80_columns_and_ends_with_one_done_line(home, qa_file, tmp_path):
    job = LocalEngine().fine_tune("fmscript/tiny-chat", qa_file, {**LEARN, "max_steps": 80,
                                                                  "steps_per_report": 2})["result"]
    name = f"fmscript-wait-{uuid.uuid4().hex[:8]}"
    sock = str(tmp_path / "tmux.sock")
    env = _env(home)
    script = tmp_path / "wait.sh"
    script.write_text("#!/bin/sh\n" + " ".join(f"{k}='{env[k]}'" for k in
                                               ("PYTHONSAFEPATH", "FMSCRIPT_HOME", "HF_HUB_OFFLINE", "TERM", "LANG"))
                      + f" '{sys.executable}' -m fmscript jobs wait {job['id']} > /dev/null\necho EXIT=$?\nsleep 60\n")
    script.chmod(0o755)

    def tmux(*args, check=True):
        return subprocess.run(["tmux", "-S", sock, *args], capture_output=True, text=True, check=check, env=env)

    tmux("new-session", "-d", "-s", name, "-x", "80", "-y", "20", "-c", str(tmp_path), str(script))
    try:
        seen_bar = wait_until(lambda: (lambda s: s if "/80" in s and "ETA" in s else None)(
            tmux("capture-pane", "-p", "-t", name).stdout), 180, "the progress bar")
        screen = wait_until(lambda: (lambda s: s if "EXIT=" in s else None)(
            tmux("capture-pane", "-p", "-S", "-", "-t", name).stdout), 240, "the wait to end")
        joined = tmux("capture-pane", "-p", "-J", "-S", "-", "-t", name).stdout
    finally:
        tmux("kill-server", check=False)
    rows = [r.rstrip() for r in screen.splitlines() if r.strip()]
    # No row was wrapped: joining wrapped rows (-J) changes nothing.
    assert [r.rstrip() for r in joined.splitlines() if r.strip()] == rows, screen
    bars = [r for r in rows if "ETA" in r]
    assert len(bars) == 1 and "80/80" in bars[0] and "loss" in bars[0], screen  # redrawn in place
    assert "tok/s" in bars[0] and "0:0" in bars[0]  # tokens/s and the elapsed time
    done = [r for r in rows if "done in" in r]
    assert len(done) == 1 and done[0].startswith(f"{job['id']} succeeded, 80 steps") and rows[-2] == done[0]
    assert rows[-1] == "EXIT=0" and "ETA" in seen_bar


def test_plain_lines_off_a_terminal_and_one_done_line(home, qa_file, capsys):
    job = LocalEngine().fine_tune("fmscript/tiny-chat", qa_file, {**LEARN, "max_steps": 12,
                                                                  "steps_per_report": 3})["result"]
    assert _cli("jobs", "wait", job["id"], "--timeout", "120") == 0
    err = capsys.readouterr().err.splitlines()
    steps = [l for l in err if ": step " in l]
    assert [l.split(": step ")[1].split(",")[0] for l in steps] == ["3/12", "6/12", "9/12", "12/12"]
    assert all("train loss" in l and "tokens/s" in l and "elapsed" in l and "ETA" in l for l in steps)
    assert sum("done in" in l for l in err) == 1 and err[-1].startswith(f"{job['id']} succeeded, 12 steps")


def test_eta_leaves_out_loading_and_counts_from_a_resume():
    from fmscript.ai.waiting import JobProgress

    p = JobProgress("j", tty=False)
    # The worker's elapsed counts training only: 10 steps in 5 s, 90 to go → 45 s, however long loading took.
    assert p.eta({"step": 10, "total_steps": 100, "elapsed": 5.0}) == pytest.approx(45.0)
    p.on_event({"data": {"resumed_from": 50}, "message": "Resumed", "level": "info"})
    assert p.eta({"step": 60, "total_steps": 100, "elapsed": 5.0}) == pytest.approx(20.0)


def test_ctrl_c_says_the_job_keeps_running_and_how_to_cancel_it(home, qa_file):
    job = LocalEngine().fine_tune("fmscript/tiny-chat", qa_file, {"max_steps": 100000, "steps_per_report": 5})
    jid = job["result"]["id"]
    proc = subprocess.Popen([sys.executable, "-m", "fmscript", "jobs", "wait", jid], env=_env(home),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: LocalEngine().job(jid)["step"] > 0, 120, "the first steps")
        time.sleep(0.5)  # let the waiter print a line (it polls every 0.2 s)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert f"the fine-tuning job {jid} keeps running (cancel it with: fmscript jobs cancel {jid})" in err
    assert "Traceback" not in err
    assert LocalEngine().job(jid)["status"] == "running"
    assert _cli("jobs", "cancel", jid) == 0


def test_epoch_based_jobs_know_their_total_steps(home, qa_file):
    engine = LocalEngine()
    job = engine.fine_tune("fmscript/tiny-chat", qa_file, {**LEARN, "epochs": 3})["result"]
    # 8 examples (under 10: none held out), 3 epochs, batch 4 → 6 steps, known before the worker starts.
    assert engine.job(job["id"])["total_steps"] == 6
    seen = []
    assert engine.wait(job["id"], timeout=120, on_progress=seen.append)["result"]["status"] == "succeeded"
    assert [e["data"]["step"] for e in seen if e.get("data") and "step" in e["data"]][-1] == 6
    big = qa_file.parent / "big.jsonl"
    big.write_text(qa_file.read_text() * 5)  # 40 examples: 4 held out for validation, 36 trained on
    j2 = engine.fine_tune("fmscript/tiny-chat", big, {"epochs": 2, "batch_size": 8, "max_steps": 1})["result"]
    assert engine.job(j2["id"])["total_steps"] == 9  # ceil(2 × 36 / 8)
    engine.cancel(j2["id"])


def test_nothing_is_reported_after_job_cancelled(home, qa_file):
    engine = LocalEngine()
    jid = engine.fine_tune("fmscript/tiny-chat", qa_file, {"max_steps": 100000, "steps_per_report": 1,
                                                          "steps_per_eval": 100000})["result"]["id"]
    wait_until(lambda: engine.job(jid)["step"] > 5, 120, "the first steps")
    engine.cancel(jid)
    # The worker is done with the cancelled job once it has trained the next one.
    nxt = engine.fine_tune("fmscript/tiny-chat", qa_file, {"max_steps": 2})["result"]["id"]
    assert engine.wait(nxt, timeout=120)["result"]["status"] == "succeeded"
    messages = [e["message"] for e in engine.store.events(jid)]
    assert messages[-1] == "Job cancelled.", messages[-5:]


def test_jobs_json_speaks_milliseconds_everywhere(home, qa_file, capsys):
    engine = LocalEngine()
    jid = engine.fine_tune("fmscript/tiny-chat", qa_file, {**LEARN, "max_steps": 2})["result"]["id"]
    ms = int(jid.rsplit("-", 1)[1])
    assert _cli("jobs", "wait", jid, "--timeout", "120") == 0
    waited = json.loads(capsys.readouterr().out)["result"]
    assert _cli("jobs", "list", "--json") == 0
    listed = json.loads(capsys.readouterr().out)[0]
    assert _cli("jobs", "show", jid, "--json") == 0
    shown = json.loads(capsys.readouterr().out)
    assert waited["created_at"] == listed["created_at"] == shown["job"]["created_at"] == ms > 1_700_000_000_000
    assert shown["job"]["finished_at"] >= ms and all(e["ts"] >= ms for e in shown["events"])


def test_plot_png_and_svg_with_axes_legend_and_title(home, qa_file, tmp_path, capsys):
    engine = LocalEngine()
    big = tmp_path / "big.jsonl"
    big.write_text(qa_file.read_text() * 3)  # 24 examples: a validation loss too
    jid = engine.fine_tune("fmscript/tiny-chat", big, {**LEARN, "max_steps": 20, "steps_per_report": 2,
                                                      "steps_per_eval": 5})["result"]["id"]
    assert engine.wait(jid, timeout=120)["result"]["status"] == "succeeded"
    png, svg = tmp_path / "loss.png", tmp_path / "loss.svg"
    assert _cli("jobs", "show", jid, "--plot", str(png)) == 0
    assert _cli("jobs", "show", jid, "--plot", str(svg)) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = svg.read_text()
    assert text.lstrip().startswith("<?xml") and "<svg" in text
    # matplotlib writes each label as a comment in the SVG: the title, axis labels, legend entries.
    for words in (f"Fine-tuning job {jid}", "step", "loss (cross-entropy)", "train loss", "validation loss"):
        assert words in text, words
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary file left
    capsys.readouterr()
    assert _cli("jobs", "show", jid, "--plot", str(tmp_path / "loss.jpg")) == 2
    err = capsys.readouterr().err
    assert "PNG or SVG" in err and "loss.jpg" in err and not (tmp_path / "loss.jpg").exists()
    assert _cli("jobs", "show", jid, "--plot", str(tmp_path / "nowhere" / "loss.png")) == 2
    err = capsys.readouterr().err
    assert f"the folder {tmp_path / 'nowhere'} does not exist" in err and ".tmp" not in err


def test_create_tiny_refuses_to_replace_a_model_without_force(home, capsys):
    assert _cli("models", "create-tiny", "acme/mini") == 0
    config = home / "models" / "acme" / "mini" / "config.json"
    before = config.stat().st_mtime_ns
    assert _cli("models", "create-tiny", "acme/mini", "--size", "small") == 2
    err = capsys.readouterr().err
    assert "already exists" in err and "--force" in err
    assert config.stat().st_mtime_ns == before and json.loads(config.read_text())["hidden_size"] == 64
    assert _cli("models", "create-tiny", "acme/mini", "--force") == 0


def test_a_closed_pipe_ends_quietly(home, tmp_path):
    """``fmscript jobs list | head -1``: the reader is gone before we write; no error, no traceback."""
    from fmscript.ai.jobs import JobStore

    store = JobStore()
    f = store.create_file("x.jsonl", data=b"{}\n")
    for _ in range(30):
        store.create_job("m", f["id"], {})
    r, w = os.pipe()
    os.close(r)  # the reader has already gone
    proc = subprocess.run([sys.executable, "-m", "fmscript", "jobs", "list"], env=_env(home), stdout=w,
                          stderr=subprocess.PIPE, text=True, timeout=60)
    os.close(w)
    assert proc.stderr == "" and proc.returncode == 0
