"""FileMaker's embedding functions: GetEmbedding, GetEmbeddingAsText, GetEmbeddingAsFile, CosineSimilarity, and
GetRAGSpaceInfo.

Vectors are text (a JSON array) or container data (little-endian float32, see :mod:`fmscript.ai.embeddings`);
every function here takes either form.
"""
from __future__ import annotations

from decimal import Decimal

from ..values import Container, to_text
from . import CalcError, function


def _vector(v, what: str):
    from ...ai.embeddings import as_vector
    from ...errors import FMScriptError

    try:
        return as_vector(v.data if isinstance(v, Container) else to_text(v), what)
    except FMScriptError as e:
        raise CalcError(e.message, code=e.code) from None


@function("GetEmbedding ( account ; model ; input )", mode="context", volatile=True, category="ai")
def get_embedding(f, account_name, model, value):
    """Sends the input to an embedding model; the vector as container data."""
    from ...ai.accounts import account
    from ...ai.embeddings import CONTAINER_NAME, vector_to_bytes
    from ...errors import E_AI_INVALID_REQUEST, E_AI_REQUEST_FAILED, FMScriptError

    if isinstance(value, Container):
        try:
            text = value.data.decode("utf-8")
        except UnicodeDecodeError:
            raise CalcError("GetEmbedding embeds text only: the input is container data that is not text",
                            code=E_AI_INVALID_REQUEST) from None
    else:
        text = to_text(value)
    try:
        vec = account(f.session, to_text(account_name)).provider.embed(to_text(model), [text], {})[0]
    except FMScriptError as e:
        raise CalcError(e.message, code=e.code) from None
    except (OSError, ValueError, RuntimeError) as e:
        raise CalcError(f"{e.__class__.__name__}: {e}", code=E_AI_REQUEST_FAILED) from None
    return Container(vector_to_bytes(vec), CONTAINER_NAME)


@function("GetEmbeddingAsText ( data )", category="ai")
def get_embedding_as_text(data):
    """An embedding vector (container data) as text: a JSON array of numbers."""
    from ...ai.embeddings import vector_to_text

    return vector_to_text(_vector(data, "GetEmbeddingAsText's data"))


@function("GetEmbeddingAsFile ( text { ; fileNameWithExtension } )", category="ai")
def get_embedding_as_file(text, file_name=""):
    """An embedding vector (text, a JSON array) as container data."""
    from ...ai.embeddings import CONTAINER_NAME, vector_to_bytes

    return Container(vector_to_bytes(_vector(text, "GetEmbeddingAsFile's text")), to_text(file_name) or CONTAINER_NAME)


@function("CosineSimilarity ( v1 ; v2 )", category="ai")
def cosine_similarity(v1, v2):
    """The cosine similarity (-1 to 1) of two embedding vectors of the same dimension, text or container."""
    from ...ai.embeddings import cosine_similarity as cos
    from ...errors import FMScriptError

    try:
        value = cos(_vector(v1, "the first vector"), _vector(v2, "the second vector"))
    except FMScriptError as e:
        raise CalcError(e.message, code=e.code) from None
    return Decimal(repr(round(value, 16)))


@function("GetRAGSpaceInfo ( ragAccountName ; spaceID )", mode="context", volatile=True, category="ai")
def get_rag_space_info(f, rag_account_name, space_id):
    """The RAG space as JSON: its embedding model and its documents (id, name, characters)."""
    import json

    from ...ai import rag
    from ...errors import FMScriptError

    try:
        info = rag.account(f.session, to_text(rag_account_name)).store().info(to_text(space_id))
    except FMScriptError as e:
        raise CalcError(e.message, code=e.code) from None
    return json.dumps(info, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
