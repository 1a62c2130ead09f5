"""``/v1/embeddings`` with the official ``openai`` client, and every embedding step and function through the Custom
provider against the real server on loopback."""
from __future__ import annotations

import base64
import json

import numpy as np
import openai
import pytest

from fmscript import Interpreter
from fmscript.ai import embeddings as E
from fmscript.data import open_database

from .harness import BASE, KEY

MODEL = "fmscript/tiny-embed"


@pytest.fixture
def client(server):
    return openai.OpenAI(base_url=server.base_url, api_key=KEY, max_retries=0)


def test_float_and_base64_encodings_agree(client):
    texts = ["the cat sat on the mat", "dogs bark", "如何更改语言？"]
    f = client.embeddings.create(model=MODEL, input=texts, encoding_format="float")
    assert f.object == "list" and f.model == MODEL and [d.index for d in f.data] == [0, 1, 2]
    assert f.usage.prompt_tokens > 0 and f.usage.total_tokens == f.usage.prompt_tokens
    raw = client.embeddings.with_raw_response.create(model=MODEL, input=texts, encoding_format="base64").http_response
    b64 = raw.json()["data"]
    for fd, bd in zip(f.data, b64):
        decoded = np.frombuffer(base64.b64decode(bd["embedding"]), "<f4")
        assert np.array_equal(decoded, np.asarray(fd.embedding, dtype=np.float32))
        assert len(fd.embedding) == 64 and np.linalg.norm(decoded) == pytest.approx(1, abs=1e-5)
    # The SDK's default (base64 on the wire, decoded by the SDK) gives the same numbers.
    sdk = client.embeddings.create(model=MODEL, input=texts)
    assert np.allclose([d.embedding for d in sdk.data], [d.embedding for d in f.data])


def test_single_string_dimensions_and_token_ids(client):
    one = client.embeddings.create(model=MODEL, input="hello", encoding_format="float").data[0].embedding
    cut = client.embeddings.create(model=MODEL, input="hello", dimensions=16, encoding_format="float").data[0].embedding
    v = np.asarray(one[:16])
    assert np.allclose(cut, v / np.linalg.norm(v), atol=1e-6)
    # Token ids are decoded with the model's tokenizer (this process builds the same seeded model).
    import os
    from pathlib import Path

    from tokenizers import Tokenizer

    E.embed_local(MODEL, ["hello"])
    tok = Tokenizer.from_file(str(Path(os.environ["FMSCRIPT_HOME"]) / "models" / MODEL / "tokenizer.json"))
    ids = tok.encode("hello").ids
    by_ids = client.embeddings.create(model=MODEL, input=[ids], encoding_format="float").data[0].embedding
    assert np.allclose(by_ids, one, atol=1e-6)


def test_bad_requests_answer_openai_errors(client):
    with pytest.raises(openai.NotFoundError):
        client.embeddings.create(model="no/such-model", input="x")
    with pytest.raises(openai.BadRequestError, match="not an embedding model"):
        client.embeddings.create(model=BASE, input="x")
    with pytest.raises(openai.BadRequestError, match="encoding_format"):
        client.embeddings.create(model=MODEL, input="x", encoding_format="int8")  # type: ignore[arg-type]
    with pytest.raises(openai.BadRequestError, match="non-empty"):
        client.embeddings.create(model=MODEL, input=["a", ""])
    with pytest.raises(openai.BadRequestError, match="is an embedding model"):
        client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])


def test_every_embedding_step_and_function_through_the_custom_provider(server, tmp_path, remote_env):
    p = tmp_path / "n.sqlite"
    db = open_database(p)
    db.create_table("Notes", [("Body", "text", False), ("Vec", "text", False), ("Bin", "container", False)])
    db.conn.executemany('INSERT INTO "Notes" (Body) VALUES (?)', [("the cat sat on the mat",), ("dogs bark",),
                                                                   ("a cat on a mat",)])
    db.conn.commit()
    db.close()
    fm = Interpreter(file=p, on_dialog=lambda t, m: None)
    out = fm.run_text(f'''Configure AI Account [ Account Name: "C" ; Model Provider: Custom ; Endpoint: "{server.base_url}/" ; API key: "{KEY}" ]
Go to Layout [ "Notes" ]
Show All Records
Insert Embedding in Found Set [ Account Name: "C" ; Embedding Model: "{MODEL}" ; Source Field: Notes::Body ; Target Field: Notes::Vec ]
Insert Embedding in Found Set [ Account Name: "C" ; Embedding Model: "{MODEL}" ; Source Field: Notes::Body ; Target Field: Notes::Bin ]
Insert Embedding [ Account Name: "C" ; Embedding Model: "{MODEL}" ; Input: "cat on a mat" ; Target: $q ]
Set Variable [ $g ; GetEmbedding ( "C" ; "{MODEL}" ; "cat on a mat" ) ]
Set Variable [ $same ; CosineSimilarity ( $q ; $g ) > .99999 and GetEmbeddingAsText ( GetEmbeddingAsFile ( $q ) ) = $q ]
Perform Semantic Find [ Query by: Natural language ; Account Name: "C" ; Embedding Model: "{MODEL}" ; Text: "cat on a mat" ; Record set: All records ; Target Field: Notes::Bin ; Return count: 2 ; Save result: $r ]
Configure RAG Account [ RAG Account Name: "R" ]
Perform RAG Action [ RAG Account Name: "R" ; Space ID: "pets" ; Action: Add Data ; RAG Data: From Text ; Text: "Cats sleep sixteen hours a day. Dogs need walks." ; AI Account Name: "C" ; Embedding Model: "{MODEL}" ; Response Target: $added ]
Perform RAG Action [ RAG Account Name: "R" ; Space ID: "pets" ; Action: Send Prompt ; Send: "How long do cats sleep?" ; AI Account Name: "C" ; Model: "{BASE}" ; Embedding Model: "{MODEL}" ; Parameters: "{{\\"max_tokens\\": 8}}" ; Response Target: $answer ]
Exit Script [ JSONSetElement ( "{{}}" ; ["same" ; $same ; JSONNumber] ; ["r" ; $r ; JSONArray] ; ["added" ; $added ; JSONObject] ; ["answer" ; $answer ; JSONString] ) ]''')
    res = json.loads(out)
    assert res["same"] == 1
    local = E.embed_local  # the same model in this process gives the same vectors as the server's
    texts = ["the cat sat on the mat", "dogs bark", "a cat on a mat"]
    vecs = np.asarray(local(MODEL, texts))
    q = local(MODEL, ["cat on a mat"])[0]
    sims = vecs @ q
    assert [int(h["recordId"]) for h in res["r"]] == [int(i) + 1 for i in np.argsort(-sims)[:2]]
    assert res["added"]["chunks"] == 1 and isinstance(res["answer"], str)
    db = open_database(p)
    rows = db.conn.execute('SELECT Vec, Bin FROM "Notes" ORDER BY rowid').fetchall()
    db.close()
    for (text, blob), v in zip(rows, vecs):
        assert np.allclose(E.vector_from_text(text), v, atol=1e-6)
        assert np.allclose(np.frombuffer(blob, "<f4"), v, atol=1e-6)


def test_openai_provider_embeds_through_the_sdk(server, remote_env):
    """The OpenAI provider is the same SDK call; pointed at a loopback server speaking OpenAI's shapes."""
    fm = Interpreter(on_dialog=lambda t, m: None)
    out = fm.run_text(f'''Configure AI Account [ Account Name: "O" ; Model Provider: OpenAI ; Endpoint: "{server.base_url}/" ; API key: "{KEY}" ]
Insert Embedding [ Account Name: "O" ; Embedding Model: "{MODEL}" ; Input: "hello" ; Parameters: "{{\\"dimensions\\": 8}}" ; Target: $v ]
Exit Script [ $v ]''')
    v = E.vector_from_text(out)
    full = E.embed_local(MODEL, ["hello"])[0][:8]
    assert np.allclose(v, full / np.linalg.norm(full), atol=1e-6)


def test_the_endpoint_needs_the_key_and_is_documented(server):
    from .harness import http

    r = http("POST", f"http://127.0.0.1:{server.port}/v1/embeddings", json_body={"model": MODEL, "input": "x"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"
    doc = http("GET", f"http://127.0.0.1:{server.port}/openapi.json", headers=server.headers).json()
    assert "post" in doc["paths"]["/v1/embeddings"]
