"""Related records: following the relationship graph (:mod:`.graph`) from the current record's context.

* ``Occurrence::Field`` reads the first related record of that occurrence (in the relationship's sort order,
  else in creation order), through as many hops as the path has; an occurrence that is not related to the
  current layout's has no record (FileMaker shows nothing: the value is empty, Set Field there fails).
* Set Field into a related field writes the first related record, creating it (and, hop by hop, the records
  between) when the relationship allows creation on that side.
* Aggregates (``Sum ( Invoices::Total )``), ``GetNthRecord``, ``Lookup``/``LookupNext``, portals, Go to
  Related Record and the related-table variants of Fine-Tune Model and Save Records as JSONL use the same
  queries.  Every query is parameterised: values never reach the SQL text, only quoted names.
"""
from __future__ import annotations

import json
import sqlite3
import weakref
from decimal import Decimal
from contextlib import contextmanager
from dataclasses import dataclass

from ..errors import (E_LAYOUT_OBJECT_MISSING, E_RECORD_ACCESS_DENIED, E_RECORD_MISSING, E_RELATIONSHIP_MISSING,
                      E_VALID_VALUE_REQUIRED, DataError, FMScriptError)
from . import finds as F
from .graph import MIRROR, SQL_OP, Hop, Portal
from .schema import FieldInfo, TableInfo, qident
from .values import from_storage, index_key, to_storage
from .window import Context

def _sql_text(x: str) -> str:
    """A name from the schema as an SQL string literal (for ``fm_global_keys``; never a value)."""
    return "'" + x.replace("'", "''") + "'"


#: ``related_value``'s answer when :meth:`Related.record_for` decides the record (the layout's own occurrence,
#: a portal row, a loop over related records); also the "nothing saved" mark of :meth:`Related.related_row`.
UNRELATED = object()


@dataclass
class PortalRow:
    """The active portal row: ``row`` counts from 1; one past the last related record is the empty row that
    creates a related record (when the relationship allows creation)."""
    portal: Portal
    layout: str
    base: int          # the record of the layout whose related records the portal shows
    row: int
    rows: list[int] | None = None  # the rows as last worked out (filter and sort): kept until Refresh Portal,
    #                                a commit that moves the row, or a row created or deleted


def _weak(method):
    ref = weakref.WeakMethod(method)
    return lambda *args: ref()(*args)


class Related:
    """A mixin of :class:`~fmscript.data.database.Database` (needs the schema, the graph, the window, the
    store's transaction and row cache)."""

    conn: sqlite3.Connection

    def _init_related(self) -> None:
        self.portal_row: PortalRow | None = None
        self._overrides: dict[str, int | None] = {}
        self._active_object: tuple[str, int | None, str] | None = None  # (layout, record, object name)
        # A global match field's keys, read when a joined query runs (the value may not be committed yet), and
        # an unstored calculation's, worked out for each joined record.  Weakly: the connection keeps its
        # functions where the garbage collector does not look, so a bound method would keep an unclosed file
        # (and its descriptors) alive for the whole process.
        for name, method in (("fm_global_keys", self._global_keys_json), ("fm_calc_keys", self._calc_keys_json)):
            self.conn.create_function(name, 5, _weak(method))
        self._evaluating_keys: set[tuple[str, str, int]] = set()

    # -- SQL ----------------------------------------------------------------------------------------------
    def _coll(self, table: str, fname: str) -> str:
        fi = self.tables()[table.casefold()].field(fname)
        return " COLLATE fmtext" if fi is not None and fi.type == "text" else ""

    def match_keys(self, raw, src: FieldInfo, dst: FieldInfo, op: str) -> list:
        """The index values a source record's match field value ``raw`` looks up in the destination field's
        index: converted to the destination's type when the types differ (FileMaker matches by index values:
        the text "007" finds the number 7), each line of a multi-line text for "=" (a multi-key field); an
        empty list matches nothing."""
        if raw is None or raw == "":
            return []
        if op == "=" and src.type == "text" and isinstance(raw, str) and ("\r" in raw or "\n" in raw):
            lines = raw.replace("\r\n", "\r").replace("\n", "\r").split("\r")
            keys = [index_key(k, src.type, dst.type) for k in lines if k != ""]
        else:
            keys = [index_key(raw, src.type, dst.type)]
        return [k for k in keys if k is not None and k != ""]

    def _global_keys_json(self, table: str, field: str, src: str, dst: str, op: str) -> str:
        """SQL ``fm_global_keys(table, field, src_type, dst_type, op)``: a global match field's keys (JSON)."""
        fs, fd = FieldInfo(field, src), FieldInfo(field, dst)
        return json.dumps(self.match_keys(self.global_value(table, field), fs, fd, op))

    def _calc_keys_json(self, table: str, field: str, rid: int, dst: str, op: str) -> str:
        """SQL ``fm_calc_keys(table, field, rowid, dst_type, op)``: an unstored calculation match field's keys in
        one record (JSON); a calculation that fails has none (FileMaker's ``?`` matches nothing)."""
        ti = self.tables()[table.casefold()]
        fi = ti.field(field)
        try:
            raw = self.match_value(ti, fi, rid)
        except FMScriptError:
            return "[]"
        return json.dumps(self.match_keys(raw, fi, FieldInfo(field, dst), op))

    def match_value(self, ti: TableInfo, fi: FieldInfo, rid: int | None):
        """The raw value a match field has in record ``rid``: its column, a global's value, or an unstored
        calculation worked out with ``rid`` as its record (in the field's stored form).  A calculation that
        needs its own value while it is worked out (a circular key) has none."""
        if fi.is_global:
            return self.global_value(ti.name, fi.name)
        calc = self.unstored_calculation(ti.name, fi.name)
        if calc is None:
            return (self.row(ti.name, rid) or {}).get(fi.name.casefold()) if rid is not None else None
        key = (ti.name.casefold(), fi.name.casefold(), rid)
        if rid is None or key in self._evaluating_keys:
            return None
        self._evaluating_keys.add(key)
        try:
            return to_storage(self.evaluate_for_record(ti, rid, calc.calc, calc.context), fi.type)
        finally:
            self._evaluating_keys.discard(key)

    def _hop_fields(self, hop: Hop, c) -> tuple[FieldInfo, FieldInfo]:
        return self.table_of(hop.src).field(c.left), self.table_of(hop.dst).field(c.right)

    def broken(self, hops: list[Hop]) -> bool:
        """A path that reaches a global or unstored calculation match field on the side it goes to: FileMaker
        cannot look a value up in a field it cannot index, so the relationship does not work from that side."""
        key = ("broken", tuple(map(id, hops)))
        b = self._paths.get(key)
        if b is None:
            b = self._paths[key] = any(not self.indexable(self.table_of(h.dst).name, self._hop_fields(h, c)[1])
                                       for h in hops for c in h.criteria if c.op != "×")
        return b

    def _crit_sql(self, hop: Hop, c, src: str, dst: str) -> str:
        """A joined criterion ``dst.right op src.left``: the source's value converted to the destination's
        index form when the types differ (``fm_key``), a global source's keys read when the query runs, an
        unstored calculation's worked out for each source record (``fm_calc_keys``); the destination's column
        stays bare, so SQLite answers from its index."""
        sfi, dfi = self._hop_fields(hop, c)
        col = f"{dst}.{qident(dfi.name)}{' COLLATE fmtext' if dfi.type == 'text' else ''}"
        stable = self.table_of(hop.src).name
        computed = self.unstored_calculation(stable, sfi.name) is not None
        if sfi.is_global or computed:
            if computed:
                args = ", ".join([_sql_text(stable), _sql_text(sfi.name), f"{src}.rowid", _sql_text(dfi.type),
                                  _sql_text(c.op)])
                keys = f"(SELECT value FROM json_each(fm_calc_keys({args})))"
            else:
                args = ", ".join(_sql_text(x) for x in (stable, sfi.name, sfi.type, dfi.type, c.op))
                keys = f"(SELECT value FROM json_each(fm_global_keys({args})))"
            if c.op == "=":
                return f"{col} IN {keys}"
            return f"{col} {SQL_OP[MIRROR[c.op]]} {keys}"
        expr = f"{src}.{qident(sfi.name)}"
        if sfi.type != dfi.type:
            expr = f"fm_key({expr}, '{sfi.type}', '{dfi.type}')"
        return f"{col} {SQL_OP[MIRROR[c.op]]} {expr}"

    def _order(self, hop: Hop, alias: str) -> str:
        """ORDER BY of the destination: the relationship's sort order for that side, then creation order."""
        return self._order_by(hop.dst, hop.sort, alias)

    def _order_by(self, occ: str, text: str, alias: str) -> str:
        """ORDER BY of records of ``occ`` in the sort order ``text`` (fields of ``occ``), then creation order."""
        parts = []
        if text:
            ti = self.table_of(occ)
            for _, name, asc in F.parse_sort_order(text):
                fi = ti.field(name)
                if fi is None or fi.is_global:
                    continue
                coll = {"number": " COLLATE fmnum", "text": " COLLATE fmtext"}.get(fi.type, "")
                parts.append(f"{alias}.{qident(fi.name)}{coll} {'ASC' if asc else 'DESC NULLS LAST'}")
        parts.append(f"{alias}.rowid")
        return ", ".join(parts)

    def _join_tail(self, hops: list[Hop], first_alias: int) -> tuple[str, str]:
        """``FROM T1 t1 JOIN T2 t2 ON …`` for ``hops`` (aliases from ``first_alias``) and the last alias."""
        sql = ""
        for i, h in enumerate(hops):
            a, b = f"t{first_alias + i - 1}", f"t{first_alias + i}"
            tb = self.table_of(h.dst).name
            if i == 0:
                sql += f" FROM {qident(tb)} {b}"
                continue
            conds = [self._crit_sql(h, c, a, b) for c in h.criteria if c.op != "×"]
            sql += f" JOIN {qident(tb)} {b} ON " + (" AND ".join(conds) or "1")
        return sql, f"t{first_alias + len(hops) - 1}"

    def _first_hop_where(self, hop: Hop, values: dict) -> tuple[list[str], list] | None:
        """Conditions on the first destination (alias ``t1``) from the source record's raw ``values``
        (``None``: an empty match field, or one with no index value in the destination's type, which matches
        nothing).  A return-separated value matches each of its lines (a multi-key field)."""
        where, params = [], []
        for c in hop.criteria:
            if c.op == "×":
                continue
            sfi, dfi = self._hop_fields(hop, c)
            keys = self.match_keys(values.get(c.left.casefold()), sfi, dfi, c.op)
            if not keys:
                return None
            col = f"t1.{qident(dfi.name)}{' COLLATE fmtext' if dfi.type == 'text' else ''}"
            if len(keys) > 1:
                where.append(f"{col} IN ({','.join('?' * len(keys))})")
            else:
                where.append(f"{col} {SQL_OP[MIRROR[c.op]]} ?")
            params += keys
        return where, params

    def source_values(self, occ: str, rid: int, names=()) -> dict:
        """The raw values of a record by casefolded name, globals included, and the unstored calculations
        among ``names`` worked out for it (a global or an unstored calculation may be a match field on the
        side the relationship is followed from)."""
        ti = self.table_of(occ)
        row = dict(self.row(ti.name, rid) or {})
        for fi in ti.fields:
            if fi.is_global:
                row[fi.name.casefold()] = self.global_value(ti.name, fi.name)
        for name in names:
            fi = ti.field(name)
            if fi is not None and self.unstored_calculation(ti.name, fi.name) is not None:
                row[fi.name.casefold()] = self.match_value(ti, fi, rid)
        return row

    def first_related(self, hops: list[Hop], rid: int) -> int | None:
        """The first related record, its row kept in the row cache (the read that follows needs no query)."""
        plan = self._plan(hops, "rowid, *", 1)
        cur = self.related_query(hops, rid, "rowid, *", 1, cursor=True, plan=plan)
        if cur is None:
            return None
        row = cur.fetchone()
        if row is None:
            return None
        names = plan[5]
        if not names:
            names.extend(d[0].casefold() for d in cur.description[1:])
        if len(self._row_cache) > 256:
            self._row_cache.clear()
        self._row_cache[(plan[4], row[0])] = dict(zip(names, row[1:]))
        return row[0]

    def _plan(self, hops: list[Hop], cols: str, limit: int | None, aggregate: bool = False):
        """What a query of ``hops`` needs, worked out once per path (kept with the graph's cached paths):
        the source table, its match fields whose values are not in the row (globals, unstored calculations),
        the first hop's criteria and the SQL for single-valued keys."""
        # The hops live in the same cache as the plans (both go with invalidate_graph), so their ids are stable.
        key = ("plan", tuple(map(id, hops)), cols, limit, aggregate)
        plan = self._paths.get(key)
        if plan is None:
            src = self.table_of(hops[0].src)
            h0 = hops[0]
            crit = [(c.left.casefold(), *self._hop_fields(h0, c), c.op) for c in h0.criteria if c.op != "×"]
            where = [f"t1.{qident(d.name)}{' COLLATE fmtext' if d.type == 'text' else ''} {SQL_OP[MIRROR[op]]} ?"
                     for _, _, d, op in crit]
            # Keys that cannot be multi-key fields (not text, not global, not calculated when read) are joined
            # in SQL: one query from the source record's rowid, which SQLite answers from the rowid and the match
            # field's index.
            joined = all((fi := src.field(c.left)) is not None and fi.type != "text" and self.indexable(src.name, fi)
                         for c in h0.criteria)
            sql = None if self.broken(hops) else \
                self._query_sql(hops, cols, limit, ["t0.rowid = ?"] if joined else where, joined, aggregate)
            virtual = [sfi.name for _, sfi, _, _ in crit if not self.indexable(src.name, sfi)]
            plan = (src.name, virtual, None if joined else crit, sql,
                    self.table_of(hops[-1].dst).name, [])  # [] : the result's column names, once known
            self._paths[key] = plan
        return plan

    def _query_sql(self, hops: list[Hop], cols: str, limit: int | None, where: list[str],
                   join_source: bool = False, aggregate: bool = False) -> str:
        """The SELECT of ``cols`` (columns of the last occurrence; with ``aggregate``, one expression over its
        alias ``{t}`` and no order) from the records the hops reach."""
        tail, last = self._join_tail(hops, 1)
        if join_source:
            h = hops[0]
            tb = self.table_of(h.dst).name
            conds = [self._crit_sql(h, c, "t0", "t1") for c in h.criteria if c.op != "×"]
            tail = tail.replace(f" FROM {qident(tb)} t1", f" FROM {qident(self.table_of(h.src).name)} t0 JOIN "
                                f"{qident(tb)} t1 ON " + (" AND ".join(conds) or "1"), 1)
        lim = f" LIMIT {int(limit)}" if limit else ""
        wsql = (" WHERE " + " AND ".join(where)) if where else ""
        if aggregate:
            if len(hops) == 1:
                return f"SELECT {cols.format(t=last)}{tail}{wsql}"
            tn = qident(self.table_of(hops[-1].dst).name)
            return f"SELECT {cols.format(t='o')} FROM {tn} o WHERE o.rowid IN (SELECT {last}.rowid{tail}{wsql})"
        if len(hops) == 1:
            return (f"SELECT {', '.join(f'{last}.{c}' for c in cols.split(', '))}{tail}{wsql} "
                    f"ORDER BY {self._order(hops[-1], last)}{lim}")
        tn = qident(self.table_of(hops[-1].dst).name)
        return (f"SELECT {', '.join(f'o.{c}' for c in cols.split(', '))} FROM {tn} o WHERE o.rowid IN "
                f"(SELECT {last}.rowid{tail}{wsql}) ORDER BY {self._order(hops[-1], 'o')}{lim}")

    def related_query(self, hops: list[Hop], rid: int, cols: str = "rowid", limit: int | None = None,
                      cursor: bool = False, plan: tuple | None = None, aggregate: bool = False):
        """Rows (``cols`` of the last occurrence) of the records related to record ``rid`` of the path's first
        occurrence, in the last relationship's sort order."""
        table, virtual, crit, sql, _, _ = plan or self._plan(hops, cols, limit, aggregate)
        if sql is None:  # a match field without an index on the far side: the relationship finds nothing
            return None if cursor else []
        if crit is None:
            cur = self.conn.execute(sql, (rid,))
            return cur if cursor else cur.fetchall()
        row = self.row(table, rid) or {}
        if virtual:  # a global's value, an unstored calculation worked out for this record
            ti = self.tables()[table.casefold()]
            row = dict(row)
            for name in virtual:
                row[name.casefold()] = self.match_value(ti, ti.field(name), rid)
        params = [row.get(k) for k, _, _, _ in crit]
        if all(isinstance(v, (int, float)) or (isinstance(v, str) and v and "\r" not in v and "\n" not in v)
               for v in params):
            params = [v if sfi.type == dfi.type else index_key(v, sfi.type, dfi.type)
                      for v, (_, sfi, dfi, _) in zip(params, crit)]
            if None in params:  # no index value in the other field's type: nothing matches
                return None if cursor else []
            cur = self.conn.execute(sql, params)
            return cur if cursor else cur.fetchall()
        cond = self._first_hop_where(hops[0], row)  # an empty key, or a multi-key field
        if cond is None:
            return None if cursor else []
        where, params = cond
        sql = self._query_sql(hops, cols, limit, where, aggregate=aggregate)
        cur = self.conn.execute(sql, params)
        return cur if cursor else cur.fetchall()

    def related_ids(self, hops: list[Hop], rid: int, limit: int | None = None) -> list[int]:
        return [r for (r,) in self.related_query(hops, rid, "rowid", limit)]

    def related_ids_for_set(self, hops: list[Hop], ids: list[int]) -> list[int]:
        """The records related to any of ``ids`` (Go to Related Record [ Match all records in the found set ]):
        one query, whatever the size of the set."""
        if self.broken(hops):
            return []
        src = qident(self.table_of(hops[0].src).name)
        tail, last = self._join_tail(hops, 1)
        h = hops[0]
        tb = self.table_of(h.dst).name
        conds = [self._crit_sql(h, c, "t0", "t1") for c in h.criteria if c.op != "×"]
        tail = tail.replace(f" FROM {qident(tb)} t1", f" FROM {src} t0 JOIN {qident(tb)} t1 ON "
                            + (" AND ".join(conds) or "1"), 1)
        tn = qident(self.table_of(hops[-1].dst).name)
        sql = (f"SELECT o.rowid FROM {tn} o WHERE o.rowid IN (SELECT {last}.rowid{tail} WHERE t0.rowid IN "
               f"(SELECT value FROM json_each(?))) ORDER BY {self._order(hops[-1], 'o')}")
        return [r for (r,) in self.conn.execute(sql, (json.dumps(list(ids)),))]

    # -- the context of a read or a write -----------------------------------------------------------------
    def _active_overrides(self) -> dict[str, int | None]:
        """Records that stand for an occurrence just now: the active portal row, and a loop over related
        records (:meth:`related_row`)."""
        out = dict(self._overrides)
        pr = self.portal_row
        if pr is not None:
            base_occ = self.current_occurrence()
            ctx = self.context(base_occ) if base_occ else None
            if ctx is None or (self.window.layout or "").casefold() != pr.layout.casefold() \
                    or ctx.current() != pr.base:
                self.portal_row = None  # another layout or record: the portal is no longer active
            else:
                if pr.rows is None:
                    pr.rows = self.portal_records(pr.portal)
                ids = pr.rows
                out[pr.portal.occurrence.casefold()] = ids[pr.row - 1] if pr.row <= len(ids) else None
        return out

    def origin(self) -> tuple[str | None, int | None, bool]:
        """Where related fields are followed from: ``(occurrence, record, in a field calculation)``.  A field
        calculation (a calculation field, an auto-enter or validation calculation, a calculated match field)
        starts from its own record, through the occurrence it is evaluated from (its "context", by default the
        one named like its table: FileMaker evaluates it from there, not from the layout's); anything else
        from the current layout's record."""
        if self._calc_scope:
            _ti, rid, occ = self._calc_scope[-1]
            return occ, rid, True
        base = self.current_occurrence()
        return base, (self.context(base).current() if base is not None else None), False

    def record_for(self, occ: str, create: bool = False):
        """The record of ``occ`` that a field read (or, with ``create``, a write) in the current context means:
        a record id, or ``None`` when there is none (also when ``occ`` is not related to the current layout's
        occurrence, as in FileMaker)."""
        key = occ.casefold()
        base, origin_rid, in_calc = self.origin()
        over = self._active_overrides() if (self._overrides or self.portal_row) and not in_calc else {}
        if key in over and not (over[key] is None and create):
            return over[key]
        if base is None or key == base.casefold():
            return origin_rid if in_calc else self.context(occ).current()
        hops = self.graph_path(base, occ)
        if not hops:  # not related to the layout's occurrence: FileMaker shows nothing
            return None
        start, rid = 0, origin_rid
        for i, h in enumerate(hops):
            if h.dst.casefold() in over and over[h.dst.casefold()] is not None:
                start, rid = i + 1, over[h.dst.casefold()]
        if start == len(hops):
            return rid
        if rid is None:
            return None
        first = self.first_related(hops[start:], rid)
        if first is not None and not (create and key in over):
            return first
        if not create:
            return None
        for h in hops[start:]:
            if h.dst.casefold() == key and key in over:  # the portal's empty last row
                rid = self.create_related(h, rid)
                self._portal_created(rid)
                continue
            nxt = self.related_ids([h], rid, limit=1)
            rid = nxt[0] if nxt else self.create_related(h, rid)
        return rid

    def related_value(self, occ: str, fname: str):
        """The stored value of ``occ::fname`` in the first related record, read by one query of that column
        only (``None``: no related record, or an occurrence not related to the layout's), or :data:`UNRELATED`
        where :meth:`record_for` decides (the layout's own occurrence, a portal row or a loop over related
        records)."""
        if (self._overrides or self.portal_row is not None) and not self._calc_scope:
            return UNRELATED
        base, rid, _ = self.origin()
        if base is None or occ.casefold() == base.casefold():
            return UNRELATED
        hops = self.graph_path(base, occ)
        if not hops:
            return None  # an occurrence not related to the layout's: no record, an empty value
        if rid is None:
            return None
        rows = self.related_query(hops, rid, qident(fname), 1)
        return rows[0][0] if rows else None

    def create_related(self, hop: Hop, src_rid: int) -> int:
        """A new record of ``hop.dst`` whose match fields take the source record's values (FileMaker's "allow
        creation of records in this table via this relationship"); part of the open record's transaction."""
        if not hop.allows_creation:
            raise DataError(f"there is no related record in “{hop.dst}”, and the relationship from “{hop.src}” does "
                            "not allow creating one", code=E_RECORD_MISSING)
        values = self.source_values(hop.src, src_rid, [c.left for c in hop.criteria])
        cols, params = [], []
        dtable = self.table_of(hop.dst).name
        for c in hop.criteria:
            sfi, dfi = self._hop_fields(hop, c)
            if dfi.is_global:
                raise DataError(f"there is no related record in “{hop.dst}”: its match field {hop.dst}::{dfi.name} "
                                f"is a global field, so the relationship does not work from “{hop.src}”",
                                code=E_RECORD_MISSING)
            dopts = self.field_options(dtable, dfi.name) if self._field_options != {} else None
            if dopts is not None and dopts.kind != "normal":
                # FileMaker cannot put the key into a field whose value is calculated.
                raise DataError(f"there is no related record in “{hop.dst}”, and none can be created: its match "
                                f"field {hop.dst}::{dfi.name} is a {dopts.kind} field, whose value cannot be set",
                                code=E_RECORD_MISSING)
            v = values.get(c.left.casefold())
            key = index_key(v, sfi.type, dfi.type) if v is not None and v != "" else None
            if key is None:
                raise DataError(f"a related record in “{hop.dst}” cannot be created: the match field "
                                f"{hop.src}::{c.left} is empty" + ("" if v is None or v == "" else
                                                                   f" as a {dfi.type} ({hop.dst}::{dfi.name})"),
                                code=E_VALID_VALUE_REQUIRED)
            cols.append(qident(c.right))
            params.append(key)
        ti = self.table_of(hop.dst)
        self.begin()
        try:
            cur = self.conn.execute(f"INSERT INTO {qident(ti.name)} ({', '.join(cols)}) VALUES "
                                    f"({', '.join('?' * len(cols))})", params)
        except sqlite3.IntegrityError as e:
            raise DataError(f"a related record in “{hop.dst}” cannot be created: {e}",
                            code=E_VALID_VALUE_REQUIRED) from None
        self._new_records.append((ti.name, cur.lastrowid))
        if self._field_options != {}:
            self.after_create(ti.name, cur.lastrowid)  # serials, stamps, lookups of the new related record
        return cur.lastrowid

    @contextmanager
    def related_row(self, occurrence: str, rid: int):
        """Let ``occurrence`` stand for record ``rid`` while a calculation is evaluated (a loop over related
        records)."""
        key = occurrence.casefold()
        saved = self._overrides.get(key, UNRELATED)
        self._overrides[key] = rid
        try:
            yield
        finally:
            if saved is UNRELATED:
                self._overrides.pop(key, None)
            else:
                self._overrides[key] = saved

    def _related_from(self, occ: str):
        """``(hops, record)``: where the related records of ``occ`` are found from in the current context (an
        active portal row on the way starts there); ``None`` when ``occ`` is the layout's own occurrence or is
        not related to it."""
        base, rid, in_calc = self.origin()
        if base is None or occ.casefold() == base.casefold():
            return None
        hops = self.graph_path(base, occ)
        if not hops:
            return None
        over = self._active_overrides() if (self._overrides or self.portal_row) and not in_calc else {}
        start = 0
        for i, h in enumerate(hops[:-1]):  # an aggregate over the portal's own occurrence counts every row
            if over.get(h.dst.casefold()) is not None:
                start, rid = i + 1, over[h.dst.casefold()]
        return hops[start:], rid

    def related_records(self, occurrence: str) -> list[int] | None:
        """Every record of ``occurrence`` related to the current record (``None``: it is the layout's own
        occurrence or is not related to it)."""
        where = self._related_from(occurrence)
        if where is None:
            return None
        hops, rid = where
        return self.related_ids(hops, rid) if rid is not None else []

    def related_values(self, f, table: str | None, name: str) -> tuple | None:
        """The values of ``table::name`` in every related record, in the relationship's order, for aggregates
        (``Sum``, ``Count``, ``List``…) and ``GetNthRecord``; ``None`` when the field is not a related one."""
        if not table:
            return None
        occ, ti, fi = self.resolve_field(table, name)
        if fi.is_global or (self.window.mode == "find" and not self._calc_scope):
            return None
        where = self._related_from(occ)
        if where is None:
            return None
        hops, rid = where
        if rid is None:
            return ()
        calc = self.unstored_calculation(ti.name, fi.name)
        if calc is not None:  # worked out for each related record (its column holds nothing)
            return tuple(self.evaluate_for_record(ti, r, calc.calc, calc.context) for r in self.related_ids(hops, rid))
        rows = self.related_query(hops, rid, qident(fi.name))
        if fi.type == "number":  # integers of a numeric column need no parsing (the common key-and-amount case)
            return tuple(Decimal(v) if type(v) is int else from_storage(v, "number") for (v,) in rows)
        return tuple(from_storage(v, fi.type) for (v,) in rows)

    def related_aggregate(self, f, table: str | None, name: str, kind: str):
        """``Sum`` (``kind`` "sum") or ``Count`` ("count") of a related field computed by SQLite, when that gives
        exactly FileMaker's answer: Count always (non-empty values), Sum when every value is a SQLite integer
        (exact); ``None``: let the function add the values itself (decimal text, reals, text)."""
        if not table:
            return None
        occ, ti, fi = self.resolve_field(table, name)
        if fi.is_global or (self.window.mode == "find" and not self._calc_scope) \
                or self.unstored_calculation(ti.name, fi.name) is not None:
            return None
        where = self._related_from(occ)
        if where is None:
            return None
        hops, rid = where
        if rid is None:
            return Decimal(0)
        col = "{t}." + qident(fi.name)
        if kind == "count":
            expr = f"count(NULLIF({col}, ''))"
        elif kind == "sum" and fi.type == "number":
            expr = f"sum({col}), count({col}) - count(CASE WHEN typeof({col}) = 'integer' THEN 1 END)"
        else:
            return None
        rows = self.related_query(hops, rid, expr, aggregate=True)
        if not rows:
            return Decimal(0)
        if kind == "count":
            return Decimal(rows[0][0])
        total, others = rows[0]
        return Decimal(total or 0) if not others else None

    def lookup_next(self, f, table: str, name: str, higher: bool):
        """``LookupNext``: the first related record's value, else the value in the record whose match field is
        the next lower (or higher) than the source's (a one-hop relationship with one "=" criterion)."""
        occ, ti, fi = self.resolve_field(table, name)
        base, rid, _ = self.origin()
        hops = self.graph_path(base, occ) if base else None
        if not hops:
            raise DataError(f"“{occ}” is not related to “{base}”", code=E_RELATIONSHIP_MISSING)
        if rid is None:
            return ""
        ids = self.related_ids(hops, rid, limit=1)
        if not ids:
            nxt = self.next_match(hops, rid, higher)
            if nxt is None:
                return ""
            ids = [nxt]
        row = self.row(ti.name, ids[0]) or {}
        return from_storage(row.get(fi.name.casefold()), fi.type)

    def next_match(self, hops: list[Hop], rid: int, higher: bool) -> int | None:
        """The record whose match field is the next lower (or higher) than record ``rid``'s, for LookupNext and
        a lookup's "copy next lower / higher value": a one-hop relationship with one "=" criterion; ties
        go to the first created."""
        h = hops[-1]
        if len(hops) != 1 or len(h.criteria) != 1 or h.criteria[0].op != "=":
            return None
        c = h.criteria[0]
        sfi, dfi = self._hop_fields(h, c)
        if not self.indexable(self.table_of(h.dst).name, dfi):
            return None
        v = self.source_values(h.src, rid, [c.left]).get(c.left.casefold())
        v = index_key(v, sfi.type, dfi.type) if v is not None and v != "" else None
        if v is None:
            return None
        ti = self.table_of(h.dst)
        col = qident(c.right) + self._coll(ti.name, c.right)
        op, order = (">", "ASC") if higher else ("<", "DESC")
        r = self.conn.execute(f"SELECT rowid FROM {qident(ti.name)} WHERE {col} {op} ? ORDER BY {col} {order}, "
                              "rowid LIMIT 1", (v,)).fetchone()
        return r[0] if r else None

    # -- finds on related fields ------------------------------------------------------------------------
    def criterion_key(self, occ: str, base: str | None = None):
        """Where a find-mode criterion on a field of ``occ`` belongs in a request: ``None`` for the layout's own
        occurrence (``base``, default the window's), the related occurrence's name for a related field, and
        ``False`` for an unrelated occurrence (whose field is then an ordinary field of its own record)."""
        base = base or self.window.occurrence or ""
        if occ.casefold() == base.casefold():
            return None
        return self.occurrence_name(occ) if base and self.graph_path(base, occ) else False

    def related_match_ids(self, base: str, occ: str, name: str, criterion: str) -> set[int]:
        """Records of ``base`` with at least one related record of ``occ`` whose ``name`` matches the criterion
        (FileMaker's find on a related field): one query joined through the path."""
        hops = self.graph_path(base, occ)
        ti = self.table_of(occ)
        fi = ti.field(name)
        if not hops or fi is None:
            raise DataError(f"the find uses “{occ}::{name}”, which is not a field related to “{base}”",
                            code=E_RELATIONSHIP_MISSING)
        from .fastfind import numeric_columns, sql_criterion
        if self.broken(hops):
            return set()
        tail, last = self._join_tail(hops, 1)
        h = hops[0]
        tb = self.table_of(h.dst).name
        conds = [self._crit_sql(h, c, "t0", "t1") for c in h.criteria if c.op != "×"]
        tail = tail.replace(f" FROM {qident(tb)} t1", f" FROM {qident(self.table_of(base).name)} t0 JOIN "
                            f"{qident(tb)} t1 ON " + (" AND ".join(conds) or "1"), 1)
        fast = sql_criterion(fi.name, criterion) if fi.type == "number" and \
            fi.name.casefold() in numeric_columns(self.conn, ti.name) else None
        if self.computed_field(ti, fi):  # an unstored calculation: the related records where it matches
            matched = self.computed_match_ids(ti, fi, criterion.strip())
            cond, params = f"{last}.rowid IN (SELECT value FROM json_each(?))", [json.dumps(sorted(matched))]
        elif fast is not None:
            cond, params = fast[0].replace(qident(fi.name), f"{last}.{qident(fi.name)}"), fast[1]
        else:
            cond, params = f"fm_match({last}.{qident(fi.name)}, ?, ?)", [fi.type, criterion.strip()]
        return {r for (r,) in self.conn.execute(f"SELECT DISTINCT t0.rowid{tail} WHERE {cond}", params)}

    # -- Go to Related Record -----------------------------------------------------------------------------
    def go_to_related(self, occurrence: str, layout: str | None, show_only: bool, all_found: bool) -> int:
        """Go to Related Record: the related records of ``occurrence`` on ``layout`` (default: the current
        layout when it shows the same table, else the first layout of ``occurrence``).  The count of related records comes back;
        with none, nothing changes (the caller reports error 101)."""
        base = self.current_occurrence()
        target = self.occurrence_name(occurrence)
        if target is None:
            raise DataError(f"there is no table occurrence named “{occurrence}”", code=E_RELATIONSHIP_MISSING)
        pr_ids = None
        if self.portal_row is not None and self.portal_row.portal.occurrence.casefold() == target.casefold() \
                and not all_found:
            over = self._active_overrides()
            rid = over.get(target.casefold())
            pr_ids = [rid] if rid is not None else None  # from a portal row: that row's record
        self.commit()
        if pr_ids is not None:
            ids = pr_ids
        else:
            hops = self.graph_path(base, target) if base else None
            if not hops:
                raise DataError(f"“{target}” is not related to “{base}”", code=E_RELATIONSHIP_MISSING)
            ctx = self.context(base)
            if all_found:
                ids = self.related_ids_for_set(hops, list(ctx.found)) if ctx.found else []
            else:
                rid = ctx.current()
                ids = self.related_ids(hops, rid) if rid is not None else []
        if not ids:
            return 0
        ti = self.table_of(target)
        lay = None
        if layout:
            lay = self.layouts().get(layout.casefold())
            if lay is None:
                from ..errors import E_LAYOUT_MISSING
                raise DataError(f"there is no layout named “{layout}”", code=E_LAYOUT_MISSING)
        else:
            cur = self.layouts().get((self.window.layout or "").casefold())
            if cur is not None and self.table_of(cur[1]) is ti:
                lay = cur
            else:
                lay = next((v for v in self.layouts().values() if v[1].casefold() == target.casefold()), None) \
                    or next((v for v in self.layouts().values() if self.table_of(v[1]) is ti), None)
        if lay is None or self.table_of(lay[1]) is not ti:
            from ..errors import E_LAYOUT_MISSING
            raise DataError(f"no layout shows the table “{ti.name}” of “{target}”: give one with Using layout",
                            code=E_LAYOUT_MISSING)
        ctx = self.contexts.get(lay[1].casefold())
        if ctx is None:  # made here, so that the layout's whole table is never listed only to be replaced
            ctx = self.contexts[lay[1].casefold()] = Context(self.occurrence_name(lay[1]) or lay[1], ti.name)
        if show_only:
            ctx.found, ctx.sort = list(ids), None
            ctx.index = 0
        else:
            if ctx.found is None or ids[0] not in ctx.found:
                ctx.found = self.all_ids(ti.name)
            ctx.index = ctx.found.index(ids[0])
        self.go_to_layout(lay[0])
        return len(ids)

    # -- deleting -----------------------------------------------------------------------------------------
    def delete_ids(self, table: str, ids: list[int]) -> None:
        """Delete records, and the records related to them wherever a relationship says "delete related
        records in this table when a record is deleted in the other table" (recursively, as FileMaker)."""
        todo = [(table, list(ids))]
        seen: dict[str, set[int]] = {}
        order: list[tuple[str, list[int]]] = []
        while todo:
            t, batch = todo.pop()
            new = [r for r in batch if r not in seen.setdefault(t.casefold(), set())]
            if not new:
                continue
            seen[t.casefold()].update(new)
            order.append((t, new))
            for r in self.relationships():
                for src, dst in ((r.left, r.right), (r.right, r.left)):
                    if r.delete.get(dst.casefold()) and self.table_of(src).name.casefold() == t.casefold():
                        hops = self.graph_path(src, dst)
                        if hops:
                            rel = self.related_ids_for_set(hops, new)
                            if rel:
                                todo.append((self.table_of(dst).name, rel))
        for t, batch in order:
            super().delete_ids(t, batch)

    # -- portals ------------------------------------------------------------------------------------------
    def portal_records(self, portal: Portal) -> list[int]:
        """The rows of a portal: the records of its occurrence related to the layout's current record, in the
        portal's sort order (else the relationship's), kept where its filter is true."""
        base = self.current_occurrence()
        hops = self.graph_path(base, portal.occurrence) if base else None
        rid = self.context(base).current() if base else None
        if not hops or rid is None:
            return []
        ids = self.related_ids(hops, rid)
        if portal.sort and len(ids) > 1:
            ti = self.table_of(portal.occurrence)
            order = self._order_by(portal.occurrence, portal.sort, "o")
            ids = [r for (r,) in self.conn.execute(
                f"SELECT o.rowid FROM {qident(ti.name)} o WHERE o.rowid IN (SELECT value FROM json_each(?)) "
                f"ORDER BY {order}", (json.dumps(ids),))]
        if portal.filter and ids:
            ids = [r for r in ids if self._portal_filter_true(portal, r)]
        return ids

    def _portal_filter_true(self, portal: Portal, rid: int) -> bool:
        """The portal's filter calculation, evaluated with the related record ``rid`` standing for the portal's
        occurrence (the layout's record stays current), as FileMaker evaluates it per related record."""
        from ..calc.values import to_bool
        from .fielddefs import CalcFrame
        session = self._session
        if session is None:
            raise DataError("a filtered portal needs a session to evaluate its filter: run a step first, or "
                            "hand one in with db.attach(interpreter.session)", code=E_RELATIONSHIP_MISSING)
        calc = session.compile_runtime_calc(portal.filter, frozenset())
        saved, self.portal_row = self.portal_row, None  # the filter sees the record, not the active row
        try:
            with self.related_row(portal.occurrence, rid):
                return to_bool(calc.evaluate(CalcFrame(session)))
        finally:
            self.portal_row = saved

    def refresh_portal(self, name: str | None = None) -> None:
        """Refresh Portal: the portal's rows are worked out again (its filter and sort, e.g. after a global its
        filter uses changed); the active row follows its record, and is left when the record is no longer
        shown."""
        p = self.portal_for(name or None)
        pr = self._current_portal_row()
        if pr is not None and pr.portal == p:
            rid = self._active_overrides().get(p.occurrence.casefold())
            pr.rows = self.portal_records(p)
            if rid in pr.rows:
                pr.row = pr.rows.index(rid) + 1
            elif rid is not None:
                self.portal_row = None

    def portal_for(self, name: str | None = None) -> Portal:
        """The portal a portal step works on: the one named, else the active one, else the layout's first."""
        ps = self.portals(self.window.layout or "")
        if name:
            for p in ps:
                if p.name.casefold() == name.casefold():
                    return p
            raise DataError(f"the layout “{self.window.layout}” has no portal named “{name}”",
                            code=E_RELATIONSHIP_MISSING)
        if self._current_portal_row() is not None:
            return self.portal_row.portal
        active = self.active_object_name()
        for p in ps if active else ():
            if p.name.casefold() == active.casefold():
                return p  # Go to Object made it the active portal
        if not ps:
            raise DataError(f"the layout “{self.window.layout}” has no portal (add one with fmscript db portal)",
                            code=E_RELATIONSHIP_MISSING)
        return ps[0]

    def go_to_portal_row(self, how: str, n: int | None = None, portal: str | None = None) -> bool:
        """Go to Portal Row: ``how`` is First, Last, Previous, Next or a row number ``n``.  Last goes to the empty
        row when the relationship allows creation (Set Field there creates a related record); Next stops at the
        last related record.  ``False``: no such row (the caller sets error 101)."""
        p = self.portal_for(portal)
        self.commit()
        rows = self.portal_records(p)
        hops = self.graph_path(self.current_occurrence(), p.occurrence)
        creation = bool(hops) and all(h.allows_creation for h in hops)
        count = len(rows) + (1 if creation else 0)
        cur = self.portal_row.row if self.portal_row is not None and self.portal_row.portal == p else 0
        target = {"First": 1, "Last": count, "Previous": cur - 1, "Next": cur + 1}.get(how, n or 0)
        # Next and Previous move among the related records only: a loop of Go to Portal Row [ Next ; Exit
        # after last ] ends after the last record's row, never entering the empty creation row (Claris: "exits
        # ... when it reaches the last portal row").
        if not 1 <= target <= (len(rows) if how == "Next" else count):
            return False
        base = self.context().current()
        self.portal_row = PortalRow(p, self.window.layout or "", base, target, rows)
        return True

    # -- Go to Object -------------------------------------------------------------------------------------
    def go_to_object(self, name: str) -> None:
        """Go to Object: make the named object of the current layout active.  The layout objects fmscript knows
        are its portals (named by ``fmscript db portal --name``): the one gone to is the portal that Go to
        Portal Row, Delete Portal Row and Refresh Portal then act on.  Another name is FileMaker's error 116."""
        layout = self.window.layout or ""
        portal = next((p for p in self.portals(layout) if p.name.casefold() == name.casefold()), None)
        if portal is None:
            names = [p.name for p in self.portals(layout)]
            raise DataError(f"the layout “{layout}” has no object named “{name}”"
                            + (f" (its objects: {', '.join(names)})" if names else
                               " (the layout objects fmscript knows are portals: fmscript db portal … --name NAME)"),
                            code=E_LAYOUT_OBJECT_MISSING)
        pr = self._current_portal_row()
        if pr is not None and pr.portal != portal:
            self.portal_row = None  # the other portal's row is no longer active
        self._active_object = (layout.casefold(), self.context().current(), portal.name)

    def active_object_name(self) -> str:
        """``Get ( ActiveLayoutObjectName )``: the object Go to Object made active, else the portal of the
        active portal row, else empty; going to another layout or record leaves it, as it leaves a portal row."""
        pr = self._current_portal_row()
        ao = self._active_object
        if ao is not None:
            layout, rid, name = ao
            if layout == (self.window.layout or "").casefold() and rid == self.context().current():
                return name
            self._active_object = None
        return pr.portal.name if pr is not None else ""

    def _current_portal_row(self) -> PortalRow | None:
        """The active portal row, dropped first when the window has moved to another layout or record."""
        if self.portal_row is not None:
            self._active_overrides()
        return self.portal_row

    def _portal_created(self, rid: int) -> None:
        pr = self.portal_row
        if pr is not None:
            rows = self.portal_records(pr.portal)
            if rid not in rows:  # filtered out: it stays in view until the portal is refreshed, as in FileMaker
                rows.append(rid)
            pr.rows = rows
            pr.row = rows.index(rid) + 1

    def portal_row_number(self) -> int:
        """``Get ( PortalRowNumber )``: the active portal row (0 when no portal row is active)."""
        pr = self._current_portal_row()
        return pr.row if pr is not None else 0

    def delete_portal_row(self) -> bool:
        """Delete Portal Row: deletes the active row's related record at once (``False``: no row is active);
        refused with error 200 when the portal does not allow deletion of portal records."""
        pr = self.portal_row
        rid = self._active_overrides().get(pr.portal.occurrence.casefold()) if pr is not None else None
        if pr is None or self.portal_row is None or rid is None:
            return False
        if not pr.portal.allow_delete:
            raise DataError(f"the portal “{pr.portal.name}” on the layout “{pr.layout}” does not allow deletion of "
                            "portal records (fmscript db portal … --allow-deletion)", code=E_RECORD_ACCESS_DENIED)
        self.delete_ids(self.table_of(pr.portal.occurrence).name, [rid])
        self.portal_row = None
        return True
