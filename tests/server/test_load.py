"""A bounded load test on loopback: 50 concurrent chat completions and 10 job submissions at once.

Every chat gets the right answer (greedy decoding: the same as a lone request), every submission gets a job,
the jobs queue in order behind one worker, and none is lost: all of them run to the end.
"""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from fmscript.ai.jobs import JobStore

from .harness import BASE, QA, jsonl, wait_until

CHATS = 50
JOBS = 10


@pytest.mark.slow
def test_50_chats_and_10_jobs_at_once(drained, capsys):
    server = drained
    c = server.client(timeout=300)
    questions = [q for q, _ in QA]

    def ask(q):
        t = time.monotonic()
        r = c.chat.completions.create(model=BASE, max_tokens=12, messages=[{"role": "user", "content": q}])
        return q, r.choices[0].message.content, r.usage.completion_tokens, time.monotonic() - t

    expected = {q: ask(q)[1] for q in questions}  # one at a time (this also loads the model)
    f = c.files.create(file=("qa.jsonl", jsonl().encode()), purpose="fine-tune")

    def submit(i):
        t = time.monotonic()
        j = c.fine_tuning.jobs.create(model=BASE, training_file=f.id, hyperparameters={
            "max_steps": 2, "fine_tuned_model_name": f"load-{i}"})
        return j, time.monotonic() - t

    start = time.monotonic()
    with ThreadPoolExecutor(CHATS + JOBS) as pool:
        chat_futs = [pool.submit(ask, questions[i % len(questions)]) for i in range(CHATS)]
        job_futs = [pool.submit(submit, i) for i in range(JOBS)]
        submitted = [fu.result() for fu in job_futs]
        submit_done = time.monotonic() - start
        answers = [fu.result() for fu in chat_futs]
    chat_done = time.monotonic() - start

    assert len(answers) == CHATS
    for q, text, _, _ in answers:
        assert text == expected[q], q
    tokens = sum(a[2] for a in answers)
    ids = [j.id for j, _ in submitted]
    assert len(set(ids)) == JOBS and all(j.status in ("queued", "running") for j, _ in submitted)
    listed = {j.id: j for j in c.fine_tuning.jobs.list(limit=100).data}
    assert set(ids) <= set(listed)
    assert sum(1 for i in ids if listed[i].status == "running") <= 1  # one worker, one job at a time
    # None is lost: every job runs to the end, in submission order.
    order = sorted(ids, key=lambda i: int(i.rsplit("-", 1)[1]))
    finished = {}
    for jid in order:
        finished[jid] = server.wait_job(jid, timeout=120)
    assert all(j["status"] == "succeeded" for j in finished.values()), finished
    store = JobStore(server.home / "jobs.sqlite")
    started = [store.get_job(j)["started_at"] for j in order]
    assert started == sorted(started)
    models = {m.id for m in c.models.list()}
    assert {f"fm-mlx-load-{i}" for i in range(JOBS)} <= models
    jobs_done = time.monotonic() - start
    with capsys.disabled():
        print(f"\nload: {CHATS} chats + {JOBS} job submissions at once on loopback: submissions answered in "
              f"{submit_done:.2f} s (max {max(s for _, s in submitted):.2f} s each); chats answered in "
              f"{chat_done:.2f} s = {CHATS / chat_done:.1f} chats/s, {tokens / chat_done:.0f} generated tokens/s "
              f"(max latency {max(a[3] for a in answers):.2f} s); all {JOBS} jobs succeeded after "
              f"{jobs_done:.1f} s")
    wait_until(lambda: server.health()["jobs"]["queued"] == 0, 10, "an empty queue")


SUBMITTERS = 8


def test_jobs_submitted_at_once_run_one_at_a_time(drained):
    """Eight threads submit at the same moment, racing the keep-alive for the worker: the events, in the order the
    store wrote them, show each job's run ("Worker … started the job." to its end) closed before the next begins."""
    import threading

    server = drained
    c = server.client(timeout=120)
    f = c.files.create(file=("qa.jsonl", jsonl().encode()), purpose="fine-tune")
    go = threading.Barrier(SUBMITTERS)

    def submit(i):
        go.wait()
        return c.fine_tuning.jobs.create(model=BASE, training_file=f.id, hyperparameters={
            "max_steps": 2, "fine_tuned_model_name": f"race-{i}"}).id

    with ThreadPoolExecutor(SUBMITTERS) as pool:
        ids = list(pool.map(submit, range(SUBMITTERS)))
    assert len(set(ids)) == SUBMITTERS
    assert all(server.wait_job(j, timeout=180)["status"] == "succeeded" for j in ids)
    store = JobStore(server.home / "jobs.sqlite")
    marks = sorted((e["seq"], kind, j) for j in ids for e in store.events(j)
                   for kind in [("start" if "started the job" in e["message"] else
                                 "end" if e["message"] == "Job succeeded." else None)] if kind)
    assert [k for _, k, _ in marks] == ["start", "end"] * SUBMITTERS, marks  # never two runs open at once
    assert all(marks[i][2] == marks[i + 1][2] for i in range(0, len(marks), 2))  # each run closed by its own end
