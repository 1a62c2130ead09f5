"""Language-core benchmarks, with their baselines measured in the same run.

(a) a 100,000-iteration Loop (number arithmetic, an If, `&` concatenation, JSONSetElement) against the
    same loop hand-written in Python: printed as a ratio (target ≤ 10×);
(b) cold start of `fmscript run` on a one-line script against `python -c pass`: printed as the
    difference (target ≤ 150 ms).

    python bench/bench_core.py [--iterations N] [--repeat R]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

LOOP = """Set Variable [ $i ; Value: 0 ]
Set Variable [ $sum ; Value: 0 ]
Set Variable [ $s ; Value: "" ]
Set Variable [ $j ; Value: "{{}}" ]
Loop
  Set Variable [ $i ; Value: $i + 1 ]
  Set Variable [ $sum ; Value: $sum + $i * 2 ]
  If [ Mod ( $i ; 1000 ) = 0 ]
    Set Variable [ $s ; Value: $s & "x" ]
  End If
  Set Variable [ $j ; Value: JSONSetElement ( $j ; "last" ; $i ; JSONNumber ) ]
  Exit Loop If [ $i ≥ {n} ]
End Loop
Exit Script [ Text Result: $sum & "|" & Length ( $s ) & "|" & $j ]
"""


def python_loop(n: int) -> str:
    i = 0
    total = 0
    s = ""
    j = "{}"
    while True:
        i += 1
        total += i * 2
        if i % 1000 == 0:
            s += "x"
        d = json.loads(j)
        d["last"] = i
        j = json.dumps(d, sort_keys=True, separators=(",", ":"))
        if i >= n:
            break
    return f"{total}|{len(s)}|{j}"


def fmscript_loop(n: int) -> tuple[str, float]:
    from fmscript.interpreter import Interpreter

    fm = Interpreter()
    fm.load_text(LOOP.format(n=n), "bench.fmscript", "bench")
    t = time.perf_counter()
    result = fm.run_script("bench")
    return result, time.perf_counter() - t


def best(fn, repeat):
    times = []
    out = None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return out, min(times)


def cold_start(repeat: int, script_cache: bool = True) -> tuple[float, float]:
    env = dict(os.environ)
    # A user's second run finds compiled .pyc files: let Python write them even where this shell says not to.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    with tempfile.TemporaryDirectory() as d:
        script = Path(d) / "one.fmscript"
        script.write_text('Set Variable [ $x ; Value: 1 + 1 ]\n', encoding="utf-8")
        env.setdefault("FMSCRIPT_HOME", str(Path(d) / "home"))
        if not script_cache:
            env["FMSCRIPT_NO_CACHE"] = "1"  # a script seen for the first time: Lark parses it
        # Warm the parser cache and the OS file cache once, as a user's second run would find them.
        subprocess.run([sys.executable, "-m", "fmscript", "run", str(script)], env=env, check=True)
        fm_times, py_times = [], []
        for _ in range(repeat):
            t = time.perf_counter()
            subprocess.run([sys.executable, "-c", "pass"], env=env, check=True)
            py_times.append(time.perf_counter() - t)
            t = time.perf_counter()
            subprocess.run([sys.executable, "-m", "fmscript", "run", str(script)], env=env, check=True)
            fm_times.append(time.perf_counter() - t)
    return statistics.median(fm_times), statistics.median(py_times)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--iterations", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    n = args.iterations

    py_out, py_t = best(lambda: python_loop(n), args.repeat)
    fm_runs = [fmscript_loop(n) for _ in range(args.repeat)]
    fm_out, fm_t = fm_runs[0][0], min(t for _, t in fm_runs)
    expected = py_out.replace('{"last":', '{"last":')
    status = "same result" if fm_out == expected else f"DIFFERENT RESULT: {fm_out[:60]} vs {py_out[:60]}"
    print(f"(a) loop x{n:,}: fmscript {fm_t * 1000:.0f} ms, hand-written Python {py_t * 1000:.0f} ms, "
          f"ratio {fm_t / py_t:.2f}x (target <= 10x), {status}")

    fm_c, py_c = cold_start(max(args.repeat, 5))
    print(f"(b) cold start: fmscript run {fm_c * 1000:.0f} ms, python -c pass {py_c * 1000:.0f} ms, "
          f"difference {(fm_c - py_c) * 1000:.0f} ms (target <= 150 ms)")
    fm_n, py_n = cold_start(max(args.repeat, 5), script_cache=False)
    print(f"    first run of a new script (Lark parses it): fmscript run {fm_n * 1000:.0f} ms, "
          f"python -c pass {py_n * 1000:.0f} ms, difference {(fm_n - py_n) * 1000:.0f} ms")
    return 0 if fm_out == expected else 1


if __name__ == "__main__":
    sys.exit(main())
