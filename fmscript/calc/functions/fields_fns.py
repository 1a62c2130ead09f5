"""Functions over field definitions and transactions: ``GetSummary``, ``ValueListItems``,
``ValueListNames``, ``Get ( TransactionOpenState )`` and ``Get ( RevertTransactionOnErrorState )``.

They ask the session's file (``f.session.data``), which keeps summary fields, value lists and the
transaction state (:mod:`fmscript.data.fielddefs`, :mod:`fmscript.data.transactions`).
"""
from __future__ import annotations

from decimal import Decimal

from .. import ast as A
from ..values import to_text
from . import CalcError, function
from . import get_value as get


def _field_ref(comp, node, what: str):
    if isinstance(node, A.Field):
        return node.table, node.name
    if isinstance(node, A.Name):
        return None, node.name
    raise comp.error(f"GetSummary needs {what} here, written as Table::Field", node)


@function("GetSummary ( summaryField ; breakField )", mode="compile", args=(2, 2), category="summary")
def get_summary(comp, n):
    """A summary field's value over the records that share the current record's break-field value.

    The records are those of the found set; when the break field is the summary field itself, all of them."""
    table, name = _field_ref(comp, n.args[0], "a summary field")
    bname = _field_ref(comp, n.args[1], "a break field")[1]

    def run(f):
        return f.session.data.get_summary(table, name, bname)
    return run


@function("ValueListItems ( fileName ; valueList )", mode="context", category="design")
def value_list_items(f, file_name, value_list):
    """The values of a value list of the file, one per line.

    Custom values come in their order, a field's values sorted.  Only the current file is known:
    ``fileName`` is not checked."""
    from ...errors import DataError

    try:
        return "\r".join(f.session.data.value_list_items(to_text(value_list)))
    except DataError as e:
        raise CalcError(e.message, code=e.code) from None


@function("ValueListNames ( fileName )", mode="context", category="design")
def value_list_names(f, file_name):
    """The names of the file's value lists, one per line."""
    return "\r".join(f.session.data.value_list_names())


@get("TransactionOpenState", doc="1 while a transaction (Open Transaction) is open, else 0.")
def transaction_open_state(f):
    return Decimal(1 if f.session.data.transaction_depth else 0)


@get("RevertTransactionOnErrorState",
     doc="1 when an error inside a transaction reverts it (Set Revert Transaction on Error), else 0.")
def revert_transaction_on_error_state(f):
    return Decimal(1 if f.session.data.revert_on_error else 0)
