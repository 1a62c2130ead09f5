"""The long fuzzing profile (issue 17): the strategies of tests/test_fuzz_hostile.py with many more inputs, each
within a budget of 5 seconds of CPU time (the wall clock stops an input that waits, at four times that) and
1 GiB of memory, counted instead of stopping at the first problem.

    python bench/fuzz.py                       # 100,000 inputs
    python bench/fuzz.py --inputs 20000 --report fuzz.json
    python bench/fuzz.py --only scripts,mutated_scripts --inputs 40000   # those two strategies

Prints (and writes with --report) the inputs run, the internal errors and the inputs over budget, with the first
few of each.  Exit status 1 when there is any internal error or runaway.  Hypothesis runs derandomised: the same
command gives the same inputs.
"""
from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the strategies live with the fast profile that CI runs

#: Share of the inputs per strategy.
SHARES = {"calculations": 0.35, "deep_nesting": 0.1, "unicode_calculations": 0.15, "scripts": 0.2,
          "mutated_scripts": 0.2}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--inputs", type=int, default=100_000)
    ap.add_argument("--seconds", type=float, default=5.0, help="CPU-time budget of one input")
    ap.add_argument("--only", help="comma-separated strategies to run (each with its share of --inputs)")
    ap.add_argument("--report", type=Path, help="write the counts and the problem inputs as JSON here")
    args = ap.parse_args(argv)

    import test_fuzz_hostile as F
    from hypothesis import HealthCheck, Phase, given, settings

    counts: Counter = Counter()
    problems: list[dict] = []
    started = time.monotonic()
    chosen = args.only.split(",") if args.only else list(SHARES)
    unknown = sorted(set(chosen) - set(SHARES))
    if unknown:
        ap.error(f"unknown strategy {', '.join(unknown)}; the strategies are {', '.join(SHARES)}")
    planned = 0
    for name in chosen:
        share = SHARES[name] / sum(SHARES[c] for c in chosen)
        strategy = getattr(F, name)()
        kind = "script" if "script" in name else "calc"
        # a strategy with fewer distinct inputs than its share (deep_nesting has 9,600) passes the rest on
        planned += max(1, round(args.inputs * share))
        n = max(1, planned - counts["inputs"])

        # generate only: a problem is counted and the run goes on, so there is nothing to shrink
        @settings(max_examples=n, deadline=None, derandomize=True, database=None, phases=[Phase.generate],
                  suppress_health_check=list(HealthCheck))
        @given(strategy)
        def explore(text):
            t0, c0 = time.monotonic(), time.process_time()
            outcome = F.attempt(kind, text, seconds=args.seconds)
            counts["inputs"] += 1
            counts[outcome.split(":")[0]] += 1
            if outcome not in ("ok", "error"):
                problems.append({"strategy": name, "outcome": outcome, "seconds": round(time.monotonic() - t0, 2),
                                 "cpu seconds": round(time.process_time() - c0, 2),
                                 "input": text[:4000]})
            if counts["inputs"] % 1000 == 0:
                # Hypothesis's record of the inputs it made grows by ~40 objects an input: frozen out of the
                # collector, so that an input pays for its own objects' collection only, as in a fresh process
                gc.freeze()
                # live objects: a count that grows much faster than that is a leak (one made a deep recursion slow)
                print(f"{counts['inputs']} inputs, {time.monotonic() - started:.0f} s, "
                      f"{len(gc.get_objects()) + gc.get_freeze_count():,} objects: {dict(counts)}", flush=True)
                if args.report:  # so far, for a run stopped before its end
                    args.report.write_text(json.dumps({"counts": dict(counts), "problems": problems}, indent=1,
                                                      ensure_ascii=False), encoding="utf-8")

        explore()
        print(f"{name}: done ({dict(counts)})", flush=True)
    summary = {"inputs": counts["inputs"], "ok": counts["ok"], "fmscript errors": counts["error"],
               "internal errors": counts["internal"], "over time": counts["over-time"],
               "over memory": counts["over-memory"], "seconds": round(time.monotonic() - started)}
    print(json.dumps(summary, indent=2))
    for p in problems[:20]:
        print(f"- {p['strategy']}: {p['outcome']} ({p['cpu seconds']} s CPU, {p['seconds']} s): {p['input'][:300]!r}")
    if args.report:
        args.report.write_text(json.dumps({"summary": summary, "problems": problems}, indent=1, ensure_ascii=False),
                               encoding="utf-8")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
