"""Perform Semantic Find against an independent NumPy ranking, on vectors stored as text and as container data."""
from __future__ import annotations

import json

import numpy as np
import pytest

from fmscript import Interpreter
from fmscript.ai import embeddings as E
from fmscript.data import open_database
from fmscript.errors import E_AI_INVALID_REQUEST, E_INVALID_PARAMETER, E_NO_RECORDS_MATCH, FMScriptError

DIM, N = 24, 60


def numpy_ranking(query, vectors, ids):
    """The reference: cosine similarity by plain NumPy in float64, best first, ties by id."""
    m = np.asarray(vectors, dtype=np.float64)
    q = np.asarray(query, dtype=np.float64)
    sims = m @ q / (np.linalg.norm(m, axis=1) * np.linalg.norm(q))
    order = sorted(range(len(ids)), key=lambda i: (-sims[i], ids[i]))
    return [(ids[i], sims[i]) for i in order]


@pytest.fixture
def vectors():
    rng = np.random.default_rng(7)
    return rng.standard_normal((N, DIM)).astype(np.float32)


@pytest.fixture
def db_path(tmp_path, vectors):
    p = tmp_path / "v.sqlite"
    db = open_database(p)
    db.create_table("Docs", [("Label", "text", False), ("VecText", "text", False), ("VecBin", "container", False),
                             ("Group", "number", False)])
    db.conn.executemany('INSERT INTO "Docs" (Label, VecText, VecBin, "Group") VALUES (?, ?, ?, ?)',
                        [(f"d{i}", E.vector_to_text(v), E.vector_to_bytes(v), i % 3) for i, v in enumerate(vectors)])
    db.conn.commit()
    db.close()
    return p


def run(db_path, body: str, fm=None):
    fm = fm or Interpreter(file=db_path, on_dialog=lambda t, m: None)
    out = fm.run_text('Go to Layout [ "Docs" ]\nShow All Records\n' + body +
                      '\nExit Script [ $r & "|" & Get ( FoundCount ) ]')
    saved, count = out.rsplit("|", 1)
    return (json.loads(saved) if saved else []), int(count), fm


@pytest.mark.parametrize("field", ["VecText", "VecBin"])
@pytest.mark.parametrize("count", [1, 5, 17])
def test_vector_query_matches_numpy_top_k(db_path, vectors, field, count):
    query = np.random.default_rng(11).standard_normal(DIM).astype(np.float32)
    saved, found, _ = run(db_path, f'''Set Variable [ $q ; "{E.vector_to_text(query)}" ]
Perform Semantic Find [ Query by: Vector data ; Vector: $q ; Record set: All records ; Target Field: Docs::{field} ; Return count: {count} ; Save result: $r ]''')
    want = numpy_ranking(query, vectors, list(range(1, N + 1)))[:count]
    assert [int(h["recordId"]) for h in saved] == [rid for rid, _ in want]
    assert [h["cosineSimilarity"] for h in saved] == pytest.approx([s for _, s in want], abs=1e-5)
    assert found == count


def test_container_vector_query_and_found_set_order(db_path, vectors):
    fm = Interpreter(file=db_path, on_dialog=lambda t, m: None)
    fm.run_text('''Go to Layout [ "Docs" ]
Go to Record/Request/Page [ 5 ]
Set Variable [ $$q ; Docs::VecBin ]
Perform Semantic Find [ Query by: Vector data ; Vector: $$q ; Record set: All records ; Target Field: Docs::VecText ; Return count: 4 ; Save result: $$r ]
Go to Record/Request/Page [ First ]''')
    want = numpy_ranking(vectors[4], vectors, list(range(1, N + 1)))[:4]
    assert want[0][0] == 5  # the record itself is the closest
    ids = [int(h["recordId"]) for h in json.loads(fm.get_global("r"))]
    assert ids == [rid for rid, _ in want]
    assert fm.evaluate("Docs::Label") == "d4"  # the found set is in descending similarity


@pytest.mark.parametrize("cond, value, keep", [
    ('">="', ".2", lambda s: s >= 0.2), ('"less than"', "-.1", lambda s: s < -0.1),
    ('">"', "0", lambda s: s > 0),
])
def test_threshold_conditions(db_path, vectors, cond, value, keep):
    query = vectors[0] + vectors[1]
    saved, found, _ = run(db_path, f'''Set Variable [ $q ; "{E.vector_to_text(query)}" ]
Perform Semantic Find [ Query by: Vector data ; Vector: $q ; Record set: All records ; Target Field: Docs::VecBin ; Return count: 1000 ; Cosine similarity condition: {cond} ; Cosine similarity value: {value} ; Save result: $r ]''')
    want = [(rid, s) for rid, s in numpy_ranking(query, vectors, list(range(1, N + 1))) if keep(s)]
    assert 0 < len(want) < N
    assert [int(h["recordId"]) for h in saved] == [rid for rid, _ in want]
    assert found == len(want)


def test_current_found_set_only(db_path, vectors):
    query = vectors[10]
    saved, found, _ = run(db_path, f'''Enter Find Mode [ Pause: Off ]
Set Field [ Docs::Group ; 1 ]
Perform Find [ ]
Set Variable [ $q ; "{E.vector_to_text(query)}" ]
Perform Semantic Find [ Query by: Vector data ; Vector: $q ; Record set: Current found set ; Target Field: Docs::VecBin ; Save result: $r ]''')
    ids = [i + 1 for i in range(N) if i % 3 == 1]
    want = numpy_ranking(query, vectors[[i - 1 for i in ids]], ids)[:10]  # Return count defaults to 10
    assert [int(h["recordId"]) for h in saved] == [rid for rid, _ in want]
    assert found == 10


def test_natural_language_query_uses_the_model(home, tmp_path):
    from fmscript.ai.local import LocalEngine

    texts = ["the cat sat on the mat", "stock prices fell sharply", "a kitten on a rug", "rain tomorrow"]
    model = "fmscript/tiny-embed"
    vecs = LocalEngine().embed(model, texts)
    p = tmp_path / "t.sqlite"
    db = open_database(p)
    db.create_table("Docs", [("Body", "text", False), ("Vec", "container", False)])
    db.conn.executemany('INSERT INTO "Docs" (Body, Vec) VALUES (?, ?)',
                        [(t, E.vector_to_bytes(v)) for t, v in zip(texts, vecs)])
    db.conn.commit()
    db.close()
    saved, found, _ = run(p, f'''Configure AI Account [ Account Name: "L" ; Model Provider: Local ]
Perform Semantic Find [ Query by: Natural language ; Account Name: "L" ; Embedding Model: "{model}" ; Text: "cat on a mat" ; Record set: All records ; Target Field: Docs::Vec ; Return count: 2 ; Save result: $r ]''')
    q = LocalEngine().embed(model, ["cat on a mat"])[0]
    want = numpy_ranking(q, vecs, [1, 2, 3, 4])[:2]
    assert [int(h["recordId"]) for h in saved] == [rid for rid, _ in want]


def test_vectors_of_different_dimensions_are_refused_naming_the_record(db_path):
    db = open_database(db_path)
    db.conn.execute('UPDATE "Docs" SET VecText = ? WHERE rowid = 7', (E.vector_to_text(np.ones(DIM - 1)),))
    db.conn.commit()
    db.close()
    fm = Interpreter(file=db_path, on_dialog=lambda t, m: None)
    with pytest.raises(FMScriptError, match=r"record 7 holds a vector of 23 dimensions, others hold 24") as e:
        run(db_path, f'''Set Variable [ $q ; "{E.vector_to_text(np.ones(DIM))}" ]
Perform Semantic Find [ Query by: Vector data ; Vector: $q ; Record set: All records ; Target Field: Docs::VecText ]''', fm)
    assert e.value.code == E_AI_INVALID_REQUEST
    assert fm.evaluate("Get ( FoundCount )") == N  # the found set is untouched


def test_query_of_another_dimension_is_refused(db_path):
    with pytest.raises(FMScriptError, match="query vector has 3 dimensions, the stored vectors 24") as e:
        run(db_path, '''Perform Semantic Find [ Query by: Vector data ; Vector: "[1,2,3]" ; Record set: All records ; Target Field: Docs::VecBin ]''')
    assert e.value.code == E_AI_INVALID_REQUEST


@pytest.mark.parametrize("opts, fragment, code", [
    ('Cosine similarity condition: ">" ; Cosine similarity value: 1.5', "from -1 to 1", E_INVALID_PARAMETER),
    ('Cosine similarity condition: "about" ; Cosine similarity value: .5', "not a cosine similarity condition",
     E_INVALID_PARAMETER),
    ('Cosine similarity condition: ">" ; Cosine similarity value: 1', "no records match", E_NO_RECORDS_MATCH),
])
def test_bad_options_and_no_match(db_path, opts, fragment, code):
    with pytest.raises(FMScriptError, match=fragment) as e:
        run(db_path, f'''Perform Semantic Find [ Query by: Vector data ; Vector: "{E.vector_to_text(np.ones(DIM))}" ; Record set: All records ; Target Field: Docs::VecBin ; {opts} ]''')
    assert e.value.code == code


def test_rank_ties_and_count_zero():
    ids = [3, 1, 2]
    m = np.array([[1, 0], [1, 0], [0, 1]], dtype=np.float32)
    assert E.rank([1, 0], ids, m, None) == [(1, 1.0), (3, 1.0), (2, 0.0)]
    assert E.rank([1, 0], ids, m, 0) == []


def test_zh_hans_options(db_path, vectors):
    fm = Interpreter(file=db_path, on_dialog=lambda t, m: None)
    fm.run_text(f'''转到布局 [ "Docs" ]
执行语义查找 [ 查询依据: 向量数据 ; 向量: "{E.vector_to_text(vectors[2])}" ; 记录集: 所有记录 ; 目标字段: Docs::VecBin ; 返回数: 3 ; 保存结果: $$r ]''')
    want = numpy_ranking(vectors[2], vectors, list(range(1, N + 1)))[:3]
    assert [int(h["recordId"]) for h in json.loads(fm.get_global("r"))] == [rid for rid, _ in want]


def test_a_repeated_find_sees_every_change_to_the_vectors(db_path, vectors):
    """The vectors are cached between finds while the file is unchanged: a change by this script, or by another
    connection, is seen by the next find."""
    import sqlite3

    fm = Interpreter(file=db_path, on_dialog=lambda t, m: None)
    far = -vectors[0]
    find = f'''Perform Semantic Find [ Query by: Vector data ; Vector: "{E.vector_to_text(far)}" ; Record set: All records ; Target Field: Docs::VecBin ; Return count: 1 ; Save result: $$r ]'''
    top = lambda: int(json.loads(fm.get_global("r"))[0]["recordId"])  # noqa: E731
    fm.run_text('Go to Layout [ "Docs" ]\n' + find)
    first = top()
    assert first != 1
    fm.run_text(f'''Go to Layout [ "Docs" ]
Show All Records
Go to Record/Request/Page [ 2 ]
Set Field [ Docs::VecBin ; GetEmbeddingAsFile ( "{E.vector_to_text(far)}" ) ]
Commit Records/Requests [ With dialog: Off ]
''' + find)
    assert top() == 2  # this connection's own change
    other = sqlite3.connect(db_path)
    other.execute('UPDATE "Docs" SET VecBin = ? WHERE rowid = 3', (E.vector_to_bytes(far * 2),))
    other.execute('UPDATE "Docs" SET VecBin = ? WHERE rowid = 2', (E.vector_to_bytes(vectors[1]),))
    other.commit()
    other.close()
    fm.run_text('Go to Layout [ "Docs" ]\n' + find)
    assert top() == 3  # another connection's change


def test_query_by_image_parses_and_says_why_it_cannot_run(db_path):
    from fmscript.errors import E_REQUEST_NOT_SUPPORTED

    with pytest.raises(FMScriptError, match="vision embedding model") as e:
        run(db_path, 'Perform Semantic Find [ Query by: Image ; Record set: All records ; Target Field: Docs::VecBin ]')
    assert e.value.code == E_REQUEST_NOT_SUPPORTED
