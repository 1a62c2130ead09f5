"""FileMaker 22's AI functions beside the embedding models: schema for models (GetTableDDL, GetFieldsOnLayout),
GetTokenCount, regression predictions (PredictFromModel, GetModelAttributes), vector arithmetic (AddEmbeddings,
SubtractEmbeddings, NormalizeEmbedding), and ComputeModel (Core ML, which fmscript cannot run).  The functions
that ask an embedding model (GetEmbedding …) and CosineSimilarity live in ``embedding_fns``."""
from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation

from ...errors import E_COMMAND_UNAVAILABLE, E_INVALID_PARAMETER, FMScriptError
from ..values import to_text
from . import CalcError, function


def _calc_errors(fn):
    try:
        return fn()
    except CalcError:
        raise
    except FMScriptError as e:
        raise CalcError(e.message, code=e.code) from None


def _truthy(v) -> bool:
    if isinstance(v, Decimal):
        return v != 0
    t = to_text(v).strip().casefold()
    return t not in ("", "0", "false")


@function("GetTableDDL ( tableOccurrenceNames ; ignoreError )", mode="context", category="ai", volatile=True)
def get_table_ddl(f, names, ignore_error):
    """The table occurrences' CREATE TABLE statements (the schema Perform SQL Query by Natural Language sends)."""
    from ...ai.nlquery import occurrence_list, table_ddl
    return _calc_errors(lambda: table_ddl(f.session.data, occurrence_list(to_text(names)), _truthy(ignore_error)))


@function("GetFieldsOnLayout ( layoutName )", mode="context", category="ai", volatile=True)
def get_fields_on_layout(f, layout):
    """The layout's fields that a find can use, as JSON (what Perform Find by Natural Language sends)."""
    from ...ai.nlquery import fields_on_layout
    result = _calc_errors(lambda: fields_on_layout(f.session.data, to_text(layout)))
    return json.dumps(result, ensure_ascii=False, separators=(",", ":"))


@function("GetTokenCount ( text )", category="ai")
def get_token_count(text):
    """An estimate of the text's tokens, for guidance only (as FileMaker says).

    About four characters a token, one per CJK character: fmscript ships no provider's tokenizer."""
    from ...ai.nlquery import estimate_tokens
    return Decimal(estimate_tokens(to_text(text)))


@function("PredictFromModel ( modelName ; v1 )", mode="context", category="ai", volatile=True)
def predict_from_model(f, name, v1):
    """The prediction of a regression model loaded by Configure Regression Model for a vector (JSON array)."""
    from ...ai import regression

    def predict():
        m = regression.model(f.session, to_text(name))
        return m.predict(regression.vector(v1 if isinstance(v1, (bytes, bytearray)) else to_text(v1)))
    return Decimal(repr(_calc_errors(predict)))


@function("GetModelAttributes ( modelName )", mode="context", category="ai", volatile=True)
def get_model_attributes(f, name):
    """JSON about a loaded regression model (fmscript loads no Core ML models)."""
    from ...ai import regression

    m = _calc_errors(lambda: regression.model(f.session, to_text(name)))
    trees = len(m.forest.estimators_) if m.forest is not None else len(m.trees.trees)
    return json.dumps({"name": to_text(name), "type": "regression", "algorithm": "Random Forest",
                       "dimensions": m.dimensions, "numTrees": trees}, separators=(",", ":"))


@function("ComputeModel ( modelName ; name1 ; value1 { ; name2 ; value2 ; ... } )", category="ai")
def compute_model(*args):
    """Evaluates a Core ML model: Core ML runs only on Apple's systems, so fmscript gives ``?``."""
    raise CalcError("ComputeModel needs Core ML, which only macOS, iOS and iPadOS have", code=E_COMMAND_UNAVAILABLE)


# -- vector arithmetic (FileMaker 22) -----------------------------------------------------------------------

def _vector(v) -> tuple[list[float], bool]:
    """(the vector, whether it came as binary float32 data) from text (a JSON array) or binary data."""
    from ...ai.regression import vector
    return _calc_errors(lambda: vector(v if isinstance(v, (bytes, bytearray)) else to_text(v))), \
        isinstance(v, (bytes, bytearray))


def _number_text(x: float) -> str:
    """A double as FileMaker writes a vector's number: 20 significant digits of its exact value."""
    d = Decimal(x)
    if d == 0:
        return "0"
    q = d.quantize(Decimal(1).scaleb(d.adjusted() - 19))
    s = format(q, "f")
    return s.rstrip("0").rstrip(".") if "." in s else s


def _normalized(xs: list[float], binary: bool, dims: int | None = None):
    import math
    import struct

    n = math.sqrt(sum(x * x for x in (xs[:dims] if dims else xs)))
    if n == 0:
        raise CalcError("a zero vector cannot be normalized", code=E_INVALID_PARAMETER)
    out = [x / n for x in (xs[:dims] if dims else xs)]
    if binary:
        return struct.pack(f"<{len(out)}f", *out)
    return "[" + ", ".join(_number_text(x) for x in out) + "]"


def _same_dims(a: list[float], b: list[float]) -> None:
    if len(a) != len(b):
        raise CalcError(f"the vectors have different dimensions ({len(a)} and {len(b)})", code=E_INVALID_PARAMETER)


@function("AddEmbeddings ( v1 ; v2 )", category="ai")
def add_embeddings(v1, v2):
    """The normalized sum of two embedding vectors (text in, text out; binary in, binary out)."""
    (a, ba), (b, bb) = _vector(v1), _vector(v2)
    _same_dims(a, b)
    return _normalized([x + y for x, y in zip(a, b)], ba and bb)


@function("SubtractEmbeddings ( v1 ; v2 )", category="ai")
def subtract_embeddings(v1, v2):
    """The normalized difference v1 − v2 of two embedding vectors."""
    (a, ba), (b, bb) = _vector(v1), _vector(v2)
    _same_dims(a, b)
    return _normalized([x - y for x, y in zip(a, b)], ba and bb)


@function("NormalizeEmbedding ( data { ; dimension } )", category="ai")
def normalize_embedding(data, dimension=None):
    """The vector scaled to length 1; with ``dimension``, only its first ``dimension`` values, normalized."""
    xs, binary = _vector(data)
    dims = None
    if dimension is not None and to_text(dimension).strip():
        try:
            d = int(Decimal(to_text(dimension)))
        except (InvalidOperation, ValueError):
            raise CalcError("the dimension must be a number", code=E_INVALID_PARAMETER) from None
        dims = d if 0 < d < len(xs) else None
    return _normalized(xs, binary, dims)
