"""Fuzzing as a hostile user would (issue 17): generated calculations (the shapes of grammar/calc.lark with
every built-in function), extreme numbers, unicode, deep nesting, generated and mutated scripts, all through the
public ``Interpreter``, each input within a time and memory budget.

Every input must end in a value or an fmscript error: any other exception is an internal error, and an input
that runs past its budget is a runaway.  The fast profile runs here (about 3,000 inputs); the long profile is
``python bench/fuzz.py`` (100,000 inputs, docs/limits.md), which imports the strategies and :func:`attempt` from
this file.  Hypothesis's ``from_lark`` would build calculations from the grammar itself, but it does not finish
on calc.lark's lookahead terminals, so :func:`calculations` follows the grammar's rules by hand.
"""
from __future__ import annotations

import os
import pathlib
import resource
import shutil
import signal
import tempfile
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fmscript import limits
from fmscript.calc.functions import GET_NAMES, registry
from fmscript.errors import FMScriptError
from fmscript.interpreter import Interpreter

limits.ensure_stack()  # as the first parse does; raised now, so Hypothesis sees no change while a test runs
ROOT = pathlib.Path(__file__).resolve().parent.parent
SEEDS = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "tests" / "fixtures").glob("*.fmscript"))]
SEEDS += [p.read_text(encoding="utf-8") for p in sorted((ROOT / "examples").glob("*.fmscript"))]

#: CPU seconds and bytes (growth of the address space) one input may take; bench/fuzz.py runs with 5 s.
TIME_BUDGET = float(os.environ.get("FMSCRIPT_FUZZ_SECONDS", "20"))
MEMORY_BUDGET = 1 << 30
#: An input that waits (no CPU time) is stopped after this many times its budget of wall-clock time.
WAIT_FACTOR = 4
#: Examples per fast-profile test (bench/fuzz.py runs the same strategies with many more).
FAST = int(os.environ.get("FMSCRIPT_FUZZ_FAST", "300"))

# FineTuneJobStatus asks an AI account's provider; SetRecursion lets a calculation choose to loop for as long as it
# likes, as in FileMaker (a run's --timeout bounds that).
SKIP_FUNCTIONS = {"FineTuneJobStatus", "SetRecursion"}
FUNCTIONS = sorted({(d.name, d.min_args, d.max_args) for d in registry().values() if d.name not in SKIP_FUNCTIONS})
EXTREME_NUMBERS = ["0", "-0", "1", "-1", "0.5", "1e400", "-1e400", "9e998", "-9e998", "1e-998", "1e999", "\"9e999998\"", "2147483648",
                   "9223372036854775808", "18446744073709551616", "55296", "57343", "1114112", "86400", "1e20",
                   "190156789012345", "126227808000", "3.14159265358979323846264338327950288", "1" + "0" * 500,
                   "0." + "0" * 300 + "1", "99999999999999999999", "1e15", "-86400"]
TEXTS = ['""', '"abc"', '"¶"', '"中文"', '"ｶﾞ"', '"\\""', '"[+]"', '"[2147483648]"', '"[99999999999999999999]"',
         '"{\\"a\\":[1,2,{\\"b\\":null}]}"', '"[' + "[" * 50 + "]" * 50 + ']"', '"12:30:00"', '"1/2/2020"',
         '"2/30/2020 25:61:61"', '"SELECT 1"', '"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) '
         'SELECT count(*) FROM c"', '"\\\\ud800"', '"😀"', '"e\u0301"', '"\u200f"', '"\t \r"', '"a.b[0]"', '"$x"',
         '"Abs ( 1 )"', '"Evaluate ( \\"1+\\" )"']
ATOMS = st.sampled_from(EXTREME_NUMBERS + TEXTS + ["$x", "$$y", "$x[2]", "x", "T::F", "Pi", "True", "False", "¶",
                                                   "JSONString", "JSONNumber", "JSONArray", "JSONObject",
                                                   "Char ( 55296 )", "Get ( CurrentTimestamp )"]
                        + [f"Get ( {n} )" for n in sorted(GET_NAMES)[:80]])
OPERATORS = ["+", "-", "*", "/", "^", "&", "=", "≠", "<", ">", "≤", "≥", "and", "or", "xor"]


def calculations(max_leaves: int = 25):
    """Calculations shaped like the grammar's rules: operators, not/minus, parentheses, calls of every built-in
    with an allowed number of arguments, Let with a binding list, [ … ] lists.  A generated While runs at most
    10 times: nested ones multiply (three deep at 100 each is a million iterations, honest work, not a runaway)."""
    def extend(inner):
        def call(t):
            (name, lo, hi), args = t
            return f"{name} ( {' ; '.join(args)} )" if args else name

        def with_arity(fn):
            name, lo, hi = fn
            n = st.integers(lo, (hi if hi is not None else lo + 3))
            return n.flatmap(lambda k: st.lists(inner, min_size=k, max_size=k)).map(lambda a: (fn, a))

        return st.one_of(
            st.tuples(inner, st.sampled_from(OPERATORS), inner).map(lambda t: f"{t[0]} {t[1]} {t[2]}"),
            st.tuples(st.sampled_from(["-", "not ", "+"]), inner).map("".join),
            inner.map(lambda x: f"( {x} )"),
            st.sampled_from(FUNCTIONS).flatmap(with_arity).map(call),
            st.tuples(inner, inner).map(lambda t: f"Let ( [ x = {t[0]} ; y = x & {t[1]} ] ; y )"),
            st.lists(inner, min_size=1, max_size=3).map(lambda xs: f"Substitute ( {xs[0]} ; [ \"a\" ; {xs[-1]} ] )"),
            st.tuples(inner, inner).map(lambda t: f"While ( [ i = 0 ; o = \"\" ] ; i < Min ( 10 ; {t[0]} ) ; "
                                                  f"[ i = i + 1 ; o = o & {t[1]} ] ; o )"),
        )
    return st.recursive(ATOMS, extend, max_leaves=max_leaves)


def deep_nesting():
    """Nesting from a few levels to past MAX_CALC_DEPTH, in each form that recursed: calls, If, Let, chains."""
    forms = {"call": lambda n: "Abs ( " * n + "1" + " )" * n,
             "if": lambda n: "If ( 1 ; " * n + "1" + " ; 0 )" * n,
             "let": lambda n: "Let ( x = 1 ; " * n + "x" + " )" * n,
             "plus": lambda n: " + ".join(["1"] * n),
             "amp": lambda n: " & ".join(['"a"'] * n),
             "neg": lambda n: "-" * n + "1",
             "json": lambda n: f'JSONGetElement ( "{"[" * n}{"]" * n}" ; 0 )',
             "evaluate": lambda n: 'Evaluate ( "' + "Abs ( " * n + "1" + " )" * n + '" )'}
    return st.tuples(st.sampled_from(sorted(forms)), st.integers(1, 1200)).map(lambda t: forms[t[0]](t[1]))


def unicode_calculations():
    """Any text as a calculation, and any text inside a text constant."""
    return st.one_of(st.text(max_size=120),
                     st.text(max_size=80).map(lambda s: '"' + s.replace('"', '\\"') + '"'),
                     st.text(max_size=40).map(lambda s: f'Length ( "{s}" ) & Upper ( "{s}" ) & Code ( "{s}" )'))


STEP_SHAPES = ["Set Variable [ $x ; Value: {c} ]", "Set Variable [ $$g[{c}] ; Value: 1 ]", "Show Custom Dialog [ {c} ]",
               "If [ {c} ]\nSet Variable [ $y ; Value: {c} ]\nElse\nBeep\nEnd If", "Exit Script [ Text Result: {c} ]",
               "Set Error Capture [ On ]", "Perform Script [ \"S\" ; Parameter: {c} ]",
               "Export Records [ With dialog: Off ; {c} ]", "Save Records as JSONL [ Table: T ; {c} ]",
               "Set Field [ T::F ; {c} ]", "Insert Text [ Select ; $t ; {c} ]", "Go to Layout [ {c} ]",
               "Configure AI Account [ Account Name: \"a\" ; Model Provider: OpenAI ; API key: {c} ]"]


def scripts():
    """Scripts of generated steps (a second script performs itself, with a guard the calculation may break)."""
    step = st.tuples(st.sampled_from(STEP_SHAPES), calculations(8)).map(lambda t: t[0].format(c=t[1]))
    body = st.lists(step, min_size=1, max_size=8).map("\n".join)
    return body.map(lambda b: f'Script "Main"\n{b}\nEnd Script\nScript "S"\nSet Variable [ $$n ; $$n + 1 ]\n'
                              f'If [ $$n < 50 ]\n{b}\nEnd If\nEnd Script\n')


def mutated_scripts():
    """The example and fixture scripts with a few bytes deleted, inserted or duplicated."""
    @st.composite
    def mutate(draw):
        text = draw(st.sampled_from(SEEDS))
        for _ in range(draw(st.integers(1, 5))):
            pos = draw(st.integers(0, len(text)))
            kind = draw(st.sampled_from(["delete", "insert", "duplicate", "number"]))
            if kind == "delete":
                text = text[:pos] + text[draw(st.integers(pos, min(len(text), pos + 12))):]
            elif kind == "insert":
                text = text[:pos] + draw(st.sampled_from(list('[];"()¶\n$:#/*“') + ["Loop", "\u0000"])) + text[pos:]
            elif kind == "number":
                text = text[:pos] + draw(st.sampled_from(EXTREME_NUMBERS)) + text[pos:]
            else:
                end = draw(st.integers(pos, min(len(text), pos + 30)))
                text = text[:end] + text[pos:end] + text[end:]
        return text
    return mutate()


class OverBudget(BaseException):
    """The input ran past its time budget (raised by the timer signal wherever the input was)."""


def _address_space() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[0]) * resource.getpagesize()


def attempt(kind: str, text: str, seconds: float = TIME_BUDGET) -> str:
    """Run one input: 'ok', 'error' (an fmscript error), 'over-time', 'over-memory', or 'internal: …'.

    Time is the process's CPU time (``ITIMER_PROF``): a runaway is work, and CPU time does not grow when other
    work shares the cores, so a count of inputs over the budget means the same on a busy machine as on a quiet
    one.  An input that waits instead of working (a socket, a sleep) is stopped by the wall clock at
    :data:`WAIT_FACTOR` times the budget.  Memory: the address space may grow by :data:`MEMORY_BUDGET` while it
    runs (``RLIMIT_AS``), so an input that would build a huge value gets MemoryError."""
    folder = tempfile.mkdtemp(prefix="fmfuzz-")
    fm = Interpreter(on_dialog=lambda t, m: None, base_dir=folder)

    def on_timer(signum, frame):
        raise OverBudget()

    sql_limit, limits.SQL_TIME_LIMIT = limits.SQL_TIME_LIMIT, min(limits.SQL_TIME_LIMIT, 1.0)
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = _address_space() + MEMORY_BUDGET
    resource.setrlimit(resource.RLIMIT_AS, (cap if hard == resource.RLIM_INFINITY else min(cap, hard), hard))
    previous = {sig: signal.signal(sig, on_timer) for sig in (signal.SIGPROF, signal.SIGALRM)}
    # Again every second after the budget: a signal that lands in a gc callback is swallowed by Python.
    signal.setitimer(signal.ITIMER_PROF, seconds, 1.0)
    signal.setitimer(signal.ITIMER_REAL, seconds * WAIT_FACTOR, 1.0)
    cpu = time.process_time()
    try:
        if kind == "calc":
            fm.evaluate(text)
        else:
            names = fm.load_text(text, "fuzz.fmscript")
            steps = {st.name for s in fm.parse(text, "fuzz.fmscript")[0].scripts for st in s.steps}
            if not steps & {"Loop", "Pause/Resume Script"}:  # a loop may run forever by design: loaded only
                fm.run_script(names[0])
        outcome = "ok"
    except FMScriptError as e:
        e.render()
        outcome = "error"
    except OverBudget:
        outcome = "over-time"
    except MemoryError:
        outcome = "over-memory"
    except Exception as e:  # noqa: BLE001 - what this suite looks for
        outcome = f"internal: {type(e).__name__}: {str(e)[:200]}"
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.setitimer(signal.ITIMER_REAL, 0)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
        limits.SQL_TIME_LIMIT = sql_limit
        fm.close()
        shutil.rmtree(folder, ignore_errors=True)
    if outcome in ("ok", "error") and time.process_time() - cpu > seconds:
        outcome = "over-time"
    return outcome


def check(kind: str, text: str) -> None:
    """No internal error and no memory runaway.  Time is not judged here (speed belongs in bench/): inputs over
    the time budget are counted by the long profile, bench/fuzz.py."""
    outcome = attempt(kind, text)
    assert outcome in ("ok", "error", "over-time"), f"{outcome}\n{text[:2000]!r}"


FUZZ = settings(max_examples=FAST, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])


@FUZZ
@given(calculations())
def test_generated_calculations(text):
    check("calc", text)


@settings(FUZZ, max_examples=FAST // 2)
@given(deep_nesting())
def test_deep_nesting(text):
    check("calc", text)


@FUZZ
@given(unicode_calculations())
def test_unicode_calculations(text):
    check("calc", text)


@settings(FUZZ, max_examples=FAST // 2)
@given(scripts())
def test_generated_scripts(text):
    check("script", text)


@FUZZ
@given(mutated_scripts())
def test_mutated_examples_and_fixtures(text):
    check("script", text)


def test_the_budget_catches_a_runaway_and_an_internal_error(monkeypatch):
    # The check can fail: a calculation that never ends is over time, and a function that crashes is internal.
    assert attempt("calc", "SetRecursion ( While ( i = 0 ; 1 ; i = i + 1 ; i ) ; 1e300 )", seconds=1) == "over-time"
    d = registry()["abs"]

    def crash(x):
        raise TypeError("always")

    monkeypatch.setattr(d, "impl", crash)
    assert attempt("calc", "Abs ( 1 )") == "internal: TypeError: always"


def test_the_wall_clock_stops_an_input_that_waits(monkeypatch):
    # CPU time does not grow while an input sleeps on a socket or a timer: the wall clock stops it instead.
    d = registry()["abs"]
    monkeypatch.setattr(d, "impl", lambda x: time.sleep(30))
    # Without the wall clock the sleep ends after 30 s and the input reads as "ok".
    assert attempt("calc", "Abs ( 1 )", seconds=0.25) == "over-time"
