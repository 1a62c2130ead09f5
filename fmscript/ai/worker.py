"""The training worker: one process per fmscript home trains the queued jobs one at a time.

Why a separate process: training needs a real BLAS in its environment (``LD_PRELOAD`` of MKL on Linux, see
``blas.py``), a cancel must be able to stop it between steps, and a script (or ``fmscript serve``) must be able to
exit without losing the job. Submitters only add rows to ``jobs.sqlite`` and call :func:`ensure_worker`.

Which process is the worker is decided by an ``fcntl`` lock on ``worker.lock`` in the home: the kernel drops the
lock when the process dies, even by SIGKILL, so a stale lock never blocks a new worker and two workers never run
on one home. On start, the worker takes over jobs left ``running`` by a dead worker: from their last checkpoint
when one exists, else it marks them failed with the reason. It exits after ``FMSCRIPT_WORKER_IDLE`` seconds
(default 30) without work, and, when started for a parent (``tie_to_pid``), as soon as that parent is gone
(checkpointing first, so the job resumes with the next worker).
"""
from __future__ import annotations

import fcntl
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
import traceback
from pathlib import Path

from fmscript import home as fmhome

LOCK_NAME = "worker.lock"
LOG_NAME = "worker.log"


def idle_seconds() -> float:
    try:
        return float(os.environ.get("FMSCRIPT_WORKER_IDLE", "30"))
    except ValueError:
        return 30.0


def _lock_path() -> Path:
    return fmhome.home(ensure=True) / LOCK_NAME


def _try_lock(path: Path):
    """Open and lock ``path`` without waiting; the open file (keep it!) or None when another process holds it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def worker_running() -> bool:
    """True when some process holds this home's worker lock."""
    fd = _try_lock(_lock_path())
    if fd is None:
        return True
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)
    return False


def worker_pid() -> int | None:
    """The pid the running worker wrote into the lock file (None when no worker runs)."""
    if not worker_running():
        return None
    try:
        return int(_lock_path().read_text().strip() or 0) or None
    except (OSError, ValueError):
        return None


def ensure_worker(tie_to_pid: int | None = None) -> int | None:
    """Start a detached worker for this home unless one runs; returns the new process's pid (None: one runs).

    ``tie_to_pid``: the worker stops (after a checkpoint) when that process is gone, e.g. a server killed with -9.
    """
    if worker_running():
        return None
    from fmscript.ai.blas import worker_environment

    env, note = worker_environment()
    pkg_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join([pkg_root] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    env["FMSCRIPT_HOME"] = str(fmhome.home(ensure=True))
    env["FMSCRIPT_BLAS_NOTE"] = note
    if tie_to_pid:
        env["FMSCRIPT_WORKER_PARENT"] = str(tie_to_pid)
    else:
        env.pop("FMSCRIPT_WORKER_PARENT", None)
    with fmhome.private():
        log = open(fmhome.home() / LOG_NAME, "ab")
    try:
        proc = subprocess.Popen([sys.executable, "-m", "fmscript.ai.worker"], env=env, cwd=str(fmhome.home()),
                                stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
                                close_fds=True, umask=fmhome.PRIVATE_UMASK)  # runs/, tuned/: owner-only
    finally:
        log.close()
    return proc.pid


def process_alive(pid: int) -> bool:
    """True while process ``pid`` exists and is not a zombie (the server's start guard asks this too)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours still answers kill(0); look at its state where /proc exists.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


class Worker:
    """The worker loop. ``run()`` returns when idle, when told to stop, or when its parent is gone."""

    def __init__(self):
        from fmscript.ai.jobs import JobStore

        self.store = JobStore()
        self.pid = os.getpid()
        self.shutdown = False
        parent = os.environ.get("FMSCRIPT_WORKER_PARENT")
        self.parent = int(parent) if parent and parent.isdigit() else None
        self.blas_note = os.environ.get("FMSCRIPT_BLAS_NOTE", "")

    def _parent_gone(self) -> bool:
        return self.parent is not None and not process_alive(self.parent)

    def should_stop(self, job_id: str):
        if self.shutdown or self._parent_gone():
            return "shutdown"
        if self.store.status_of(job_id) != "running":
            return "cancelled"
        return None

    def recover(self) -> None:
        """Jobs still marked running belong to a dead worker (this one holds the lock): resume or fail them."""
        for job in self.store.running_jobs():
            ckpt = fmhome.runs_dir(job["id"]) / "checkpoint" / "state.json"
            who = f"The worker process (pid {job['pid']})" if job.get("pid") else "The worker process"
            if ckpt.is_file():
                import json

                step = json.loads(ckpt.read_text()).get("step", 0)
                self.store.requeue(job["id"], f"{who} stopped while training; the job resumes from its "
                                              f"checkpoint at step {step}.")
            else:
                self.store.finish(job["id"], "failed", error=(
                    f"{who} stopped at step {job.get('step') or 0} of {job.get('total_steps') or '?'}, before "
                    "the job's first checkpoint, so the job cannot resume; submit it again."))

    def run(self) -> int:
        lock_path = _lock_path()
        fd = _try_lock(lock_path)
        if fd is None:
            return 0  # another worker serves this home
        os.ftruncate(fd, 0)
        os.write(fd, str(self.pid).encode())
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        try:
            self.recover()
            idle_since = time.monotonic()
            while not self.shutdown and not self._parent_gone():
                job = self.store.claim_next(self.pid)
                if job is not None:
                    self.run_job(job)
                    idle_since = time.monotonic()
                    continue
                if time.monotonic() - idle_since > idle_seconds():
                    # Release first, then look again: a submitter that saw the lock held after our last look
                    # relies on us to take its job, and one that comes later will start a new worker.
                    fcntl.flock(fd, fcntl.LOCK_UN)
                    if not self.store.has_queued():
                        break
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    except OSError:
                        break  # a new worker already took over
                    idle_since = time.monotonic()
                    continue
                time.sleep(0.3)
        finally:
            os.close(fd)
        return 0

    def _on_signal(self, signum, frame):
        self.shutdown = True

    def run_distributed(self, jid: str, processes: int, stage: Path):
        """Train with ``processes`` data-parallel processes (distributed.py, started by mlx.launch) and wait.

        Rank 0 checks the job's status and this worker's pid itself; a stop of this worker (SIGTERM, parent gone)
        reaches it through the ``stop`` file in the run folder, and it checkpoints before every rank exits."""
        from fmscript.ai.distributed import STOP_FILE, launch_command

        run_dir = fmhome.runs_dir(jid, ensure=True)
        (run_dir / STOP_FILE).unlink(missing_ok=True)
        env = dict(os.environ, FMSCRIPT_DIST_WORKER=str(self.pid))
        if not os.environ.get("FMSCRIPT_TRAIN_HOSTFILE"):  # one machine: its cores shared out, not oversubscribed
            for var in ("MKL_NUM_THREADS", "OMP_NUM_THREADS"):
                env.setdefault(var, str(max(1, (os.cpu_count() or 1) // processes)))
        proc = subprocess.Popen(launch_command(processes, ["--job", jid, "--stage", str(stage)]), env=env,
                                stdin=subprocess.DEVNULL, cwd=str(fmhome.home()))
        while proc.poll() is None:
            if (self.shutdown or self._parent_gone()) and not (run_dir / STOP_FILE).exists():
                (run_dir / STOP_FILE).write_text("shutdown\n")
            time.sleep(0.2)
        (run_dir / STOP_FILE).unlink(missing_ok=True)
        return _distributed_result(run_dir, proc.returncode)

    # ------------------------------------------------------------------------------------------ one job
    def run_job(self, job: dict) -> None:
        from fmscript.ai import blas, modelstore
        from fmscript.ai.params import FineTuneParams
        from fmscript.ai.trainer import LoRATrainer
        from fmscript.ai.trainingdata import load_examples
        from fmscript.errors import FMScriptError

        jid = job["id"]
        store = self.store
        stage = modelstore.tuned_root() / modelstore.STORE / f".tmp-{jid}"
        try:
            gflops = blas.sgemm_gflops()  # imports mlx, so its BLAS is mapped before we look
            loaded = blas.loaded_blas()
            store.add_event(jid, f"Worker {self.pid} started the job. {self.blas_note} "
                                 f"(loaded: {loaded}, sgemm {gflops:.0f} GFLOP/s).",
                            data={"blas": loaded, "sgemm_gflops": round(gflops, 1), "worker_pid": self.pid,
                                  "ld_preload": os.environ.get("LD_PRELOAD", "")})
            params = FineTuneParams.from_json(job["hyperparameters"])
            examples = load_examples(store.get_file(job["training_file"])["path"])
            base = modelstore.resolve_model(job["model"], fetch=True)
            if base.kind == "tuned":
                raise FMScriptError(f"{job['model']!r} is a tuned model; fine-tune its base model instead.")

            def report(message, data=None, level="info"):
                # Only while still running: a cancel between two stop checks must stay the job's last word.
                if not store.add_event(jid, message, level, data, only_running=True):
                    return
                if data and "step" in data:
                    store.update_progress(jid, data["step"], data.get("trained_tokens") or 0)

            from fmscript.ai.distributed import processes_for

            processes = processes_for(params)
            if processes > 1:
                if processes > params.batch_size:
                    raise FMScriptError(f"The job's batch_size ({params.batch_size}) is smaller than the number "
                                        f"of training processes ({processes}, FMSCRIPT_TRAIN_PROCESSES): give "
                                        "batch_size at least that large, or processes 1.")
                result = self.run_distributed(jid, processes, stage)
            else:
                trainer = LoRATrainer(base.base_path, params, examples, run_dir=fmhome.runs_dir(jid, ensure=True),
                                      report=report, should_stop=lambda: self.should_stop(jid))
                result = trainer.run(resume=True, stage_dir=stage)
            if result.stopped == "cancelled":
                shutil.rmtree(fmhome.runs_dir(jid), ignore_errors=True)
                return
            if result.stopped == "shutdown":
                store.requeue(jid, f"The worker stopped (its parent process ended or it was told to stop); "
                                   f"the job resumes from its checkpoint at step {result.steps}.")
                return
            modelstore.write_pointer(stage, base_model=job["model"], base_path=base.base_path, job_id=jid,
                                     fine_tuned_model=job["fine_tuned_model"], train_loss=result.train_loss,
                                     val_loss=result.val_loss, trained_tokens=result.trained_tokens)
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            rss_bytes = rss if sys.platform == "darwin" else rss * 1024
            store.add_event(jid, f"Training finished: {result.steps} steps, {result.trained_tokens} tokens in "
                                 f"{result.seconds:.1f} s; peak memory {rss_bytes / (1 << 20):.0f} MiB.",
                            data={"final": True, "steps": result.steps, "train_loss": result.train_loss,
                                  "val_loss_final": result.val_loss, "seconds": round(result.seconds, 3),
                                  "tokens_per_sec_avg": result.tokens_per_sec, "peak_rss": rss_bytes})
            ok = store.finish(jid, "succeeded", trained_tokens=result.trained_tokens,
                              on_commit=lambda: modelstore.install_adapter(job["fine_tuned_model"], stage, jid))
            if not ok:
                shutil.rmtree(stage, ignore_errors=True)
            shutil.rmtree(fmhome.runs_dir(jid), ignore_errors=True)
        except FMScriptError as e:
            shutil.rmtree(stage, ignore_errors=True)
            store.finish(jid, "failed", error=e.message)
        except MemoryError:
            shutil.rmtree(stage, ignore_errors=True)
            store.finish(jid, "failed", error="The machine ran out of memory while training.")
        except Exception as e:  # a bug or a broken model: keep the job's state true, details in worker.log
            traceback.print_exc()
            sys.stderr.flush()
            shutil.rmtree(stage, ignore_errors=True)
            store.finish(jid, "failed", error=f"{type(e).__name__}: {e}".strip()[:500])


def _distributed_result(run_dir: Path, rc: int):
    """The rank-0 result file of a distributed run as a TrainResult (an error when the processes failed)."""
    import json

    from fmscript.ai.distributed import RESULT_FILE
    from fmscript.ai.trainer import TrainResult
    from fmscript.errors import FMScriptError

    f = run_dir / RESULT_FILE
    if rc != 0 or not f.is_file():
        raise FMScriptError(f"The distributed training processes stopped with exit status {rc} before "
                            f"finishing; {LOG_NAME} in the fmscript home has their output.")
    d = json.loads(f.read_text())
    f.unlink()
    return TrainResult(d["steps"], d["trained_tokens"], d["train_loss"], d["val_loss"], d["stopped"],
                       tokens_per_sec=d.get("tokens_per_sec"), seconds=d.get("seconds") or 0.0)


def main() -> int:
    return Worker().run()


if __name__ == "__main__":
    sys.exit(main())
