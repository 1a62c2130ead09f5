"""The window: the current layout and mode, and one context (found set, current record, sort order) per table
occurrence.

A field of another occurrence than the current layout's reads that occurrence's current record (fmscript has
no relationships).  Names in calculations and steps are resolved here: an unqualified field belongs to the
current layout's occurrence.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import E_FIELD_MISSING, E_LAYOUT_MISSING, E_TABLE_MISSING, DataError
from .schema import FieldInfo, TableInfo, did_you_mean, field_missing_message


@dataclass
class Context:
    """Found set, current record and sort order of one table occurrence in the window."""

    occurrence: str
    table: str
    found: list[int] | None = None   # record ids in found-set order; None until first used
    index: int = 0
    sort: list | None = None          # [(FieldInfo, ascending)]
    last_requests: list | None = None # the requests of the last find (Modify Last Find)

    def current(self) -> int | None:
        if not self.found:
            return None
        if self.index >= len(self.found):
            self.index = len(self.found) - 1
        return self.found[self.index]


@dataclass
class Window:
    layout: str | None = None
    occurrence: str | None = None
    mode: str = "browse"              # browse | find | preview
    requests: list = field(default_factory=list)
    request_index: int = 0


class Windows:
    """The one headless window and the contexts of the occurrences it has shown.

    A mixin of :class:`~fmscript.data.database.Database` (needs the schema, ``all_ids`` and ``commit``)."""

    window: Window
    contexts: dict[str, Context]
    original_layout: str | None

    def current_occurrence(self) -> str | None:
        if self.window.occurrence is None:
            lay = self.layouts()
            if lay:
                name, occ = next(iter(lay.values()))
                self.window.layout, self.window.occurrence = name, occ
        return self.window.occurrence

    def context(self, occurrence: str | None = None) -> Context:
        occ = occurrence or self.current_occurrence()
        if occ is None:
            raise DataError("the file has no tables, so there is no layout to work on",
                            code=E_LAYOUT_MISSING)
        key = occ.casefold()
        ctx = self.contexts.get(key)
        if ctx is None:
            ti = self.table_of(occ)
            if ti is None:
                raise DataError(f"there is no table occurrence named “{occ}”",
                                code=E_TABLE_MISSING)
            ctx = self.contexts[key] = Context(self.occurrence_name(occ) or occ, ti.name)
        if ctx.found is None:
            ctx.found = self.all_ids(ctx.table)
            ctx.index = 0
        return ctx

    def go_to_layout(self, name: str) -> None:
        lay = self.layouts().get(name.casefold())
        if lay is None:
            raise DataError(f"there is no layout named “{name}”", code=E_LAYOUT_MISSING)
        self.commit()
        if self.original_layout is None:
            self.current_occurrence()
            self.original_layout = self.window.layout
        if self.window.mode == "find" and (self.window.occurrence or "").casefold() != lay[1].casefold():
            from .finds import Request
            self.window.requests, self.window.request_index = [Request()], 0  # requests belong to a table
        self.window.layout, self.window.occurrence = lay
        self.context()

    def resolve_field(self, table: str | None, name: str, on: str | None = None
                      ) -> tuple[str, TableInfo, FieldInfo]:
        """(occurrence, table, field) that ``table::name`` means, or ``name`` on occurrence ``on`` (default:
        the current layout's).

        A missing field is FileMaker's error 102, with the closest field of the table as a hint."""
        occ = table or on or self.current_occurrence()
        if occ is None:
            raise DataError(f"the field “{name}” is missing: the file has no tables", code=E_FIELD_MISSING)
        ti = self.table_of(occ)
        label = f"{table}::{name}" if table else name
        if ti is None:
            raise DataError(f"the field “{label}” is missing: there is no table occurrence “{occ}”"
                            + did_you_mean(occ, [o for o, _ in self.occurrences().values()]), code=E_FIELD_MISSING)
        fi = ti.field(name)
        if fi is None:
            raise DataError(field_missing_message(label, ti), code=E_FIELD_MISSING)
        return occ, ti, fi

    def repetitions_of(self, table: str | None, name: str) -> int:
        """How many repetitions ``table::name`` has (1 for a field that is missing: reading it says so)."""
        try:
            return self.resolve_field(table, name)[2].repetitions
        except DataError:
            return 1
