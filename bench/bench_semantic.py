"""Perform Semantic Find at scale, against a NumPy brute force measured in the same run.

(a) 100,000 stored 384-dimensional vectors (container fields: float32 BLOBs) in a fmscript file:
    - ``fmscript``: the Perform Semantic Find step end to end (Query by: Vector data, All records, Return count 10:
      the SQLite read, the float32 matrix, the ranking, the found set and Save result), its vector cache cleared
      before each run, as after a change to the file;
    - ``fmscript warm``: the same find repeated on an unchanged file (the vectors come from the step's cache);
    - ``numpy``: the same work written by hand: ``SELECT rowid, vec`` with sqlite3, ``np.frombuffer`` of the
      joined bytes, cosine similarity, ``argpartition`` top 10;
    - ``numpy in memory``: only the similarity and top 10 over a matrix already in memory (what no script can
      have between two steps; shown to say where the time goes).
    Printed as the ratio fmscript ÷ numpy (target ≤ 1.5×), and the top 10 of both are checked to be the same.
(b) with ``--million``: 1,000,000 vectors: sqlite-vec's ``vec0`` table (cosine distance, KNN ``MATCH``), Perform
    Semantic Find (cold and warm) on a fmscript file holding them, and the NumPy brute force over the same vectors
    read from that file's BLOB column and in memory.

    pip install -e '.[bench]'   # sqlite-vec and pysqlite3-binary (Python's own sqlite3 may not load extensions)
    python bench/bench_semantic.py [--records N] [--repeat R] [--million]

The machine is shared: compare only the figures of one run.
"""
from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

DIM = 384


def timed(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def build_file(path: Path, n: int, seed: int = 0) -> np.ndarray:
    from fmscript.data import open_database

    rng = np.random.default_rng(seed)
    vecs = rng.standard_normal((n, DIM), dtype=np.float32)
    db = open_database(path)
    db.create_table("Docs", [("Label", "text", False), ("Vec", "container", False)])
    db.conn.executemany('INSERT INTO "Docs" (Label, Vec) VALUES (?, ?)',
                        ((f"d{i}", vecs[i].astype("<f4").tobytes()) for i in range(n)))
    db.conn.commit()
    db.close()
    return vecs


def numpy_top(q: np.ndarray, mat: np.ndarray, ids, k: int = 10) -> list[int]:
    # einsum for the row norms: np.linalg.norm(axis=1) is several times slower, and the baseline is the fast way
    sims = (mat @ q) / (np.sqrt(np.einsum("ij,ij->i", mat, mat)) * np.linalg.norm(q))
    top = np.argpartition(-sims, k - 1)[:k]
    top = top[np.argsort(-sims[top], kind="stable")]
    return [int(ids[i]) for i in top]


def numpy_from_sqlite(path: Path, q: np.ndarray, k: int = 10) -> list[int]:
    conn = sqlite3.connect(path)
    rows = conn.execute('SELECT rowid, Vec FROM "Docs"').fetchall()
    conn.close()
    ids = [r[0] for r in rows]
    mat = np.frombuffer(b"".join(r[1] for r in rows), dtype="<f4").reshape(len(rows), DIM)
    return numpy_top(q, mat, ids, k)


def fmscript_find(fm, qtext: str, cold: bool = True) -> list[int]:
    from fmscript.script.steps.ai_embeddings import clear_vector_cache

    if cold:
        clear_vector_cache()
    fm.run_text('Go to Layout [ "Docs" ]\n'
                f'Perform Semantic Find [ Query by: Vector data ; Vector: "{qtext}" ; Record set: All records ; '
                'Target Field: Docs::Vec ; Return count: 10 ; Save result: $$r ]')
    return [int(h["recordId"]) for h in json.loads(fm.get_global("r"))]


def bench_100k(n: int, repeat: int) -> dict:
    from fmscript import Interpreter
    from fmscript.ai.embeddings import vector_to_text

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "vectors.sqlite"
        t = time.perf_counter()
        vecs = build_file(path, n)
        built = time.perf_counter() - t
        q = np.random.default_rng(99).standard_normal(DIM).astype(np.float32)
        qtext = vector_to_text(q)
        fm = Interpreter(file=path, on_dialog=lambda *a: None)
        fmscript_find(fm, qtext)  # warm: the file opened, the step compiled, NumPy imported
        t_fm, top_fm = timed(lambda: fmscript_find(fm, qtext), repeat)
        t_np, top_np = timed(lambda: numpy_from_sqlite(path, q), repeat)
        fmscript_find(fm, qtext)
        t_warm, top_warm = timed(lambda: fmscript_find(fm, qtext, cold=False), repeat)
        ids = np.arange(1, n + 1)
        t_mem, top_mem = timed(lambda: numpy_top(q, vecs, ids), repeat)
        assert top_fm == top_np == top_mem == top_warm, (top_fm, top_np, top_mem, top_warm)
        return {"records": n, "dim": DIM, "build_s": round(built, 2), "fmscript_s": round(t_fm, 4),
                "numpy_s": round(t_np, 4), "fmscript_warm_s": round(t_warm, 4), "numpy_in_memory_s": round(t_mem, 4),
                "ratio_fmscript_to_numpy": round(t_fm / t_np, 3),
                "ratio_warm_to_numpy_in_memory": round(t_warm / t_mem, 3), "same_top10": True}


def bench_million(n: int, repeat: int) -> dict:
    import pysqlite3.dbapi2 as vsqlite
    import sqlite_vec

    from fmscript import Interpreter
    from fmscript.ai.embeddings import vector_to_text

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "vectors.sqlite"
        t = time.perf_counter()
        vecs = build_file(path, n, seed=1)
        built_fm = time.perf_counter() - t
        q = np.random.default_rng(2).standard_normal(DIM).astype(np.float32)
        conn = vsqlite.connect(os.path.join(d, "vec.sqlite"))
        conn.enable_load_extension(True)
        sqlite_vec.load(conn)
        conn.enable_load_extension(False)
        conn.execute(f"CREATE VIRTUAL TABLE v USING vec0(embedding float[{DIM}] distance_metric=cosine)")
        t = time.perf_counter()
        step = 50_000
        for s in range(0, n, step):
            conn.executemany("INSERT INTO v(rowid, embedding) VALUES (?, ?)",
                             [(i + 1, vecs[i].tobytes()) for i in range(s, min(n, s + step))])
        conn.commit()
        built_vec = time.perf_counter() - t

        def vec_knn():
            return [r[0] for r in conn.execute("SELECT rowid FROM v WHERE embedding MATCH ? AND k = 10 "
                                               "ORDER BY distance", (q.tobytes(),))]

        fm = Interpreter(file=path, on_dialog=lambda *a: None)
        qtext = vector_to_text(q)
        ids = np.arange(1, n + 1)
        t_vec, top_vec = timed(vec_knn, repeat)
        t_fm, top_fm = timed(lambda: fmscript_find(fm, qtext), repeat)
        t_warm, top_warm = timed(lambda: fmscript_find(fm, qtext, cold=False), repeat)
        t_blob, top_blob = timed(lambda: numpy_from_sqlite(path, q), repeat)
        t_mem, top_mem = timed(lambda: numpy_top(q, vecs, ids), repeat)
        conn.close()
        return {"records": n, "dim": DIM, "build_fmscript_s": round(built_fm, 1), "build_vec0_s": round(built_vec, 1),
                "sqlite_vec_s": round(t_vec, 4), "fmscript_s": round(t_fm, 4), "fmscript_warm_s": round(t_warm, 4),
                "numpy_from_blobs_s": round(t_blob, 4), "numpy_in_memory_s": round(t_mem, 4),
                "same_top10": top_vec == top_fm == top_warm == top_blob == top_mem}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--million", action="store_true", help="also sqlite-vec against NumPy at 1,000,000 vectors")
    ap.add_argument("--million-records", type=int, default=1_000_000)
    args = ap.parse_args(argv)
    os.environ.setdefault("FMSCRIPT_HOME", tempfile.mkdtemp(prefix="fmscript-bench-"))
    r = bench_100k(args.records, args.repeat)
    print(json.dumps(r))
    print(f"Perform Semantic Find over {r['records']:,} vectors: {r['fmscript_s'] * 1000:.1f} ms; NumPy from SQLite "
          f"{r['numpy_s'] * 1000:.1f} ms: {r['ratio_fmscript_to_numpy']:.2f}× (target ≤ 1.5×); repeated on an "
          f"unchanged file {r['fmscript_warm_s'] * 1000:.1f} ms, NumPy in memory {r['numpy_in_memory_s'] * 1000:.1f} ms")
    if args.million:
        m = bench_million(args.million_records, max(1, min(args.repeat, 3)))
        print(json.dumps(m))
        print(f"{m['records']:,} vectors: sqlite-vec {m['sqlite_vec_s'] * 1000:.0f} ms, Perform Semantic Find "
              f"{m['fmscript_s'] * 1000:.0f} ms (repeated {m['fmscript_warm_s'] * 1000:.0f} ms), NumPy from BLOBs "
              f"{m['numpy_from_blobs_s'] * 1000:.0f} ms, NumPy in memory {m['numpy_in_memory_s'] * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
