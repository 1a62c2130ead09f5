"""Functions over the relationship graph: Lookup, LookupNext, and the portal row ``Get`` values.

Aggregates over related records (``Sum ( Invoices::Total )``) are the aggregates themselves
(:func:`.logic.all_repetitions` asks the data layer for the related values); these need the field itself, not
its value, so they are compiled (mode ``compile``).
"""
from __future__ import annotations

from decimal import Decimal

from .. import ast as A
from ..values import to_text
from ...errors import DataError
from . import CalcError, function
from . import get_value as get


def _field_arg(comp, node, fname: str):
    if not isinstance(node, A.Field) or not node.table:
        raise comp.error(f"{fname} needs a related field (Occurrence::Field)", node)
    return node.table, node.name


@function("Lookup ( sourceField {; failExpression} )", mode="compile", args=(1, 2))
def lookup(comp, n):
    """The source field's value in the first related record; the fail expression when there is none."""
    table, name = _field_arg(comp, n.args[0], "Lookup")
    fail = comp.compile(n.args[1]) if len(n.args) > 1 else None

    def run(f):
        data = f.session.data
        try:
            vals = data.related_values(f, table, name)
        except DataError as e:
            raise CalcError(e.message, code=e.code) from None
        if vals is None:  # not related: the occurrence's own current record, as any field reference
            return data.read_field(f, table, name, 1)
        if vals:
            return vals[0]
        return fail(f) if fail is not None else ""
    return run


@function("LookupNext ( sourceField ; lowerOrHigherFlag )", mode="compile", args=(2, 2))
def lookup_next(comp, n):
    """The first related record's value, else the one of the next lower (Lower) or higher (Higher) match value."""
    table, name = _field_arg(comp, n.args[0], "LookupNext")
    flag = n.args[1]
    if isinstance(flag, A.Name) and flag.name.casefold() in ("lower", "higher"):
        higher_const = flag.name.casefold() == "higher"
        cflag = None
    else:
        higher_const, cflag = None, comp.compile(flag)

    def run(f):
        higher = higher_const if cflag is None else to_text(cflag(f)).strip().casefold() == "higher"
        try:
            return f.session.data.lookup_next(f, table, name, higher)
        except DataError as e:
            raise CalcError(e.message, code=e.code) from None
    return run


@get("PortalRowNumber")
def portal_row_number(f):
    """The number of the active portal row (0 when no portal row is active)."""
    return Decimal(f.session.data.portal_row_number())


@get("ActivePortalRowNumber")
def active_portal_row_number(f):
    """The number of the active portal row (0 when no portal row is active)."""
    return Decimal(f.session.data.portal_row_number())


@get("ActiveLayoutObjectName")
def active_layout_object_name(f):
    """The name of the active layout object (Go to Object's portal, else the active portal row's), else empty."""
    return f.session.data.active_object_name()
