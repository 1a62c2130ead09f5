"""RAG spaces (Configure RAG Account, Perform RAG Action) kept locally in the home's ``rag.sqlite``.

A space holds documents; a document is cut into chunks, each stored with its embedding vector (float32 bytes, as
a container field holds them). Send Prompt embeds the prompt, takes the :data:`TOP_K` closest chunks by cosine
similarity and asks the AI account's model with them as context.

Chunking (documented in docs/embeddings.md): the text is split into paragraphs (blank lines), paragraphs longer
than ``chunk_size`` characters into sentences, and sentences longer still at ``chunk_size``; pieces are then
packed greedily into chunks of at most ``chunk_size`` characters (default :data:`CHUNK_SIZE`), each chunk
starting with the last ``overlap`` characters (default :data:`CHUNK_OVERLAP`) of the one before, cut at a word
boundary, so that a sentence split between two chunks is found from either.
"""
from __future__ import annotations

import re
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

from fmscript import home as fmhome
from fmscript.errors import (E_AI_INVALID_REQUEST, E_FILE_MISSING, E_INVALID_PARAMETER, E_RECORD_MISSING,
                             E_REQUEST_NOT_SUPPORTED, FMScriptError)

CHUNK_SIZE = 800
CHUNK_OVERLAP = 100
TOP_K = 4
DEFAULT_EMBEDDING_MODEL = "fmscript/tiny-embed"

SCHEMA = """
CREATE TABLE IF NOT EXISTS spaces (id TEXT PRIMARY KEY, embedding_model TEXT NOT NULL, dimensions INTEGER,
    created_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS documents (id INTEGER PRIMARY KEY AUTOINCREMENT, space TEXT NOT NULL, name TEXT,
    characters INTEGER NOT NULL, created_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS chunks (id INTEGER PRIMARY KEY AUTOINCREMENT, document INTEGER NOT NULL, space TEXT NOT NULL,
    position INTEGER NOT NULL, text TEXT NOT NULL, vector BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS chunks_space ON chunks (space);
"""


def chunk_text(text: str, chunk_size: int = CHUNK_SIZE, overlap: int = CHUNK_OVERLAP) -> list[str]:
    """The chunks of ``text`` (see the module's docstring)."""
    if chunk_size < 50:
        raise FMScriptError("chunk_size must be at least 50 characters", code=E_INVALID_PARAMETER)
    if not 0 <= overlap < chunk_size // 2:
        raise FMScriptError("chunk_overlap must be from 0 to half the chunk_size", code=E_INVALID_PARAMETER)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    pieces: list[str] = []
    for para in re.split(r"\n\s*\n", text):
        para = " ".join(para.split())
        if not para:
            continue
        if len(para) <= chunk_size:
            pieces.append(para)
            continue
        for sent in re.split(r"(?<=[.!?。！？])\s+", para):
            while len(sent) > chunk_size:
                cut = sent.rfind(" ", 0, chunk_size)
                cut = cut if cut > chunk_size // 2 else chunk_size
                pieces.append(sent[:cut].strip())
                sent = sent[cut:].strip()
            if sent:
                pieces.append(sent)
    chunks: list[str] = []
    cur = ""
    for piece in pieces:
        if cur and len(cur) + 1 + len(piece) > chunk_size:
            chunks.append(cur)
            tail = cur[-overlap:] if overlap else ""
            if tail and " " in tail:
                tail = tail[tail.index(" ") + 1:]
            cur = (tail + " " + piece).strip() if len(tail) + 1 + len(piece) <= chunk_size else piece
        else:
            cur = (cur + " " + piece).strip()
    if cur:
        chunks.append(cur)
    return chunks


def read_bytes(data: bytes, name: str) -> str:
    """The text of a document: a PDF's text (pypdf), or UTF-8 text."""
    if data[:5] == b"%PDF-":
        try:
            import io

            from pypdf import PdfReader
        except ImportError:
            raise FMScriptError(f"“{name}” is a PDF: reading PDFs needs the pypdf package",
                                code=E_REQUEST_NOT_SUPPORTED) from None
        return "\n\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise FMScriptError(f"“{name}” is neither a PDF nor UTF-8 text", code=E_AI_INVALID_REQUEST) from None


def read_document(path: Path) -> str:
    try:
        return read_bytes(Path(path).read_bytes(), Path(path).name)
    except FileNotFoundError:
        raise FMScriptError(f"the file {str(path)!r} does not exist", code=E_FILE_MISSING) from None


@dataclass
class RagAccount:
    """A RAG account of a session; the key is never shown."""

    name: str
    endpoint: str = ""
    api_key: str = field(default="", repr=False)

    def store(self) -> "RagStore":
        if self.endpoint.strip() and self.endpoint.strip().casefold() not in ("local", "local:"):
            raise FMScriptError(f"the RAG account “{self.name}” names a remote AI Model Server ({self.endpoint}); "
                                "fmscript keeps RAG spaces locally: give no Endpoint (or “local”)",
                                code=E_REQUEST_NOT_SUPPORTED)
        return RagStore(fmhome.home(ensure=True) / "rag.sqlite")


def configure_account(session, name: str, endpoint: str = "", api_key: str = "") -> RagAccount:
    """Configure RAG Account: the session's RAG accounts sit beside its AI accounts."""
    from fmscript.redact import register_secret

    register_secret(api_key)
    acct = RagAccount(name, endpoint, api_key)
    accounts = getattr(session, "rag_accounts", None)
    if accounts is None:
        accounts = session.rag_accounts = {}
    accounts[name.casefold()] = acct
    return acct


def account(session, name: str) -> RagAccount:
    from fmscript.errors import E_AI_ACCOUNT_MISSING

    accounts = getattr(session, "rag_accounts", None) or {}
    acct = accounts.get(name.casefold())
    if acct is None:
        known = ", ".join(a.name for a in accounts.values()) or "none yet"
        raise FMScriptError(f"there is no RAG account named “{name}”: run Configure RAG Account first "
                            f"(accounts: {known})", code=E_AI_ACCOUNT_MISSING)
    return acct


class RagStore:
    """The home's RAG spaces in SQLite (owner-only file)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        with fmhome.private():
            self.conn = sqlite3.connect(self.path)
        self.conn.executescript(SCHEMA)

    def _space(self, space: str) -> tuple | None:
        return self.conn.execute("SELECT embedding_model, dimensions FROM spaces WHERE id = ?", (space,)).fetchone()

    def add(self, space: str, text: str, name: str, embedder, model: str, chunk_size: int = CHUNK_SIZE,
            overlap: int = CHUNK_OVERLAP) -> dict:
        """Chunk, embed (everything before anything is written), store; the new document's JSON."""
        import numpy as np

        chunks = chunk_text(text, chunk_size, overlap)
        vectors = [np.asarray(v, dtype="<f4") for v in embedder(chunks)]
        dims = {v.size for v in vectors}
        known = self._space(space)
        if known is not None and known[0] != model:
            raise FMScriptError(f"the RAG space “{space}” was built with the embedding model “{known[0]}”, not "
                                f"“{model}”", code=E_AI_INVALID_REQUEST)
        if len(dims) != 1 or (known is not None and known[1] and known[1] not in dims):
            raise FMScriptError(f"the vectors' dimensions {sorted(dims)} do not match the space's "
                                f"({known[1] if known else '-'})", code=E_AI_INVALID_REQUEST)
        now = int(time.time())
        with self.conn:
            if known is None:
                self.conn.execute("INSERT INTO spaces VALUES (?, ?, ?, ?)", (space, model, dims.pop(), now))
            cur = self.conn.execute("INSERT INTO documents (space, name, characters, created_at) VALUES (?,?,?,?)",
                                    (space, name, len(text), now))
            doc = cur.lastrowid
            self.conn.executemany("INSERT INTO chunks (document, space, position, text, vector) VALUES (?,?,?,?,?)",
                                  [(doc, space, i, t, v.tobytes()) for i, (t, v) in enumerate(zip(chunks, vectors))])
        return {"id": doc, "space": space, "name": name, "chunks": len(chunks)}

    def remove(self, space: str, ids: list) -> dict:
        try:
            wanted = [int(i) for i in ids]
        except (TypeError, ValueError):
            raise FMScriptError("Remove Data's id must be an array of document ids", code=E_INVALID_PARAMETER) from None
        have = {r for (r,) in self.conn.execute("SELECT id FROM documents WHERE space = ?", (space,))}
        missing = [i for i in wanted if i not in have]
        if missing:
            raise FMScriptError(f"the RAG space “{space}” has no document {missing[0]}", code=E_RECORD_MISSING)
        with self.conn:
            for i in wanted:
                self.conn.execute("DELETE FROM chunks WHERE document = ?", (i,))
                self.conn.execute("DELETE FROM documents WHERE id = ?", (i,))
        return {"removed": wanted, "space": space}

    def search(self, space: str, prompt: str, embedder, top_k: int = TOP_K) -> list[dict]:
        from fmscript.ai.embeddings import rank, stack

        if self._space(space) is None:
            raise FMScriptError(f"there is no RAG space “{space}”: add data to it first", code=E_RECORD_MISSING)
        rows = self.conn.execute("SELECT id, vector FROM chunks WHERE space = ?", (space,)).fetchall()
        ids, mat = stack(rows, "the RAG space's chunk")
        q = embedder([prompt])[0]
        hits = rank(q, ids, mat, top_k)
        texts = dict(self.conn.execute(f"SELECT id, text FROM chunks WHERE id IN ({','.join('?' * len(hits))})",
                                       [h for h, _ in hits]).fetchall()) if hits else {}
        return [{"chunk": h, "similarity": s, "text": texts[h]} for h, s in hits]

    def info(self, space: str) -> dict:
        sp = self._space(space)
        docs = [{"id": i, "name": n, "characters": c} for i, n, c in self.conn.execute(
            "SELECT id, name, characters FROM documents WHERE space = ? ORDER BY id", (space,))]
        return {"space": space, "embedding_model": sp[0] if sp else None, "documents": docs}


def prompt_messages(question: str, chunks: list[dict], context_prompt: str = "") -> list[dict]:
    """The chat messages for Send Prompt: the retrieved chunks as context, then the question."""
    context = "\n\n".join(f"[{i + 1}] {c['text']}" for i, c in enumerate(chunks))
    system = ("Answer the question using only the context below. If the context does not contain the answer, "
              "say so.\n\nContext:\n" + context)
    if context_prompt:
        system = str(context_prompt) + "\n\n" + system
    return [{"role": "system", "content": system}, {"role": "user", "content": question}]
