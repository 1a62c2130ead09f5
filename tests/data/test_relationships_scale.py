"""What makes the data layer scale (fmscript/data/fastfind.py, the found-set sort, the planned related
queries): each must give exactly what the general path gives; and the benchmark runs, small."""
from __future__ import annotations

import importlib.util
import random
from pathlib import Path

import pytest

from fmscript.data import finds as F
from fmscript.data import open_database

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def numbers(tmp_path):
    db = open_database(tmp_path / "n.sqlite")
    db.conn.execute("CREATE TABLE N (V INTEGER, R REAL, T NUMBER_TEXT COLLATE fmnum)")
    values = [5, 10, "abc", None, 7.5, 200, -3, 0, "12", 1e3]
    db.conn.executemany("INSERT INTO N VALUES (?, ?, ?)", [(v, v, v) for v in values])
    db.invalidate_schema()
    yield db
    db.close()


@pytest.mark.parametrize("criterion", [">5", "<=10", "≤10", "5...10", "-3..0", "==10", ">=7", "≥7", "<0",
                                       ">7.25", "1e3", "5…200", "", "*", "=", "10"])
@pytest.mark.parametrize("column", ["V", "R", "T"])
def test_fast_criteria_find_what_fm_match_finds(numbers, criterion, column):
    ti = numbers.tables()["n"]
    fi = ti.field(column)
    assert fi.type == "number"
    ctx = numbers.context("N")
    got = numbers.request_ids(ctx, [(fi, criterion)])
    rows = numbers.conn.execute(f"SELECT rowid, {column} FROM N").fetchall()
    expected = {rid for rid, v in rows if not criterion.strip() or F.matches(v, "number", criterion)}
    assert got == expected


def test_sorting_a_small_found_set_sorts_as_the_whole_table_does(tmp_path):
    db = open_database(tmp_path / "s.sqlite")
    db.create_table("S", [("Name", "text", False), ("N", "number", False)])
    rnd = random.Random(7)
    db.conn.executemany('INSERT INTO S VALUES (?, ?)',
                        [(rnd.choice(["b", "B", "a", "c", None]), rnd.choice(["10", "9", "-1", None, "2.5"]))
                         for _ in range(200)])
    ctx = db.context("S")
    spec = db.sort_spec_from_text(ctx, "S::Name; S::N descending")
    ctx.found = list(range(1, 201))
    db.sort(ctx, spec)
    whole = list(ctx.found)
    small = sorted(rnd.sample(range(1, 201), 30))  # under half the table: only these rows are sorted
    ctx.found = list(small)
    db.sort(ctx, spec)
    assert ctx.found == [r for r in whole if r in set(small)]
    db.close()


def test_joined_and_two_step_related_queries_agree(tmp_path):
    """A number key is joined in SQL from the source rowid; a text key takes its value first (multi-keys)."""
    db = open_database(tmp_path / "j.sqlite")
    db.create_table("P", [("K", "number", False), ("T", "text", False)])
    db.create_table("C", [("K", "number", False), ("T", "text", False), ("V", "number", False)])
    db.add_occurrence("C2", "C")
    db.conn.executemany("INSERT INTO P VALUES (?, ?)", [("1", "x"), ("2", "Y"), (None, None)])
    db.conn.executemany("INSERT INTO C VALUES (?, ?, ?)", [("1", "y", "1"), ("2", "x", "2"), ("1", "X", "3")])
    db.relate(["P::K = C::K"])
    db.relate(["P::T = C2::T"])
    by_key = [db.related_ids(db.graph_path("P", "C"), r) for r in (1, 2, 3)]
    by_text = [db.related_ids(db.graph_path("P", "C2"), r) for r in (1, 2, 3)]
    assert by_key == [[1, 3], [2], []]
    assert by_text == [[2, 3], [1], []]
    db.close()


def test_the_benchmark_runs_small(capsys):
    spec = importlib.util.spec_from_file_location("bench_relations", ROOT / "bench" / "bench_relations.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.main(["--parents", "300", "--children", "3000", "--found", "100", "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    for name in ("find", "sort", "follow (found set)", "follow (per record)", "aggregate (Sum)"):
        assert f"| {name} |" in out


def test_related_sum_and_count_by_sqlite_equal_fileMaker_s_arithmetic(tmp_path):
    """Sum and Count of one related field are computed by SQLite only where that is exact."""
    from fmscript.interpreter import Interpreter

    db = open_database(tmp_path / "a.sqlite")
    db.conn.execute("CREATE TABLE P (K INTEGER)")
    db.conn.execute("CREATE TABLE C (K INTEGER, V INTEGER, T NUMBER_TEXT COLLATE fmnum)")
    db.invalidate_schema()
    db.conn.executemany("INSERT INTO P VALUES (?)", [(1,), (2,), (3,)])
    db.conn.executemany("INSERT INTO C VALUES (?, ?, ?)", [
        (1, 5, "0.1"), (1, 7, "0.2"), (1, None, None), (1, "", ""),   # integers: SQLite's exact sum
        (2, 0.1, "1"), (2, 0.2, "2"),                                  # reals: FileMaker's decimal sum, not 0.30000000000000004
        (2, "abc", "x")])
    db.relate(["P::K = C::K"])
    db.close()
    out: list[str] = []
    fm = Interpreter(file=tmp_path / "a.sqlite", on_dialog=lambda t, m: out.append(m), base_dir=tmp_path)
    fm.run_text('Go to Layout [ "P" ]\nLoop\n'
                '  Show Custom Dialog [ Sum ( C::V ) & " " & Count ( C::V ) & " " & Sum ( C::T ) & " " & Count ( C::T ) ]\n'
                '  Go to Record/Request/Page [ Next ; Exit after last ]\nEnd Loop\n')
    assert out == ["12 2 .3 2", ".3 3 3 3", "0 0 0 0"]
