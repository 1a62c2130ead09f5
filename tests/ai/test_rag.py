"""RAG spaces: chunking, adding and removing documents, retrieval by similarity, Send Prompt with the tiny chat model."""
from __future__ import annotations

import json
import os
import stat

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fmscript import Interpreter
from fmscript.ai import rag
from fmscript.ai.local import LocalEngine
from fmscript.errors import E_AI_ACCOUNT_MISSING, E_RECORD_MISSING, E_REQUEST_NOT_SUPPORTED, FMScriptError

MODEL = "fmscript/tiny-embed"
SETUP = ('Configure AI Account [ Account Name: "L" ; Model Provider: Local ]\n'
         'Configure RAG Account [ RAG Account Name: "R" ; Endpoint: "" ]\n')


def words(text):
    return text.split()


@given(st.lists(st.text(alphabet="abcdefghij .\n", min_size=1, max_size=300), min_size=1, max_size=8),
       st.integers(60, 400), st.integers(0, 29))
def test_chunks_are_bounded_and_keep_every_word_in_order(paras, size, overlap):
    text = "\n\n".join(paras)
    chunks = rag.chunk_text(text, size, overlap)
    assert all(0 < len(c) <= size for c in chunks)
    # Every word of the text appears, in order, once the overlaps are taken out.
    seen = " ".join(chunks).split()
    it = iter(seen)
    assert all(any(w == s for s in it) for w in words(text))


def test_chunking_splits_paragraphs_then_sentences():
    text = "First paragraph here.\n\nSecond one. " + "Long sentence goes on. " * 30
    chunks = rag.chunk_text(text, 120, 20)
    assert chunks[0].startswith("First paragraph here.")
    assert all(len(c) <= 120 for c in chunks) and len(chunks) > 4
    assert rag.chunk_text("short", 800, 100) == ["short"]


def _engine_embed(texts):
    return LocalEngine().embed(MODEL, texts)


def test_add_search_remove_and_the_file_is_private(home):
    home.mkdir(parents=True, exist_ok=True)
    store = rag.RagStore(home / "rag.sqlite")
    a = store.add("s", "Cats sleep sixteen hours a day.", "cats.txt", _engine_embed, MODEL)
    b = store.add("s", "The stock market fell on Monday.", "stocks.txt", _engine_embed, MODEL)
    hits = store.search("s", "Cats sleep sixteen hours a day.", _engine_embed, 2)
    assert hits[0]["text"] == "Cats sleep sixteen hours a day." and hits[0]["similarity"] == pytest.approx(1, abs=1e-5)
    q = _engine_embed(["The stock market fell on Monday."])[0]
    mats = _engine_embed(["Cats sleep sixteen hours a day.", "The stock market fell on Monday."])
    assert [h["text"] for h in store.search("s", "The stock market fell on Monday.", _engine_embed, 2)] == [
        ["Cats sleep sixteen hours a day.", "The stock market fell on Monday."][i] for i in np.argsort(-(np.asarray(mats) @ q))]
    assert [d["id"] for d in store.info("s")["documents"]] == [a["id"], b["id"]]
    store.remove("s", [a["id"]])
    assert [d["id"] for d in store.info("s")["documents"]] == [b["id"]]
    with pytest.raises(FMScriptError, match="has no document") as e:
        store.remove("s", [a["id"]])
    assert e.value.code == E_RECORD_MISSING
    assert stat.S_IMODE(os.stat(home / "rag.sqlite").st_mode) & 0o077 == 0


def test_a_space_keeps_its_embedding_model(home):
    home.mkdir(parents=True, exist_ok=True)
    store = rag.RagStore(home / "rag.sqlite")
    store.add("s", "one", "a", _engine_embed, MODEL)
    with pytest.raises(FMScriptError, match="was built with the embedding model"):
        store.add("s", "two", "b", _engine_embed, "another/model")
    assert len(store.info("s")["documents"]) == 1  # nothing half-written


def test_perform_rag_action_add_send_remove(home, tmp_path):
    doc = tmp_path / "notes.txt"
    doc.write_text("Cats sleep sixteen hours a day.\n\nDogs need a walk twice a day.", encoding="utf-8")
    fm = Interpreter(on_dialog=lambda t, m: None, base_dir=tmp_path)
    out = fm.run_text(SETUP + f'''Perform RAG Action [ RAG Account Name: "R" ; Space ID: "pets" ; Action: Add Data ; RAG Data: From Text ; Text: "Parrots can talk." ; Embedding Model: "{MODEL}" ; Response Target: $a ]
Perform RAG Action [ RAG Account Name: "R" ; Space ID: "pets" ; Action: Add Data ; RAG Data: From File ; Input File: "file:notes.txt" ; Embedding Model: "{MODEL}" ; Response Target: $b ]
Perform RAG Action [ RAG Account Name: "R" ; Space ID: "pets" ; Action: Send Prompt ; Send: "How long do cats sleep?" ; AI Account Name: "L" ; Model: "fmscript/tiny-chat" ; Embedding Model: "{MODEL}" ; Parameters: "{{\\"max_tokens\\": 5}}" ; Response Target: $answer ]
Perform RAG Action [ RAG Account Name: "R" ; Space ID: "pets" ; Action: Remove Data ; Parameters: "{{\\"id\\": [" & JSONGetElement ( $a ; "id" ) & "]}}" ; Response Target: $c ]
Exit Script [ $a & ¶ & $b & ¶ & $c & ¶ & Length ( $answer ) ]''')
    a, b, c, n = out.split("\r")
    a, b, c = json.loads(a), json.loads(b), json.loads(c)
    assert a["chunks"] == 1 and b["name"] == "notes.txt" and b["chunks"] == 1
    assert c["removed"] == [a["id"]]
    assert int(n) > 0
    info = rag.RagStore(home / "rag.sqlite").info("pets")
    assert [d["name"] for d in info["documents"]] == ["notes.txt"]
    assert json.loads(fm.evaluate('GetRAGSpaceInfo ( "R" ; "pets" )')) == info
    assert fm.evaluate('GetRAGSpaceInfo ( "nobody" ; "pets" )') == "?"


def test_send_prompt_gives_the_model_the_closest_chunks(home):
    home.mkdir(parents=True, exist_ok=True)
    store = rag.RagStore(home / "rag.sqlite")
    store.add("s", "Alpha beta gamma.\n\n" + "Unrelated words here. " * 60, "d", _engine_embed, MODEL, chunk_size=100,
              overlap=0)
    hits = store.search("s", "Alpha beta gamma.", _engine_embed, 1)
    msgs = rag.prompt_messages("q?", hits, "Today is Monday.")
    assert msgs[0]["content"].startswith("Today is Monday.") and "[1] Alpha beta gamma." in msgs[0]["content"]
    assert msgs[1] == {"role": "user", "content": "q?"}


def test_rag_errors(home):
    fm = Interpreter(on_dialog=lambda t, m: None)
    with pytest.raises(FMScriptError, match="no RAG account named") as e:
        fm.run_text('Perform RAG Action [ RAG Account Name: "X" ; Space ID: "s" ; Action: Send Prompt ; Send: "q" ]')
    assert e.value.code == E_AI_ACCOUNT_MISSING
    with pytest.raises(FMScriptError, match="remote AI Model Server") as e:
        fm.run_text('Configure RAG Account [ RAG Account Name: "R" ; Endpoint: "https://example.com/" ; '
                    'API key: "sekrit-123456" ]\nPerform RAG Action [ RAG Account Name: "R" ; Space ID: "s" ; '
                    'Action: Add Data ; RAG Data: From Text ; Text: "x" ]')
    assert e.value.code == E_REQUEST_NOT_SUPPORTED and "sekrit" not in str(e.value)
    with pytest.raises(FMScriptError, match="no RAG space") as e:
        fm.run_text(SETUP + 'Perform RAG Action [ RAG Account Name: "R" ; Space ID: "none" ; Action: Send Prompt ; '
                            'Send: "q" ; AI Account Name: "L" ; Model: "fmscript/tiny-chat" ]')
    assert e.value.code == E_RECORD_MISSING
