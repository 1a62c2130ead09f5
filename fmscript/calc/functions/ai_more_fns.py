"""FileMaker 22's AI functions beside embeddings: schema for models (GetTableDDL, GetFieldsOnLayout),
GetTokenCount, regression predictions (PredictFromModel, GetModelAttributes), and ComputeModel (Core ML, which
fmscript cannot run).  The embedding functions live in ``embedding_fns``."""
from __future__ import annotations

import json
from decimal import Decimal

from ...errors import E_COMMAND_UNAVAILABLE, FMScriptError
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
    """An estimate of the text's tokens, for guidance only (as FileMaker says): about four characters a token,
    one per CJK character."""
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
