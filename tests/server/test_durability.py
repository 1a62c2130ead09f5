"""Durable jobs: the server killed with -9 mid-training, then restarted. No worker trains on without its server,
never two workers on one home, and every job ends in a true state: resumed from its checkpoint, failed with the
reason, or run after the restart; no half-written adapter is ever listed. A worker killed while it publishes,
inside the job store's transaction, leaves the store whole and the old model answering (issue 17)."""
from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from fmscript.ai.jobs import JobStore
from fmscript.ai.tinymodel import create_tiny

from .harness import BASE, ServerProcess, jsonl, wait_until, worker_processes

pytestmark = pytest.mark.slow  # a real server training end to end; CI runs it


class WorkerCensus:
    """Counts this home's worker processes every 20 ms in the background; ``most`` is the largest count seen."""

    def __init__(self, home):
        self.home = home
        self.most = 0
        self.pids: set[int] = set()
        self.seen: dict[int, list[float]] = {}
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self):
        while not self._stop.is_set():
            pids = worker_processes(self.home)
            self.most = max(self.most, len(pids))
            self.pids.update(pids)
            now = time.monotonic()
            for p in pids:
                self.seen.setdefault(p, [now, now])[1] = now
            time.sleep(0.02)

    def stop(self):
        self._stop.set()
        self._t.join()


def _messages(store, job_id):
    return [e["message"] for e in store.events(job_id)]


def test_server_killed_mid_training_and_restarted(tmp_path):
    home = tmp_path / "fmhome"
    create_tiny(BASE, home=home)
    census = WorkerCensus(home)
    servers = []
    try:
        srv = ServerProcess(home).start()
        servers.append(srv)
        c = srv.client()
        store = JobStore(home / "jobs.sqlite")
        f = c.files.create(file=("qa.jsonl", jsonl().encode()), purpose="fine-tune")
        a = c.fine_tuning.jobs.create(model=BASE, training_file=f.id, hyperparameters={
            "max_steps": 150, "save_every": 10, "steps_per_report": 2, "fine_tuned_model_name": "resumed"}).id
        b = c.fine_tuning.jobs.create(model=BASE, training_file=f.id, hyperparameters={
            "max_steps": 4, "fine_tuned_model_name": "queued-behind"}).id
        wait_until(lambda: (store.get_job(a)["step"] or 0) >= 12, 120, "job A past its first checkpoint")
        old_worker = store.get_job(a)["pid"]

        # 1. kill -9 the server: its worker checkpoints, hands job A back to the queue and exits.
        srv.kill9()
        wait_until(lambda: not worker_processes(home), 30, "the orphaned worker to stop")
        ja = store.get_job(a)
        assert ja["status"] == "queued" and ja["pid"] is None
        assert any("resumes from its checkpoint" in m for m in _messages(store, a))
        step_at_stop = ja["step"]
        time.sleep(1.0)
        assert store.get_job(a)["step"] == step_at_stop  # nothing trains on without the server
        assert store.get_job(b)["status"] == "queued"
        assert not (home / "tuned" / "fm-mlx-resumed").exists()

        # 2. Restart on the same port: A resumes from its checkpoint.
        srv = ServerProcess(home, port=srv.port).start()
        servers.append(srv)
        wait_until(lambda: (store.get_job(a)["step"] or 0) >= step_at_stop + 22, 120, "job A to resume and train")
        second_worker = store.get_job(a)["pid"]
        assert second_worker != old_worker and store.get_job(a)["attempts"] == 2

        # 2b. The worker alone dies (out of memory, say) while the server lives: the server's keep-alive starts
        #     another, which resumes A again from its newest checkpoint; then A succeeds and B runs.
        os.kill(second_worker, signal.SIGKILL)
        assert srv.wait_job(a, timeout=150)["status"] == "succeeded"
        assert srv.wait_job(b, timeout=90)["status"] == "succeeded"
        resumed = [int(m.split("step ")[1].rstrip(".")) for m in _messages(store, a)
                   if m.startswith("Resumed from the checkpoint at step")]
        # The first resume is from the checkpoint written when the server went; the second from the newest periodic one.
        assert len(resumed) == 2 and resumed[0] >= 10 and resumed[1] > resumed[0] and resumed[1] % 10 == 0, resumed
        assert store.get_job(a)["attempts"] == 3 and old_worker not in worker_processes(home)
        models = {m.id for m in srv.client().models.list()}
        assert {"fm-mlx-resumed", "fm-mlx-queued-behind"} <= models

        # 3. Server and worker killed together (a crash of the machine) before the job's first checkpoint:
        #    after the restart the job is failed with the reason, and the job queued behind it runs.
        c = srv.client()
        d = c.fine_tuning.jobs.create(model=BASE, training_file=f.id, hyperparameters={
            "max_steps": 100000, "save_every": 100000, "steps_per_report": 1, "fine_tuned_model_name": "lost"}).id
        e = c.fine_tuning.jobs.create(model=BASE, training_file=f.id, hyperparameters={
            "max_steps": 3, "fine_tuned_model_name": "after-crash"}).id
        wait_until(lambda: (store.get_job(d)["step"] or 0) >= 3, 120, "job D to train")
        worker = store.get_job(d)["pid"]
        os.kill(worker, signal.SIGKILL)
        srv.kill9()
        assert store.get_job(d)["status"] == "running"  # as the dead worker left it, until a worker recovers it
        srv = ServerProcess(home, port=srv.port).start()  # at once: the keep-alive starts a new worker
        servers.append(srv)
        jd = srv.wait_job(d, timeout=60)
        assert jd["status"] == "failed" and "before the job's first checkpoint" in jd["error"]["message"]
        assert jd["fine_tuned_model"] is None
        assert srv.wait_job(e, timeout=90)["status"] == "succeeded"
        models = {m.id for m in srv.client().models.list()}
        assert "fm-mlx-lost" not in models and "fm-mlx-after-crash" in models
        assert not [p for p in (home / "tuned").iterdir() if p.name.startswith(".") and p.name != ".store"]
        statuses = {j.id: j.status for j in srv.client().fine_tuning.jobs.list(limit=100).data}
        assert statuses == {a: "succeeded", b: "succeeded", d: "failed", e: "succeeded"}
    finally:
        for s in servers:
            if s.proc.poll() is None:
                s.stop()
        wait_until(lambda: not worker_processes(home), 30, "every worker to stop")
        census.stop()
    assert census.most == 1, f"{census.most} workers ran at once on one home: {census.seen}"
    assert len(census.pids) >= 3  # one per server life, each tied to its server


# Loaded by every Python process of the server below (PYTHONPATH): while the marker file exists, a process that
# swaps a tuned model's link (the last step of publishing, inside the job store's finishing transaction) notes its
# pid and kills itself with -9 there.
KILL_AT_SWAP = r'''
import os, signal
_marker = os.environ.get("FMSCRIPT_TEST_KILL_AT_SWAP")
if _marker:
    _replace = os.replace
    def _kill_at_swap(src, dst, *a, **kw):
        if os.path.basename(os.fspath(src)).startswith(".link-") and os.path.exists(_marker):
            with open(_marker + ".killed", "a") as f:
                f.write(f"{os.getpid()}\n")
            os.kill(os.getpid(), signal.SIGKILL)
        return _replace(src, dst, *a, **kw)
    os.replace = _kill_at_swap
'''


def test_worker_killed_while_publishing_inside_the_job_stores_commit(tmp_path):
    """kill -9 of the worker at the link swap of a new adapter, with the job store's finishing transaction open:
    jobs.sqlite stays whole (the job is not succeeded), the old model of the same name keeps answering, and the
    job, resumed from its checkpoint, publishes the new one once the worker is let live."""
    import sqlite3

    from fmscript.ai import modelstore

    home = tmp_path / "fmhome"
    create_tiny(BASE, home=home)
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(KILL_AT_SWAP)
    marker = tmp_path / "kill-at-swap"
    srv = ServerProcess(home, extra_env={"PYTHONPATH": os.pathsep.join(filter(None, [
        str(hook), os.environ.get("PYTHONPATH")])), "FMSCRIPT_TEST_KILL_AT_SWAP": str(marker)}).start()
    try:
        c = srv.client(timeout=120)
        store = JobStore(home / "jobs.sqlite")
        f = c.files.create(file=("qa.jsonl", jsonl().encode()), purpose="fine-tune")
        hp = {"max_steps": 6, "save_every": 3, "fine_tuned_model_name": "swapped"}
        old = c.fine_tuning.jobs.create(model=BASE, training_file=f.id, hyperparameters=hp).id
        assert srv.wait_job(old)["status"] == "succeeded"
        ask = {"model": "fm-mlx-swapped", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}
        answer = c.chat.completions.create(**ask).choices[0].message.content

        marker.touch()
        new = c.fine_tuning.jobs.create(model=BASE, training_file=f.id, hyperparameters=hp).id
        killed = marker.with_name(marker.name + ".killed")
        wait_until(killed.exists, 120, "the worker to be killed at the link swap")
        killed_pid = int(killed.read_text().split()[0])
        wait_until(lambda: not os.path.exists(f"/proc/{killed_pid}") or
                   open(f"/proc/{killed_pid}/stat").read().split(")")[-1].split()[0] == "Z", 30, "the kill")
        con = sqlite3.connect(home / "jobs.sqlite")
        try:
            assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        finally:
            con.close()
        assert store.get_job(new)["status"] in ("running", "queued")  # the finishing transaction never committed
        assert "Job succeeded." not in _messages(store, new)
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("FMSCRIPT_HOME", str(home))
            r = modelstore.resolve_model("fm-mlx-swapped")
            assert modelstore.read_pointer(r.adapter_path)["job_id"] == old  # the old adapter, whole
            assert [m["id"] for m in modelstore.list_models() if m["kind"] == "tuned"] == ["fm-mlx-swapped"]
        assert c.chat.completions.create(**ask).choices[0].message.content == answer  # and it keeps answering

        marker.unlink()  # the next worker lives: it resumes the job from its checkpoint and publishes
        assert srv.wait_job(new, timeout=180)["status"] == "succeeded"
        assert any("resumes from its checkpoint" in m for m in _messages(store, new))
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("FMSCRIPT_HOME", str(home))
            r = modelstore.resolve_model("fm-mlx-swapped")
            assert modelstore.read_pointer(r.adapter_path)["job_id"] == new
        assert c.chat.completions.create(**ask).choices[0].message.content is not None
    finally:
        srv.stop()
