"""Finds and sorts on SQLite: find requests as parameterised queries (criteria matched by
:func:`finds.matches`, registered as the SQL function ``fm_match``), and sort orders as ``ORDER BY`` with
FileMaker's collations.  The criteria language itself is :mod:`fmscript.data.finds`."""
from __future__ import annotations

import json
import sqlite3

from ..errors import E_FIELD_MISSING, E_FIND_CRITERIA_EMPTY, E_INVALID_PARAMETER, DataError
from . import finds as F
from .fastfind import numeric_columns, sql_criterion
from .schema import FieldInfo, TableInfo, qident
from .values import sql_index_key, to_storage
from .window import Context


def fm_match(value, ftype, criterion):
    """SQL ``fm_match(value, type, criterion)``: 1 when the stored value matches a find criterion."""
    try:
        return 1 if F.matches(value, ftype, criterion) else 0
    except Exception:  # a criterion that cannot apply to this value matches nothing
        return 0


def register_functions(conn: sqlite3.Connection) -> None:
    """The SQL functions finds use (``fm_match``, ``fm_dupkey``) on a new connection."""
    conn.create_function("fm_match", 3, fm_match, deterministic=True)
    conn.create_function("fm_dupkey", 2, F.duplicate_key, deterministic=True)
    conn.create_function("fm_key", 3, sql_index_key, deterministic=True)  # relationship keys across types


class Queries:
    """Perform Find and Sort Records.  A mixin of :class:`~fmscript.data.database.Database`."""

    conn: sqlite3.Connection

    # -- finds --------------------------------------------------------------------------------------------
    def request_ids(self, ctx: Context, criteria: list[tuple[FieldInfo, str]]) -> set[int]:
        """Record ids matching every criterion of one request (a parameterised query)."""
        ti = self.tables()[ctx.table.casefold()]
        where, params, dup_fields = [], [], []
        computed: list[tuple[FieldInfo, str]] = []
        numeric = numeric_columns(self.conn, ti.name)
        for fi, text in criteria:
            t = text.strip()
            if not t:
                continue
            if self.computed_field(ti, fi):  # no stored value: evaluated per record below
                computed.append((fi, t))
                continue
            fast = sql_criterion(fi.name, t) if fi.type == "number" and fi.name.casefold() in numeric else None
            if fast is not None and not fi.is_global:  # SQLite tests it itself (fmscript/data/fastfind.py)
                where.append(fast[0])
                params += fast[1]
                continue
            if fi.is_global:
                ok = F.matches(self.global_value(ti.name, fi.name), fi.type, t)
                where.append("1" if ok else "0")
                continue
            if t == "!":
                dup_fields.append(fi)
                continue
            where.append(f"fm_match({qident(fi.name)}, ?, ?)")
            params += [fi.type, t]
        for fi in dup_fields:
            col = qident(fi.name)
            where.append(f"fm_dupkey({col}, ?) IN (SELECT fm_dupkey({col}, ?) FROM {qident(ti.name)} "
                         f"GROUP BY 1 HAVING count(*) > 1 AND fm_dupkey({col}, ?) IS NOT NULL)")
            params += [fi.type, fi.type, fi.type]
        sql = f"SELECT rowid FROM {qident(ti.name)}" + (" WHERE " + " AND ".join(where) if where else "")
        ids = {r for (r,) in self.conn.execute(sql, params)}
        for fi, t in computed:
            ids &= self.computed_match_ids(ti, fi, t, ids)
        return ids

    def computed_field(self, ti: TableInfo, fi: FieldInfo) -> bool:
        """An unstored calculation (found by evaluating it per record); a summary field cannot hold a
        criterion (FileMaker: no criteria in summary fields)."""
        opts = self.field_options(ti.name, fi.name) if self._field_options != {} else None
        if opts is None or not opts.computed_on_read:
            return False
        if opts.kind == "summary":
            from ..errors import E_FIELD_CANNOT_BE_MODIFIED
            raise DataError(f"{ti.name}::{fi.name} is a summary field: FileMaker takes no find criteria in summary "
                            "fields (find on the field it summarises)", code=E_FIELD_CANNOT_BE_MODIFIED)
        return True

    def computed_match_ids(self, ti: TableInfo, fi: FieldInfo, criterion: str, ids=None) -> set[int]:
        """Records (of ``ids``, default all) whose unstored calculation ``fi`` matches ``criterion``: FileMaker
        evaluates the calculation in each record, slowly but exactly, and so does fmscript."""
        opts = self.field_options(ti.name, fi.name)
        candidates = sorted(ids) if ids is not None else self.all_ids(ti.name)
        values = {rid: self.evaluate_for_record(ti, rid, opts.calc, opts.context) for rid in candidates}
        if criterion == "!":
            keys = {rid: F.duplicate_key(to_storage(v, fi.type), fi.type) for rid, v in values.items()}
            counts: dict = {}
            for k in keys.values():
                if k is not None:
                    counts[k] = counts.get(k, 0) + 1
            return {rid for rid, k in keys.items() if k is not None and counts[k] > 1}
        return {rid for rid, v in values.items() if fm_match(to_storage(v, fi.type), fi.type, criterion)}

    def run_requests(self, ctx: Context, requests: list) -> list[int]:
        """FileMaker's find: requests in order; find requests add records, omit requests take them away."""
        ti: TableInfo = self.tables()[ctx.table.casefold()]
        result: set[int] | None = None
        usable = [r for r in requests if not r.is_empty()]
        if not usable:
            raise DataError("the find requests are empty: give at least one criterion",
                            code=E_FIND_CRITERIA_EMPTY)
        for req in usable:
            crit, related = [], []
            for (occ, key), (name, text) in req.criteria.items():
                if occ is not None:  # a related field's criterion (fmscript/data/related.py)
                    if text.strip():
                        related.append((occ, name, text))
                    continue
                fi = ti.field(name)
                if fi is None:
                    raise DataError(f"the field “{name}” is missing from “{ti.name}”",
                                    code=E_FIELD_MISSING)
                crit.append((fi, text))
            ids = self.request_ids(ctx, crit)
            for occ, name, text in related:
                ids &= self.related_match_ids(ctx.occurrence, occ, name, text)
            if req.omit:
                if result is None:
                    result = set(self.all_ids(ti.name))
                result -= ids
            else:
                result = ids if result is None else result | ids
        return sorted(result or ())

    def requests_from_text(self, ctx: Context, text: str) -> list:
        """Stored find text (see :func:`finds.parse_requests`) → requests on ``ctx``'s table."""
        try:
            parsed = F.parse_requests(text)
        except F.RequestSyntaxError as e:
            raise DataError(f"the stored find requests cannot be read: {e}", code=E_INVALID_PARAMETER) from None
        out = []
        ti = self.tables()[ctx.table.casefold()]
        for omit, crit in parsed:
            req = F.Request(omit=omit)
            for occ, name, value in crit:
                rkey = self.criterion_key(occ, ctx.occurrence) if occ else None
                if rkey:  # a related field: records with a related record that matches
                    rti = self.table_of(occ)
                    rfi = rti.field(name)
                    if rfi is None:
                        raise DataError(f"the stored find uses the field “{occ}::{name}”, which “{rti.name}” does "
                                        "not have", code=E_FIELD_MISSING)
                    req.criteria[(rkey, rfi.name.casefold())] = (rfi.name, value)
                    continue
                if occ and self.table_of(occ) is not ti:
                    raise DataError(f"the stored find uses “{occ}::{name}”, but the layout shows “{ctx.occurrence}”"
                                    "", code=E_FIELD_MISSING)
                fi = ti.field(name)
                if fi is None:
                    raise DataError(f"the stored find uses the field “{name}”, which “{ti.name}” "
                                    "does not have", code=E_FIELD_MISSING)
                req.criteria[(None, fi.name.casefold())] = (fi.name, value)
            out.append(req)
        return out

    # -- sorting ------------------------------------------------------------------------------------------
    def sort_spec_from_text(self, ctx: Context, text: str) -> list:
        try:
            parsed = F.parse_sort_order(text)
        except F.RequestSyntaxError as e:
            raise DataError(f"the stored sort order cannot be read: {e}", code=E_INVALID_PARAMETER) from None
        ti = self.tables()[ctx.table.casefold()]
        spec = []
        for occ, name, asc in parsed:
            fi = ti.field(name)
            if fi is None or (occ and self.table_of(occ) is not ti):
                raise DataError(f"the sort order uses the field “{occ + '::' if occ else ''}{name}”, which "
                                f"“{ctx.occurrence}” does not have", code=E_FIELD_MISSING)
            spec.append((fi, asc))
        return spec

    def sort(self, ctx: Context, spec: list, language: str | None = None) -> None:
        """Sort the found set: text case-insensitively, numbers by value, empty values first; ``language``
        (Sort Records' ``override language``) sorts text in that language's alphabet."""
        if not ctx.found:
            ctx.sort = spec
            return
        if language is not None and any(fi.type == "text" for fi, _ in spec):
            self._sort_in_language(ctx, spec, language)
            return
        order = []
        numeric = numeric_columns(self.conn, ctx.table)
        for fi, asc in spec:
            # Numbers in a column of numeric affinity sort by value natively; text-stored numbers need fmnum.
            coll = {"number": "" if fi.name.casefold() in numeric else " COLLATE fmnum",
                    "text": " COLLATE fmtext"}.get(fi.type, "")
            order.append(f"{qident(fi.name)}{coll} {'ASC' if asc else 'DESC'}"
                         + ("" if asc else " NULLS LAST") if not fi.is_global else "1")
        members = set(ctx.found)
        if len(members) * 2 < self.total_count(ctx.table):  # sort only the found set, not the whole table
            sql = (f"SELECT rowid FROM {qident(ctx.table)} WHERE rowid IN (SELECT value FROM json_each(?)) "
                   f"ORDER BY {', '.join(order)}, rowid")
            ctx.found = [r for (r,) in self.conn.execute(sql, (json.dumps(ctx.found),))]
        else:
            sql = f"SELECT rowid FROM {qident(ctx.table)} ORDER BY {', '.join(order)}, rowid"
            ctx.found = [r for (r,) in self.conn.execute(sql) if r in members]
        ctx.sort = spec
        ctx.index = 0  # FileMaker shows the first record of the sorted set

    def _sort_in_language(self, ctx: Context, spec: list, language: str) -> None:
        """The found set sorted in Python with the language's text keys (SQLite's collations know one order)."""
        from .values import language_sort_key
        key_of = language_sort_key(language)
        numeric = {fi.name for fi, _ in spec if fi.type == "number"}
        names = [fi.name for fi, _ in spec]
        cols = ", ".join(qident(n) for n in names)
        rows = {r[0]: r[1:] for r in self.conn.execute(
            f"SELECT rowid, {cols} FROM {qident(ctx.table)} WHERE rowid IN (SELECT value FROM json_each(?))",
            (json.dumps(ctx.found),))}
        ids = sorted(ctx.found)  # creation order breaks ties, as in the SQL sort
        for i in range(len(spec) - 1, -1, -1):  # stable sorts, last key first
            fi, asc = spec[i]
            if fi.is_global:
                continue
            def key(rid, i=i, fi=fi):
                v = rows[rid][i]
                if v is None or v == "":
                    return (0, ())  # empty values first
                if fi.name in numeric:
                    from .values import sort_number
                    return (1, sort_number(v))
                return (1, key_of(str(v)))
            ids.sort(key=key, reverse=not asc)  # descending: empty values last, as the SQL sort
        ctx.found = ids
        ctx.sort = spec
        ctx.index = 0
