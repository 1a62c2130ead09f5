"""cpu_streams 2 (trainer.py): each batch in two halves on two mlx CPU streams gives the losses of the whole batch on
one stream, padded and packed, compiled or not; bad values are parameter errors.

Tolerances: both arrangements compute the same sums of the same per-token losses and gradients, only added in
another order (two halves, each over the whole batch's token count, instead of one sum), so the first step's loss
agrees to float32 rounding (rel 1e-5); later steps carry that rounding through AdamW updates (rel 1e-4, the
tolerance the packed/padded comparison uses too)."""
import pytest

from fmscript.ai import blas, fastext
from fmscript.ai.params import ParameterError, parse_params
from fmscript.ai.tinymodel import create_tiny
from fmscript.ai.trainer import LoRATrainer, make_batch, split_rows

from .engine_support import QA

EXAMPLES = [{"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]} for q, a in QA]


@pytest.fixture
def ext(home):
    fastext._state.clear()
    mod = fastext.load()
    if fastext._why_not_buildable() is None:  # a machine with a compiler, CMake and nanobind must have it
        assert mod is not None, fastext.status()
    yield mod
    fastext._state.clear()


def _train(path, steps=10, compile=True, **extra):
    p = parse_params({"max_steps": steps, "learning_rate": 3e-3, "batch_size": 4, "steps_per_report": 1, **extra})
    events = []
    t = LoRATrainer(path, p, EXAMPLES, compile=compile, report=lambda m, d=None, level="info": events.append(d))
    r = t.run(resume=False)
    return [m["train_loss"] for m in r.metrics], t, events


def _same_losses(one, two):
    assert len(one) == len(two) == 10
    assert two[0] == pytest.approx(one[0], rel=1e-5)
    assert two == pytest.approx(one, rel=1e-4, abs=1e-6)
    assert one[-1] < one[0]  # it trains: the comparison is not between two runs that do nothing


def test_two_streams_give_the_packed_losses_of_one(home, ext):
    path = create_tiny("fmscript/tiny-chat")
    one, t1, _ = _train(path, cpu_streams=1)
    two, t2, events = _train(path, cpu_streams=2)
    assert t1.streams is None and t2.streams is not None and "two CPU streams" in t2.kernels
    assert t2.packed == t1.packed == (ext is not None)  # packed rows need the extension's attention
    start = next(d for d in events if d and "kernels" in d)
    assert start["cpu_streams"] == 2
    _same_losses(one, two)


def test_two_streams_give_the_padded_losses_of_one(home, ext, monkeypatch):
    path = create_tiny("fmscript/tiny-chat")
    monkeypatch.setattr(fastext, "packed_attention", lambda: None)  # padded rows, the extension's other kernels
    one, t1, _ = _train(path, cpu_streams=1)
    two, t2, _ = _train(path, cpu_streams="2")
    assert not t1.packed and not t2.packed and t2.streams is not None
    _same_losses(one, two)


def test_two_streams_without_compile_and_without_fast_math(home):
    path = create_tiny("fmscript/tiny-chat")
    one, _, _ = _train(path, fast_math=False, cpu_streams=1)
    two, t2, _ = _train(path, compile=False, fast_math=False, cpu_streams=2)
    assert t2.streams is not None and not t2.packed
    _same_losses(one, two)


def test_the_environment_chooses_when_the_job_does_not(home, monkeypatch):
    path = create_tiny("fmscript/tiny-chat")
    monkeypatch.setenv("FMSCRIPT_CPU_STREAMS", "2")
    _, t, _ = _train(path, steps=1, fast_math=False)
    assert t.streams is not None
    _, t, _ = _train(path, steps=1, fast_math=False, cpu_streams=1)  # the job's own value wins
    assert t.streams is None
    monkeypatch.setenv("FMSCRIPT_CPU_STREAMS", "3")
    with pytest.raises(ParameterError, match="FMSCRIPT_CPU_STREAMS must be 1 or 2"):
        _train(path, steps=1, fast_math=False)


def test_one_thread_inside_each_stream_while_training_then_restored(home, ext):
    path = create_tiny("fmscript/tiny-chat")
    mkl_before, ext_before = blas.get_threads(), fastext.threads()
    seen = []
    p = parse_params({"max_steps": 2, "batch_size": 4, "steps_per_report": 1, "cpu_streams": 2})
    LoRATrainer(path, p, EXAMPLES,
                report=lambda m, d=None, level="info": seen.append((blas.get_threads(), fastext.threads()))).run(
        resume=False)
    assert seen and all(m in (None, 1) and e in (None, 1) for m, e in seen)
    if ext is not None:
        assert {e for _, e in seen} == {1}
    assert (blas.get_threads(), fastext.threads()) == (mkl_before, ext_before)


def test_split_rows_balances_tokens_and_keeps_every_row():
    rows = [([0] * n, 1) for n in (40, 9, 33, 12, 25, 30)]
    for packed in (True, False):
        a, b = split_rows(rows, packed)
        assert a and b and sorted(map(id, a + b)) == sorted(map(id, rows))
    a, b = split_rows(rows, packed=True)
    # 143 loss-bearing positions: greedy longest-first gives 39+24+8 = 71 and 32+29+11 = 72 (the best split)
    assert sorted(sum(len(t) - 1 for t, _ in h) for h in (a, b)) == [71, 72]
    a, b = split_rows(rows, packed=False)
    padded = [make_batch(h)[0].size for h in (a, b)]
    assert max(padded) < make_batch(rows)[0].size * 0.75  # each half pads to its own longest row


@pytest.mark.parametrize("value, message", [
    (3, "must be 1 or 2"), (0, "must be 1 or 2"), ("two", "must be a number"), (1.5, "whole number"),
    (True, "not true/false")])
def test_bad_cpu_streams_is_a_parameter_error(value, message):
    with pytest.raises(ParameterError, match=message) as e:
        parse_params({"cpu_streams": value, "batch_size": 4})
    assert e.value.code == 1708


def test_two_streams_need_two_rows_per_batch():
    with pytest.raises(ParameterError, match="needs batch_size 2 or more"):
        parse_params({"cpu_streams": 2})
    assert parse_params({"cpu_streams": 1}).cpu_streams == 1


def test_worker_environment_for_two_streams():
    env, _ = blas.worker_environment({"FMSCRIPT_CPU_STREAMS": "2", "OMP_NUM_THREADS": "4"})
    assert env["MKL_NUM_THREADS"] == "1" and env["FMSCRIPT_EXT_THREADS"] == "1"
    assert env["OMP_NUM_THREADS"] == "4"  # what the caller set stays
    assert int(env["MLX_BFS_MAX_WIDTH"]) >= 100_000
    env, _ = blas.worker_environment({})
    assert "MKL_NUM_THREADS" not in env and "FMSCRIPT_EXT_THREADS" not in env


def test_two_streams_with_bf16_base_weights(home, ext):
    """bf16 products from both streams at once (oneDNN's take turns). Not bit-for-bit: a bf16 GEMM's blocking, and so
    its float32 accumulation order, follows the rows it is given, and the halves have other row counts than the
    whole; the first step agrees to rounding, later steps within 1 % (against bf16's 0.4 % per rounding)."""
    path = create_tiny("fmscript/tiny-chat")
    one, t1, _ = _train(path, base_dtype="bf16", cpu_streams=1)
    two, t2, _ = _train(path, base_dtype="bf16", cpu_streams=2)
    assert t2.streams is not None
    assert t1.base_dtype == t2.base_dtype == ("bfloat16" if fastext.bf16_gemm() else "float32")
    assert two[0] == pytest.approx(one[0], rel=1e-5)
    assert two == pytest.approx(one, rel=1e-2)


def test_a_job_with_two_streams_through_the_worker(home, qa_file):
    """The parameter reaches the worker process (MKL preloaded there): its start event says two streams, one MKL
    thread and one kernel thread each."""
    from fmscript.ai.jobs import JobStore
    from fmscript.ai.local import LocalEngine

    engine = LocalEngine()
    res = engine.fine_tune("fmscript/tiny-chat", qa_file, {"max_steps": 3, "batch_size": 4, "cpu_streams": 2,
                                                           "steps_per_report": 1})["result"]
    done = engine.wait(res["id"], timeout=240)["result"]
    store = JobStore()
    assert done["status"] == "succeeded", store.get_job(res["id"])["error"]
    start = next(e["data"] for e in store.events(res["id"]) if e["data"] and "kernels" in e["data"])
    assert start["cpu_streams"] == 2 and "two CPU streams" in start["kernels"]
    blas_event = next(e["data"] for e in store.events(res["id"]) if e["data"] and "blas" in e["data"])
    if blas_event["blas"] == "mkl":
        assert start["mkl_threads"] == 1
    assert start["ext_threads"] in (None, 1)


@pytest.mark.parametrize("cpus,streams", [({0, 1}, 2), ({0}, 1), ({0, 1, 2, 3}, 1)])
def test_unless_asked_two_streams_where_the_process_has_two_cpus(home, monkeypatch, cpus, streams):
    from fmscript.ai import trainer

    monkeypatch.delenv("FMSCRIPT_CPU_STREAMS", raising=False)
    monkeypatch.setattr(trainer.os, "sched_getaffinity", lambda pid: cpus)
    assert trainer.default_cpu_streams() == streams
    path = create_tiny("fmscript/tiny-chat")
    _, t, events = _train(path, steps=1, fast_math=False)
    assert (t.streams is not None) == (streams == 2)
    # a job the default cannot split (batch_size 1) trains on one stream without a warning: nobody asked for two
    said = []
    p = parse_params({"max_steps": 1, "batch_size": 1, "fast_math": False})
    t = LoRATrainer(path, p, EXAMPLES, report=lambda m, d=None, level="info": said.append((level, m)))
    t.run(resume=False)
    assert t.streams is None and not [m for level, m in said if level == "warning"]
    monkeypatch.setenv("FMSCRIPT_CPU_STREAMS", "2")  # asked for: then the job is told why it gets one
    said.clear()
    t = LoRATrainer(path, p, EXAMPLES, report=lambda m, d=None, level="info": said.append((level, m)))
    t.run(resume=False)
    assert t.streams is None and ("warning", "cpu_streams 2 is not used: batch_size is 1; one stream trains.") in said
