"""Embedding vectors: storage forms, the tiny local models (decoder and BERT), the steps and functions, bad input."""
from __future__ import annotations

import json

import numpy as np
import pytest

from fmscript import Interpreter
from fmscript.ai import embeddings as E
from fmscript.ai.local import LocalEngine
from fmscript.calc.values import Container
from fmscript.data import open_database
from fmscript.errors import (E_AI_INVALID_REQUEST, E_CONNECTION_FAILED, E_INVALID_PARAMETER, E_REQUEST_NOT_SUPPORTED,
                             FMScriptError)

DECODER, BERT = "fmscript/tiny-embed", "fmscript/tiny-bert"
try:
    import mlx_embeddings  # noqa: F401
    HAVE_BERT = True
except ImportError:  # the `bert` extra (also in `test`): without it only the decoder family runs
    HAVE_BERT = False
NEEDS_BERT = pytest.mark.skipif(not HAVE_BERT, reason="mlx-embeddings is not installed")
ACCOUNT = 'Configure AI Account [ Account Name: "L" ; Model Provider: Local ]\n'


def test_text_and_container_forms_round_trip():
    v = np.array([-0.06650865, 0.0034368848, 0.051363964, 1e-07, 0.0, -3.5], dtype=np.float32)
    text = E.vector_to_text(v)
    assert text.startswith("[-0.06650865,0.0034368848,0.051363964,")  # Claris's example digits
    assert json.loads(text) == pytest.approx(v.tolist(), rel=1e-7)
    assert np.array_equal(E.vector_from_text(text), v)
    data = E.vector_to_bytes(v)
    assert len(data) == 4 * v.size and data[:4] == np.float32(-0.06650865).tobytes()  # little-endian float32
    assert np.array_equal(E.vector_from_bytes(data), v)


@pytest.mark.parametrize("bad", ["", "hello", "[1, \"a\"]", "{}", "[]", "[true]"])
def test_text_that_is_no_vector_is_error_882(bad):
    with pytest.raises(FMScriptError) as e:
        E.vector_from_text(bad, "the field")
    assert e.value.code == E_AI_INVALID_REQUEST and "the field" in e.value.message


def test_container_bytes_not_a_multiple_of_four_are_refused():
    with pytest.raises(FMScriptError, match="4 bytes a dimension"):
        E.vector_from_bytes(b"\x00" * 7)


def test_cosine_similarity_against_numpy_and_dimension_mismatch():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal(384), rng.standard_normal(384)
    assert E.cosine_similarity(a, b) == pytest.approx(float(a @ b / np.linalg.norm(a) / np.linalg.norm(b)), abs=1e-6)
    assert E.cosine_similarity(a, a) == pytest.approx(1.0, abs=1e-6)
    with pytest.raises(FMScriptError, match="different dimensions .384 and 383.") as e:
        E.cosine_similarity(a, b[:383])
    assert e.value.code == E_AI_INVALID_REQUEST


@pytest.mark.parametrize("model", [DECODER, pytest.param(BERT, marks=NEEDS_BERT)])
def test_tiny_embedding_models_are_deterministic_normalised_and_tell_texts_apart(home, model):
    a, b, a2 = LocalEngine().embed(model, ["the cat sat on the mat", "dogs bark", "the cat sat on the mat"])
    assert a.shape == (64,) and a.dtype == np.float32
    assert np.linalg.norm(a) == pytest.approx(1.0, abs=1e-5)
    assert np.array_equal(a, a2)
    assert E.cosine_similarity(a, b) < 0.999
    kind = json.loads((home / "models" / model / "config.json").read_text())
    assert kind["fmscript"]["kind"] == "embedding"
    assert kind["model_type"] == ("bert" if model == BERT else "llama")


def test_decoder_embedding_is_the_last_tokens_hidden_state(home):
    """Last-token pooling, checked against mlx-lm's own forward pass of the same model."""
    import mlx.core as mx
    from mlx_lm.utils import load

    vec = LocalEngine().embed(DECODER, ["hello world"])[0]
    model, tok = load(str(home / "models" / DECODER))
    ids = tok.encode("hello world") + [tok.eos_token_id]
    h = np.array(model.model(mx.array([ids]))[0, -1])
    assert np.allclose(vec, h / np.linalg.norm(h), atol=1e-5)


def test_create_tiny_kind_embedding_builds_one_of_each(home):
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "fmscript", "models", "create-tiny", "my-embed", "--kind",
                        "embedding"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert E.model_kind(home / "models" / "my-embed") == "embedding"
    assert E.encoder_family(home / "models" / "my-embed") == "decoder"
    if HAVE_BERT:
        assert E.encoder_family(home / "models" / "my-embed-bert") == "bert"
        assert "my-embed-bert" in r.stdout
    else:
        assert "mlx-embeddings" in r.stderr


def test_an_embedding_model_asked_to_chat_and_the_reverse(home):
    fm = Interpreter(on_dialog=lambda t, m: None)
    with pytest.raises(FMScriptError, match="is an embedding model") as e:
        fm.run_text(ACCOUNT + f'Generate Response from Model [ Account Name: "L" ; Model: "{DECODER}" ; '
                              'User Prompt: "hi" ; Response: $r ]')
    assert e.value.code == E_AI_INVALID_REQUEST
    with pytest.raises(FMScriptError, match="not an embedding model") as e:
        fm.run_text(ACCOUNT + 'Insert Embedding [ Account Name: "L" ; Embedding Model: "fmscript/tiny-chat" ; '
                              'Input: "hi" ; Target: $v ]')
    assert e.value.code == E_AI_INVALID_REQUEST


def _notes(path, bodies=("the cat sat on the mat", "dogs bark loudly", "", "a cat on a mat")):
    db = open_database(path)
    db.create_table("Notes", [("Body", "text", False), ("Vec", "text", False), ("Bin", "container", False),
                              ("N", "number", False)])
    db.conn.executemany('INSERT INTO "Notes" (Body) VALUES (?)', [(b,) for b in bodies])
    db.conn.commit()
    db.close()
    return path


def _column(path, col):
    db = open_database(path)
    try:
        return [r[0] for r in db.conn.execute(f'SELECT "{col}" FROM "Notes" ORDER BY rowid')]
    finally:
        db.close()


def test_insert_embedding_to_variable_text_field_and_container_field(home, tmp_path):
    p = _notes(tmp_path / "n.sqlite")
    fm = Interpreter(file=p, on_dialog=lambda t, m: None)
    out = fm.run_text(ACCOUNT + f'''Go to Layout [ "Notes" ]
Insert Embedding [ Account Name: "L" ; Embedding Model: "{DECODER}" ; Input: Notes::Body ; Target: $v ]
Insert Embedding [ Account Name: "L" ; Embedding Model: "{DECODER}" ; Input: Notes::Body ; Target: Notes::Vec ]
Insert Embedding [ Account Name: "L" ; Embedding Model: "{DECODER}" ; Input: Notes::Body ; Target: Notes::Bin ]
Exit Script [ $v = Notes::Vec and GetEmbeddingAsText ( Notes::Bin ) = $v and CosineSimilarity ( $v ; Notes::Bin ) > .9999 ]''')
    assert out == "1"
    expected = LocalEngine().embed(DECODER, ["the cat sat on the mat"])[0]
    vec, blob = _column(p, "Vec")[0], _column(p, "Bin")[0]
    assert np.array_equal(E.vector_from_text(vec), expected)
    assert isinstance(blob, bytes) and np.array_equal(np.frombuffer(blob, "<f4"), expected)


def test_get_embedding_functions(home):
    fm = Interpreter(on_dialog=lambda t, m: None)
    fm.run_text(ACCOUNT + f'Set Variable [ $$g ; GetEmbedding ( "L" ; "{DECODER}" ; "hello" ) ]')
    g = fm.get_global("g")
    assert isinstance(g, Container) and len(g.data) == 64 * 4
    assert np.array_equal(np.frombuffer(g.data, "<f4"), LocalEngine().embed(DECODER, ["hello"])[0])
    assert fm.evaluate("GetAsText ( GetEmbeddingAsFile ( GetEmbeddingAsText ( $$g ) ) )") == E.CONTAINER_NAME
    assert fm.evaluate("GetEmbeddingAsFile ( GetEmbeddingAsText ( $$g ) ; \"v.bin\" )").data == g.data
    assert fm.evaluate('CosineSimilarity ( "[1,0]" ; "[0,1]" )') == 0
    assert fm.evaluate('CosineSimilarity ( "[1,2]" ; "[2,4]" )') == 1
    assert fm.evaluate('CosineSimilarity ( "[1,2]" ; "[1,2,3]" )') == "?"
    assert fm.evaluate("EvaluationError ( CosineSimilarity ( \"[1,2]\" ; \"[1,2,3]\" ) )") == E_AI_INVALID_REQUEST


def test_get_embedding_without_an_account_is_a_question_mark(home):
    fm = Interpreter(on_dialog=lambda t, m: None)
    assert fm.evaluate(f'GetEmbedding ( "nobody" ; "{DECODER}" ; "x" )') == "?"


def test_insert_embedding_in_found_set_fills_skips_and_summarises(home, tmp_path):
    p = _notes(tmp_path / "n.sqlite")
    shown = []
    fm = Interpreter(file=p, on_dialog=lambda t, m: shown.append((t, m)))
    fm.run_text(ACCOUNT + f'''Go to Layout [ "Notes" ]
Show All Records
Go to Record/Request/Page [ Last ]
Set Field [ Notes::Vec ; "[9,9]" ]
Commit Records/Requests [ With dialog: Off ]
Insert Embedding in Found Set [ Account Name: "L" ; Embedding Model: "{DECODER}" ; Source Field: Notes::Body ; Target Field: Notes::Vec ; Show summary ; Parameters: "{{\\"MaxRecPerCall\\": 2}}" ]
Insert Embedding in Found Set [ Account Name: "L" ; Embedding Model: "{DECODER}" ; Source Field: Notes::Body ; Target Field: Notes::Bin ; Replace target contents ]''')
    vec, binary = _column(p, "Vec"), _column(p, "Bin")
    want = LocalEngine().embed(DECODER, ["the cat sat on the mat", "dogs bark loudly", "a cat on a mat"])
    assert vec[3] == "[9,9]"  # not empty and Replace target contents off: left as it was
    assert vec[2] is None and binary[2] is None  # an empty source sends nothing
    assert np.array_equal(E.vector_from_text(vec[0]), want[0]) and np.array_equal(E.vector_from_text(vec[1]), want[1])
    assert np.array_equal(np.frombuffer(binary[3], "<f4"), want[2])
    assert shown == [("Insert Embedding in Found Set", "Updated: 2\nSkipped: 2\nErrors: 0")]


class FailingSecondCall(LocalEngine):
    """The Local engine, but its second embedding call fails (a provider an embedder registers)."""

    provider_name = "Flaky"

    def __init__(self, acct=None):
        super().__init__()
        self.calls = 0

    def embed(self, model, inputs, params=None):
        self.calls += 1
        if self.calls == 2:
            raise FMScriptError("the model server went away", code=E_CONNECTION_FAILED)
        return super().embed(model, inputs, params)


def test_insert_embedding_in_found_set_writes_nothing_when_a_call_fails(home, tmp_path):
    p = _notes(tmp_path / "n.sqlite")
    fm = Interpreter(file=p, on_dialog=lambda t, m: None)
    fm.register_provider("Flaky", FailingSecondCall)
    script = f'''Configure AI Account [ Account Name: "F" ; Model Provider: Flaky ]
Go to Layout [ "Notes" ]
Show All Records
Insert Embedding in Found Set [ Account Name: "F" ; Embedding Model: "{DECODER}" ; Source Field: Notes::Body ; Target Field: Notes::Vec ; Parameters: "{{\\"MaxRecPerCall\\": 1}}" ]'''
    with pytest.raises(FMScriptError, match="went away"):
        fm.run_text(script)
    assert _column(p, "Vec") == [None, None, None, None]  # the first record's vector was not written either
    # With Continue on error the records of the failed call stay empty and the others are filled.
    fm2 = Interpreter(file=p, on_dialog=lambda t, m: None)
    fm2.register_provider("Flaky", FailingSecondCall)
    fm2.run_text(script.replace("Target Field: Notes::Vec ;", "Target Field: Notes::Vec ; Continue on error ;"))
    vec = _column(p, "Vec")
    assert vec[0] is not None and vec[1] is None and vec[2] is None and vec[3] is not None


@pytest.mark.parametrize("params, fragment", [
    ('{\\"MaxRecPerCall\\": 0}', "MaxRecPerCall must be a number from 1 to 500"),
    ('{\\"MaxRecPerCall\\": 501}', "MaxRecPerCall must be a number from 1 to 500"),
    ('{\\"Bogus\\": 1}', "unknown parameter Bogus"),
])
def test_insert_embedding_in_found_set_checks_parameters_first(home, tmp_path, params, fragment):
    p = _notes(tmp_path / "n.sqlite")
    fm = Interpreter(file=p, on_dialog=lambda t, m: None)
    with pytest.raises(FMScriptError, match=fragment) as e:
        fm.run_text(ACCOUNT + f'''Go to Layout [ "Notes" ]
Insert Embedding in Found Set [ Account Name: "L" ; Embedding Model: "{DECODER}" ; Source Field: Notes::Body ; Target Field: Notes::Vec ; Parameters: "{params}" ]''')
    assert e.value.code == E_INVALID_PARAMETER
    assert _column(p, "Vec") == [None] * 4


def test_zh_hans_step_names(home, tmp_path):
    p = _notes(tmp_path / "n.sqlite")
    fm = Interpreter(file=p, on_dialog=lambda t, m: None)
    fm.run_text(f'''配置 AI 账户 [ 账户名称: "L" ; 模型提供商: 本地 ]
转到布局 [ "Notes" ]
在搜索结果中插入嵌入 [ 账户名称: "L" ; 嵌入模型: "{DECODER}" ; 来源字段: Notes::Body ; 目标字段: Notes::Bin ]
插入嵌入 [ 账户名称: "L" ; 嵌入模型: "{DECODER}" ; 输入: "cat" ; 目标: $$v ]''')
    assert _column(p, "Bin")[0] is not None
    assert E.vector_from_text(fm.get_global("v")).size == 64


def test_inputs_longer_than_the_context_are_cut_unless_truncation_is_off(home, tmp_path):
    long_text = "word " * 3000  # more tokens than the tiny decoder's 2048 positions
    eng = LocalEngine()
    cut = eng.embed(DECODER, [long_text], {"TruncateTokenLimit": 100})[0]
    assert np.array_equal(cut, eng.embed(DECODER, [long_text], {"TruncateTokenLimit": 100})[0])
    with pytest.raises(FMScriptError, match=r"input 1 has \d+ tokens; the model takes at most 2047") as e:
        eng.embed(DECODER, [long_text], {"TruncateEnabled": 0})
    assert e.value.code == E_AI_INVALID_REQUEST
    p = _notes(tmp_path / "n.sqlite", bodies=("short", long_text))
    fm = Interpreter(file=p, on_dialog=lambda t, m: None)
    with pytest.raises(FMScriptError, match="the model takes at most"):
        fm.run_text(ACCOUNT + f'''Go to Layout [ "Notes" ]
Insert Embedding in Found Set [ Account Name: "L" ; Embedding Model: "{DECODER}" ; Source Field: Notes::Body ; Target Field: Notes::Vec ; Parameters: "{{\\"TruncateEnabled\\": 0}}" ]''')
    assert _column(p, "Vec") == [None, None]


def test_a_provider_without_embeddings_says_so(home):
    fm = Interpreter(on_dialog=lambda t, m: None)
    with pytest.raises(FMScriptError, match="Embeddings is not supported by the Anthropic provider") as e:
        fm.run_text('Configure AI Account [ Account Name: "A" ; Model Provider: Anthropic ; API key: "k" ]\n'
                    f'Insert Embedding [ Account Name: "A" ; Embedding Model: "{DECODER}" ; Input: "x" ; Target: $v ]')
    assert e.value.code == E_REQUEST_NOT_SUPPORTED


def test_a_qwen3_embedding_style_folder_loads_with_mlx_lm(home, tmp_path):
    """The published layout of decoder embedding models: the bare base model's weights (no ``model.`` prefix),
    a sentence-transformers ``modules.json``, a base-model architecture, no fmscript marker."""
    import shutil

    import mlx.core as mx

    want = LocalEngine().embed(DECODER, ["hello world", "dogs"])
    src = home / "models" / DECODER
    dest = tmp_path / "qwen3-style-embedding"
    shutil.copytree(src, dest)
    w = mx.load(str(dest / "model.safetensors"))
    mx.save_safetensors(str(dest / "model.safetensors"), {k.removeprefix("model."): v for k, v in w.items()})
    cfg = json.loads((dest / "config.json").read_text())
    cfg.pop("fmscript")
    cfg["architectures"] = ["LlamaModel"]
    (dest / "config.json").write_text(json.dumps(cfg))
    (dest / "modules.json").write_text(json.dumps([{"idx": 0, "name": "0", "path": "",
                                                    "type": "sentence_transformers.models.Transformer"}]))
    assert E.model_kind(dest) == "embedding"
    got = LocalEngine().embed(str(dest), ["hello world", "dogs"])
    assert all(np.allclose(g, w_, atol=1e-6) for g, w_ in zip(got, want))
