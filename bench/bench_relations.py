"""fmscript's data layer at scale, against the same queries written directly in SQLite, in one run.

    python bench/bench_relations.py                                   # 1,000,000 customers, 10,000,000 invoices
    python bench/bench_relations.py --parents 100000 --children 1000000 --db /tmp/rel.sqlite --keep

Builds (with SQLite itself, in one transaction per table) ``Customers(ID, Name, City, Score)`` and
``Invoices(ID, CustomerID, Amount, Date)``, ten invoices per customer, relates them with fmscript
(``Customers::ID = Invoices::CustomerID``, which indexes the match fields), then times, best of ``--repeat``:

1. **find**: ``Perform Find`` of ``Customers::Score: 100...199`` (a tenth of the table) through the script
   interpreter, against ``SELECT rowid … WHERE Score BETWEEN 100 AND 199``;
2. **sort** that found set by ``Customers::Score descending`` (Sort Records), against ``ORDER BY Score DESC``;
3. **follow, found set**: ``Go to Related Record [ Show only related records ; Match all records in current
   found set ]`` from a 10,000-record found set, against one ``IN (SELECT …)`` query;
4. **follow, per record**: ``Invoices::Amount`` (the first related invoice) read in each of those 10,000
   records through the data layer, against one indexed join query per record (from the customer's rowid);
5. **aggregate**: ``Sum ( Invoices::Amount )`` in each of the 10,000 records (a compiled calculation), against
   ``SELECT total(i.Amount) … JOIN … WHERE c.rowid = ?`` per record.

The direct side reads through its own connection to the same file, and its answers are checked against
fmscript's, so both do the same work.  Ratios are fmscript's time over the direct query's (target ≤ 2×).
"""
from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

CITIES = 50


def build(path: Path, parents: int, children: int) -> float:
    t0 = time.perf_counter()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=OFF")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-400000")
    conn.execute("CREATE TABLE Customers (ID INTEGER, Name TEXT, City TEXT, Score INTEGER)")
    conn.execute("CREATE TABLE Invoices (ID INTEGER, CustomerID INTEGER, Amount INTEGER, Date TEXT)")
    per = max(children // parents, 1)
    conn.execute("BEGIN")
    conn.execute("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ?) "
                 "INSERT INTO Customers SELECT x, 'Customer ' || x, 'City ' || (x % ?), (x * 7919) % 1000 FROM c",
                 (parents, CITIES))
    conn.execute("COMMIT")
    conn.execute("BEGIN")
    # Invoices in date order, ``per`` per customer, interleaved as a real table would hold them.
    conn.execute("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ?) "
                 "INSERT INTO Invoices SELECT x, ((x - 1) % ?) + 1, (x * 31) % 500, "
                 "date('2020-01-01', '+' || (x * ? / ?) || ' days') FROM c", (children, parents, 1500, children))
    conn.execute("COMMIT")
    conn.close()
    t1 = time.perf_counter()
    from fmscript.data import open_database
    db = open_database(path)
    db.relate(["Customers::ID = Invoices::CustomerID"])  # creates the indexes on both match fields
    db.close()
    print(f"built {parents:,} customers and {children:,} invoices in {t1 - t0:.1f} s; related and indexed in "
          f"{time.perf_counter() - t1:.1f} s ({path.stat().st_size / 2**20:,.0f} MiB)", flush=True)
    return time.perf_counter() - t0


def best(fn, repeat: int):
    times, result = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return min(times), result


def pair(fm_fn, sql_fn, repeat: int):
    """Best times of both sides, run in turns (fmscript, SQLite, fmscript, …) so that a change in the load of a
    shared machine, or a cold cache, falls on both alike."""
    tf, ts, a, b = [], [], None, None
    for _ in range(repeat):
        t = time.perf_counter()
        a = fm_fn()
        tf.append(time.perf_counter() - t)
        t = time.perf_counter()
        b = sql_fn()
        ts.append(time.perf_counter() - t)
    return min(tf), min(ts), a, b


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--parents", type=int, default=1_000_000)
    ap.add_argument("--children", type=int, default=10_000_000)
    ap.add_argument("--found", type=int, default=10_000, help="the found set relationships are followed from")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--db", help="the file (default: a temporary one); an existing file is reused")
    ap.add_argument("--keep", action="store_true", help="keep the file")
    args = ap.parse_args(argv)

    from fmscript.interpreter import Interpreter

    tmp = None
    if args.db:
        path = Path(args.db)
    else:
        tmp = Path(tempfile.mkdtemp(prefix="fmscript-bench-"))
        path = tmp / "relations.sqlite"
    try:
        if not path.exists():
            build(path, args.parents, args.children)
        direct = sqlite3.connect(path)
        direct.execute("PRAGMA cache_size=-200000")
        fm = Interpreter(file=path, on_dialog=lambda t, m: None)
        db = fm.session.data
        db.conn.execute("PRAGMA cache_size=-200000")
        rows = []

        def report(name, t_fm, t_sql, note=""):
            rows.append((name, t_fm, t_sql, t_fm / t_sql if t_sql else float("inf"), note))
            print(f"{name:<22} fmscript {t_fm * 1000:9.1f} ms   SQLite {t_sql * 1000:9.1f} ms   "
                  f"ratio {t_fm / t_sql:5.2f}×  {note}", flush=True)

        # 1. find
        fm.load_text('Go to Layout [ "Customers" ]\nPerform Find [ Restore ; "Customers::Score: 100...199" ]\n',
                     default_name="find")
        t_fm, t_sql, _, ids = pair(lambda: fm.run_script("find"), lambda: [r for (r,) in direct.execute(
            "SELECT rowid FROM Customers WHERE Score BETWEEN 100 AND 199 ORDER BY rowid")], args.repeat)
        found = list(db.context("Customers").found)
        assert ids == found, "the find differs from the direct query"
        report("find", t_fm, t_sql, f"{len(found):,} of {db.total_count('Customers'):,} records")

        # 2. sort the found set
        fm.load_text('Sort Records [ Restore ; With dialog: Off ; "Customers::Score descending" ]\n',
                     default_name="sort")

        def fm_sort():
            db.context("Customers").found, db.context("Customers").sort = list(found), None
            fm.run_script("sort")
            return db.context("Customers").found
        t_fm, t_sql, sorted_fm, sorted_sql = pair(fm_sort, lambda: [r for (r,) in direct.execute(
            "SELECT rowid FROM Customers WHERE Score BETWEEN 100 AND 199 ORDER BY Score DESC, rowid")], args.repeat)
        if sorted_fm != sorted_sql:
            i = next((i for i, (x, y) in enumerate(zip(sorted_fm, sorted_sql)) if x != y), None)
            raise AssertionError(f"the sort differs from the direct query ({len(sorted_fm)} vs {len(sorted_sql)} "
                                 f"records, first difference at {i})")
        report("sort", t_fm, t_sql, f"{len(found):,} records")

        # 3. follow the relationship from every record of a found set
        n = args.found
        fm.load_text(f'Go to Layout [ "Customers" ]\nPerform Find [ Restore ; "Customers::ID: 1...{n}" ]\n',
                     default_name="found10k")
        fm.load_text('Go to Related Record [ Show only related records ; Match all records in current found set ; '
                     'From table: "Invoices" ; Using layout: "Invoices" ]\n', default_name="gtrr")

        def fm_gtrr():
            fm.run_script("found10k")
            t = time.perf_counter()
            fm.run_script("gtrr")
            return time.perf_counter() - t, list(db.context("Invoices").found)
        times = [fm_gtrr() for _ in range(args.repeat)]
        t_fm, related_fm = min(t for t, _ in times), times[-1][1]
        fm.run_script("found10k")
        base = list(db.context("Customers").found)
        t_sql, related_sql = best(lambda: [r for (r,) in direct.execute(
            "SELECT rowid FROM Invoices WHERE CustomerID IN (SELECT ID FROM Customers WHERE rowid IN "
            "(SELECT value FROM json_each(?))) ORDER BY rowid", (str(base),))], args.repeat)
        assert related_fm == related_sql, "Go to Related Record differs from the direct query"
        report("follow (found set)", t_fm, t_sql, f"{len(base):,} → {len(related_fm):,} records")

        # 4. follow per record: the first related invoice's amount in each record
        ctx = db.context("Customers")

        def fm_each():
            out = []
            for i in range(len(ctx.found)):
                ctx.index = i
                out.append(db.read_field(None, "Invoices", "Amount"))
            return out

        def sql_each():
            out = []
            for rid in base:
                r = direct.execute("SELECT i.Amount FROM Customers c JOIN Invoices i ON i.CustomerID = c.ID "
                                   "WHERE c.rowid = ? ORDER BY i.rowid LIMIT 1", (rid,)).fetchone()
                out.append(Decimal(r[0]) if r else "")
            return out
        t_fm, t_sql, a, b = pair(fm_each, sql_each, args.repeat)
        assert a == b, "the related field differs from the direct query"
        report("follow (per record)", t_fm, t_sql, f"{len(base):,} reads of Invoices::Amount")

        # 5. aggregate over the related records of each record
        from fmscript.calc.compile import compile_calc
        calc = compile_calc("Sum ( Invoices::Amount )", functions=fm.session.functions)
        frame = fm.new_frame()

        def fm_sum():
            out = []
            for i in range(len(ctx.found)):
                ctx.index = i
                out.append(calc.evaluate(frame))
            return out

        def sql_sum():
            out = []
            for rid in base:
                (s,) = direct.execute("SELECT total(i.Amount) FROM Customers c JOIN Invoices i ON "
                                      "i.CustomerID = c.ID WHERE c.rowid = ?", (rid,)).fetchone()
                out.append(Decimal(int(s)))
            return out
        t_fm, t_sql, a, b = pair(fm_sum, sql_sum, args.repeat)
        assert a == b, "the aggregate differs from the direct query"
        report("aggregate (Sum)", t_fm, t_sql, f"Sum ( Invoices::Amount ) in {len(base):,} records")

        print("\n| operation | fmscript ms | SQLite ms | ratio | |\n|---|---:|---:|---:|---|")
        for name, a, b, r, note in rows:
            print(f"| {name} | {a * 1000:,.1f} | {b * 1000:,.1f} | {r:.2f}× | {note} |")
        direct.close()
        db.close()
    finally:
        if tmp is not None and not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        elif args.keep or args.db:
            print(f"kept {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
