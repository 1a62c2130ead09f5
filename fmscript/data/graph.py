"""The relationship graph: table occurrences over base tables, relationships between them (one or more match
criteria, a sort and the creation / deletion options of each side), and the portals of layouts.

Kept in the file's ``fmscript_`` tables (:data:`GRAPH_SQL`, versioned by ``graph_version`` in
``fmscript_meta`` and created or migrated on first use), so that one file carries its graph.  As in
FileMaker the graph has no cycles: between two occurrences there is at most one path, which is what a
related field follows (:mod:`.related`).  Match fields on both sides get a SQLite index, so that following a
relationship is an indexed query (a global or unstored calculation match field has none: the relationship
works from its side).
"""
from __future__ import annotations

import sqlite3
from collections import deque
from dataclasses import dataclass, field

from ..errors import (E_FIELD_MISSING, E_INDEX_MISSING, E_INVALID_PARAMETER, E_LAYOUT_MISSING,
                      E_RELATIONSHIP_MISSING, E_TABLE_MISSING, E_VALUE_NOT_UNIQUE, DataError)
from .schema import INTERNAL_PREFIX, did_you_mean, qident

GRAPH_VERSION = 2  # 2: portals gained a filter, a sort order and "allow deletion"

GRAPH_SQL = """
CREATE TABLE IF NOT EXISTS fmscript_relationships (id INTEGER PRIMARY KEY,
    left_occurrence TEXT NOT NULL, right_occurrence TEXT NOT NULL,
    left_create INTEGER NOT NULL DEFAULT 0, right_create INTEGER NOT NULL DEFAULT 0,
    left_delete INTEGER NOT NULL DEFAULT 0, right_delete INTEGER NOT NULL DEFAULT 0,
    left_sort TEXT NOT NULL DEFAULT '', right_sort TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS fmscript_criteria (relationship INTEGER NOT NULL, position INTEGER NOT NULL,
    left_field TEXT NOT NULL, op TEXT NOT NULL, right_field TEXT NOT NULL, PRIMARY KEY (relationship, position));
CREATE TABLE IF NOT EXISTS fmscript_portals (layout TEXT NOT NULL, object_name TEXT NOT NULL,
    occurrence TEXT NOT NULL, position INTEGER NOT NULL DEFAULT 0, filter TEXT NOT NULL DEFAULT '',
    sort TEXT NOT NULL DEFAULT '', allow_delete INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (layout, object_name))
"""

#: Columns version 2 added to ``fmscript_portals`` (an older file's portals keep deleting: that was the rule).
PORTAL_COLUMNS_V2 = (("filter", "TEXT NOT NULL DEFAULT ''"), ("sort", "TEXT NOT NULL DEFAULT ''"),
                     ("allow_delete", "INTEGER NOT NULL DEFAULT 1"))

#: FileMaker's relational operators, with the ASCII spellings accepted for them.
OPERATORS = {"=": "=", "≠": "≠", "<>": "≠", "!=": "≠", "<": "<", "≤": "≤", "<=": "≤", ">": ">", "≥": "≥",
             ">=": "≥", "×": "×", "x": "×", "*": "×"}
#: ``a op b`` ⇔ ``b MIRROR[op] a``.
MIRROR = {"=": "=", "≠": "≠", "<": ">", "≤": "≥", ">": "<", "≥": "≤", "×": "×"}
SQL_OP = {"=": "=", "≠": "!=", "<": "<", "≤": "<=", ">": ">", "≥": ">="}

CYCLE_MESSAGE = ("there cannot be more than one relational path between any two tables in the graph: "
                 "“{a}” and “{b}” are already related{via}; add another occurrence of one of the tables "
                 "(fmscript db occurrence NAME --table TABLE) and relate that")


@dataclass
class Criterion:
    left: str    # field of the left occurrence
    op: str      # one of MIRROR's keys
    right: str   # field of the right occurrence


@dataclass
class Relationship:
    id: int
    left: str
    right: str
    criteria: list[Criterion]
    create: dict = field(default_factory=dict)   # occurrence key → allow creation of records there
    delete: dict = field(default_factory=dict)   # occurrence key → delete there when the other side is deleted
    sort: dict = field(default_factory=dict)     # occurrence key → sort order text of that side

    def other(self, occ_key: str) -> str:
        return self.right if occ_key == self.left.casefold() else self.left

    def text(self) -> str:
        crit = " AND ".join(f"{self.left}::{c.left} {c.op} {self.right}::{c.right}" for c in self.criteria)
        opts = [f"allow creation in {o}" for o in (self.left, self.right) if self.create.get(o.casefold())]
        opts += [f"delete in {o}" for o in (self.left, self.right) if self.delete.get(o.casefold())]
        opts += [f"sort {o}: {self.sort[o.casefold()]}" for o in (self.left, self.right)
                 if self.sort.get(o.casefold())]
        return crit + (f"  [{'; '.join(opts)}]" if opts else "")


@dataclass
class Hop:
    """One step of a path: from ``src`` to ``dst`` over ``rel``; criteria oriented ``src op dst``."""
    rel: Relationship
    src: str
    dst: str
    criteria: list[Criterion]

    @property
    def allows_creation(self) -> bool:
        return bool(self.rel.create.get(self.dst.casefold()))

    @property
    def sort(self) -> str:
        return self.rel.sort.get(self.dst.casefold(), "")


@dataclass
class Portal:
    """A portal object: the related records of ``occurrence``, kept where ``filter`` (a calculation evaluated
    per related record) is true, in ``sort`` order (else the relationship's), rows deletable with
    ``allow_delete`` (FileMaker's "Allow deletion of portal records", off by default)."""
    layout: str
    name: str
    occurrence: str
    filter: str = ""
    sort: str = ""
    allow_delete: bool = False


def parse_criterion(text: str) -> tuple[str, str, str, str, str]:
    """``Left::A = Right::B`` → (left occurrence, field, op, right occurrence, field)."""
    import re
    m = re.match(r"^\s*(.+?)::(.+?)\s*(≠|<>|!=|≤|<=|≥|>=|=|<|>|×|\*|\bx\b)\s*(.+?)::(.+?)\s*$", text)
    if not m:
        raise DataError(f"“{text}” is not a match criterion: write “Left::Field = Right::Field” "
                        "(operators = ≠ < ≤ > ≥ ×)", code=E_INVALID_PARAMETER)
    lo, lf, op, ro, rf = (g.strip() for g in m.groups())
    return lo, lf, OPERATORS[op], ro, rf


class Graph:
    """The relationship graph of the file.  A mixin of :class:`~fmscript.data.database.Database`."""

    conn: sqlite3.Connection

    def _init_graph(self) -> None:
        self._graph: dict | None = None
        self._paths: dict = {}

    # -- storage ------------------------------------------------------------------------------------------
    def has_graph(self) -> bool:
        return self.conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND "
                                 "name='fmscript_relationships'").fetchone() is not None

    def ensure_graph(self) -> None:
        """Create (or migrate) the graph's tables: a file made before them simply gains them."""
        self.ensure_metadata()
        if not self.has_graph() or not self.conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type='table' AND name='fmscript_portals'").fetchone():
            for stmt in GRAPH_SQL.split(";"):
                if stmt.strip():
                    self.conn.execute(stmt)
        cols = {r[1] for r in self.conn.execute("PRAGMA table_info(fmscript_portals)")}
        for col, decl in PORTAL_COLUMNS_V2:
            if col not in cols:
                self.conn.execute(f"ALTER TABLE fmscript_portals ADD COLUMN {col} {decl}")
        self.conn.execute("INSERT OR REPLACE INTO fmscript_meta VALUES ('graph_version', ?)", (str(GRAPH_VERSION),))

    def invalidate_schema(self) -> None:
        """The schema changed (a field added, a type changed): the planned related queries depend on it."""
        super().invalidate_schema()
        self.invalidate_graph()

    def invalidate_graph(self) -> None:
        self._graph = None
        self._paths = {}

    def relationships(self) -> list[Relationship]:
        return self._graph_data()["rels"]

    def _graph_data(self) -> dict:
        if self._graph is None:
            rels: list[Relationship] = []
            portals: list[Portal] = []
            if self.has_graph():
                crit: dict[int, list[Criterion]] = {}
                for rid, lf, op, rf in self.conn.execute(
                        "SELECT relationship, left_field, op, right_field FROM fmscript_criteria "
                        "ORDER BY relationship, position"):
                    crit.setdefault(rid, []).append(Criterion(lf, op, rf))
                for (rid, lo, ro, lc, rc, ld, rd, ls, rs) in self.conn.execute(
                        "SELECT id, left_occurrence, right_occurrence, left_create, right_create, left_delete, "
                        "right_delete, left_sort, right_sort FROM fmscript_relationships ORDER BY id"):
                    lk, rk = lo.casefold(), ro.casefold()
                    rels.append(Relationship(rid, lo, ro, crit.get(rid, []), {lk: bool(lc), rk: bool(rc)},
                                             {lk: bool(ld), rk: bool(rd)}, {lk: ls, rk: rs}))
                cols = {r[1] for r in self.conn.execute("PRAGMA table_info(fmscript_portals)")}
                extra = ", filter, sort, allow_delete" if "allow_delete" in cols else ", '', '', 1"
                for lay, name, occ, flt, srt, dele in self.conn.execute(
                        f"SELECT layout, object_name, occurrence{extra} FROM fmscript_portals "
                        "ORDER BY position, rowid"):
                    portals.append(Portal(lay, name, occ, flt or "", srt or "", bool(dele)))
            adj: dict[str, list[Relationship]] = {}
            for r in rels:
                adj.setdefault(r.left.casefold(), []).append(r)
                adj.setdefault(r.right.casefold(), []).append(r)
            self._graph = {"rels": rels, "adj": adj, "portals": portals}
        return self._graph

    # -- paths --------------------------------------------------------------------------------------------
    def graph_path(self, src: str, dst: str) -> list[Hop] | None:
        """The hops from occurrence ``src`` to ``dst`` (``[]`` when they are the same, ``None`` when they are
        not related).  The graph has no cycles, so the path is unique."""
        key = (src.casefold(), dst.casefold())
        if key in self._paths:
            return self._paths[key]
        g = self._graph_data()
        result: list[Hop] | None = None
        if key[0] == key[1]:
            result = []
        elif g["rels"]:
            prev: dict[str, tuple[str, Relationship] | None] = {key[0]: None}
            queue = deque([key[0]])
            while queue:
                node = queue.popleft()
                if node == key[1]:
                    break
                for r in g["adj"].get(node, []):
                    nxt = r.other(node).casefold()
                    if nxt not in prev:
                        prev[nxt] = (node, r)
                        queue.append(nxt)
            if key[1] in prev:
                hops: list[Hop] = []
                node = key[1]
                while prev[node] is not None:
                    parent, r = prev[node]
                    if r.left.casefold() == parent:
                        crit = list(r.criteria)
                        hops.append(Hop(r, r.left, r.right, crit))
                    else:
                        crit = [Criterion(c.right, MIRROR[c.op], c.left) for c in r.criteria]
                        hops.append(Hop(r, r.right, r.left, crit))
                    node = parent
                result = hops[::-1]
        self._paths[key] = result
        return result

    def is_related(self, src: str, dst: str) -> bool:
        p = self.graph_path(src, dst)
        return bool(p)

    # -- changing the graph (fmscript db occurrence / relate / portal, or Python) ------------------------
    def add_occurrence(self, name: str, table: str) -> None:
        """A new table occurrence ``name`` of the base table ``table``."""
        ti = self.tables().get(table.casefold())
        if ti is None:
            raise DataError(f"there is no table named “{table}”" + did_you_mean(table, [t.name for t in
                            self.tables().values()]), code=E_TABLE_MISSING)
        if name.casefold() in self.occurrences():
            raise DataError(f"a table occurrence named “{name}” already exists", code=E_VALUE_NOT_UNIQUE)
        if name.startswith(INTERNAL_PREFIX) or not name.strip() or "::" in name:
            raise DataError(f"“{name}” cannot name a table occurrence", code=E_INVALID_PARAMETER)
        self.commit()
        self.ensure_metadata()
        self.conn.execute("INSERT INTO fmscript_occurrences VALUES (?, ?)", (name, ti.name))
        self.invalidate_schema()
        self.invalidate_graph()

    def relate(self, criteria: list[str] | list[tuple[str, str, str, str, str]], *,
               allow_creation: tuple[str, ...] = (), delete_related: tuple[str, ...] = (),
               sort: dict[str, str] | None = None) -> Relationship:
        """Add a relationship: each criterion ``"A::x = B::y"`` (or a parsed tuple), all between the same two
        occurrences.  ``allow_creation`` / ``delete_related`` name the sides whose records may be created /
        are deleted through it; ``sort`` maps a side to its sort order text.  Refuses what FileMaker refuses:
        a missing occurrence (106) or field (102), global match fields on both sides (107), a container or
        summary match field (1708), and a second path between two occurrences (1708).  Fields of different
        types match by their index values; a global or unstored calculation match field (no index) works on
        the side the relationship is followed from."""
        parsed = [parse_criterion(c) if isinstance(c, str) else c for c in criteria]
        if not parsed:
            raise DataError("a relationship needs at least one match criterion", code=E_INVALID_PARAMETER)
        occs = self.occurrences()
        names = [o for o, _ in occs.values()]
        lo, ro = parsed[0][0], parsed[0][3]
        crit: list[Criterion] = []
        for clo, clf, op, cro, crf in parsed:
            for o in (clo, cro):
                if o.casefold() not in occs:
                    raise DataError(f"there is no table occurrence named “{o}”" + did_you_mean(o, names),
                                    code=E_TABLE_MISSING)
            if {clo.casefold(), cro.casefold()} != {lo.casefold(), ro.casefold()}:
                raise DataError("every criterion of one relationship must join the same two occurrences "
                                f"(“{lo}” and “{ro}”)", code=E_INVALID_PARAMETER)
            if clo.casefold() != lo.casefold():  # written the other way round
                clo, clf, op, cro, crf = cro, crf, MIRROR[op], clo, clf
            lfi = self._match_field(clo, clf, op)
            rfi = self._match_field(cro, crf, op)
            if op != "×" and not self.indexable(self.table_of(clo).name, lfi) \
                    and not self.indexable(self.table_of(cro).name, rfi):
                # Neither field has an index: the relationship would work from neither side.
                kinds = [("a global field" if fi.is_global else "an unstored calculation") for fi in (lfi, rfi)]
                what = (f"are both {kinds[0][kinds[0].index(' ') + 1:]}s" if kinds[0] == kinds[1]
                        else f"are {kinds[0]} and {kinds[1]}")
                raise DataError(f"the match fields {clo}::{lfi.name} and {cro}::{rfi.name} {what}, which have no "
                                "index: a relationship can look values up only in a field that can be indexed "
                                "(not global, not an unstored calculation)", code=E_INDEX_MISSING)
            crit.append(Criterion(lfi.name, op, rfi.name))
        lo, ro = occs[lo.casefold()][0], occs[ro.casefold()][0]
        if lo.casefold() == ro.casefold():
            raise DataError(CYCLE_MESSAGE.format(a=lo, b=ro, via=" (it is the same occurrence)"),
                            code=E_INVALID_PARAMETER)
        existing = self.graph_path(lo, ro)
        if existing is not None:
            via = " through " + " → ".join([existing[0].src] + [h.dst for h in existing])
            raise DataError(CYCLE_MESSAGE.format(a=lo, b=ro, via=via), code=E_INVALID_PARAMETER)
        sides = {lo.casefold(): lo, ro.casefold(): ro}

        def side(o: str) -> str:
            if o.casefold() not in sides:
                raise DataError(f"“{o}” is not a side of the relationship between “{lo}” and “{ro}”",
                                code=E_RELATIONSHIP_MISSING)
            return o.casefold()

        create = {side(o) for o in allow_creation}
        delete = {side(o) for o in delete_related}
        sorts = {side(o): t for o, t in (sort or {}).items()}
        for o, text in sorts.items():
            self._check_sort(sides[o], text)
        if ro.casefold() in create or lo.casefold() in create:
            for c in crit:
                if c.op != "=":
                    raise DataError("records can be created through a relationship only when every criterion "
                                    "is “=”", code=E_INVALID_PARAMETER)
        self.commit()
        self.ensure_graph()
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            cur = self.conn.execute(
                "INSERT INTO fmscript_relationships (left_occurrence, right_occurrence, left_create, right_create, "
                "left_delete, right_delete, left_sort, right_sort) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (lo, ro, int(lo.casefold() in create), int(ro.casefold() in create), int(lo.casefold() in delete),
                 int(ro.casefold() in delete), sorts.get(lo.casefold(), ""), sorts.get(ro.casefold(), "")))
            rid = cur.lastrowid
            for i, c in enumerate(crit):
                self.conn.execute("INSERT INTO fmscript_criteria VALUES (?, ?, ?, ?, ?)", (rid, i, c.left, c.op, c.right))
            for occ, fname in [(lo, c.left) for c in crit if c.op != "×"] + [(ro, c.right) for c in crit
                                                                              if c.op != "×"]:
                self._index_match_field(occ, fname)
            self.conn.execute("COMMIT")
        except sqlite3.Error as e:
            self.conn.execute("ROLLBACK")
            raise DataError(f"cannot store the relationship: {e}", code=E_INVALID_PARAMETER) from None
        self.invalidate_graph()
        return next(r for r in self.relationships() if r.id == rid)

    def _match_field(self, occ: str, fname: str, op: str):
        ti = self.table_of(occ)
        fi = ti.field(fname) if ti else None
        if fi is None:
            raise DataError(f"the match field “{occ}::{fname}” is missing (table “{ti.name}” has no such field)"
                            + did_you_mean(fname, [f.name for f in ti.fields]), code=E_FIELD_MISSING)
        if op == "×":
            return fi
        # Claris: match fields are text, number, date, time, timestamp or calculation fields; fields of different
        # types match by their index values.  A global field or an unstored calculation (no index) may be one, on
        # the side the relationship is followed from.
        opts = self.field_options(ti.name, fi.name) if getattr(self, "_field_options", {}) != {} else None
        if fi.type == "container" or (opts is not None and opts.kind == "summary"):
            raise DataError(f"“{occ}::{fi.name}” is a {'summary' if fi.type != 'container' else 'container'} field, "
                            "which cannot be a match field (match fields are text, number, date, time, "
                            "timestamp or calculation fields)", code=E_INVALID_PARAMETER)
        return fi

    def _check_sort(self, occ: str, text: str) -> None:
        from . import finds as F
        try:
            spec = F.parse_sort_order(text)
        except F.RequestSyntaxError as e:
            raise DataError(f"the sort order “{text}” cannot be read: {e}", code=E_INVALID_PARAMETER) from None
        ti = self.table_of(occ)
        for o, name, _ in spec:
            if (o and self.table_of(o) is not ti) or ti.field(name) is None:
                raise DataError(f"the sort order of “{occ}” uses “{(o + '::') if o else ''}{name}”, which is not "
                                f"a field of “{occ}”", code=E_FIELD_MISSING)

    def _index_match_field(self, occ: str, fname: str) -> None:
        """An index on a match field (text fields case-insensitively, as FileMaker's default index)."""
        ti = self.table_of(occ)
        fi = ti.field(fname)
        if not self.indexable(ti.name, fi):
            return  # a global or an unstored calculation has no index (its value is not in the column)
        coll = " COLLATE fmtext" if fi.type == "text" else ""
        name = f"fmscript_ix_{ti.name}_{fi.name}"
        self.conn.execute(f"CREATE INDEX IF NOT EXISTS {qident(name)} ON {qident(ti.name)} ({qident(fi.name)}{coll})")

    def unrelate(self, left: str, right: str) -> None:
        """Remove the relationship between two occurrences."""
        p = self.graph_path(left, right)
        if not p or len(p) != 1:
            raise DataError(f"there is no relationship between “{left}” and “{right}”", code=E_RELATIONSHIP_MISSING)
        self.commit()
        self.conn.execute("DELETE FROM fmscript_criteria WHERE relationship = ?", (p[0].rel.id,))
        self.conn.execute("DELETE FROM fmscript_relationships WHERE id = ?", (p[0].rel.id,))
        self.invalidate_graph()

    # -- portals ------------------------------------------------------------------------------------------
    def add_portal(self, layout: str, occurrence: str, name: str | None = None, *, filter: str = "",
                   sort: str = "", allow_delete: bool = False) -> Portal:
        """A portal object on ``layout`` showing the records of ``occurrence`` related to the layout's: those for
        which the ``filter`` calculation is true (all when empty), in the ``sort`` order (else the
        relationship's); Delete Portal Row may delete its rows only with ``allow_delete``.  Adding a portal
        of the same name again replaces it."""
        lay = self.layouts().get(layout.casefold())
        if lay is None:
            raise DataError(f"there is no layout named “{layout}”", code=E_LAYOUT_MISSING)
        occ = self.occurrence_name(occurrence)
        if occ is None:
            raise DataError(f"there is no table occurrence named “{occurrence}”", code=E_TABLE_MISSING)
        if not self.is_related(lay[1], occ):
            raise DataError(f"the layout “{lay[0]}” shows “{lay[1]}”, which is not related to “{occ}”: relate them "
                            "first (fmscript db relate)", code=E_RELATIONSHIP_MISSING)
        if sort.strip():
            self._check_sort(occ, sort)
        if filter.strip():
            check = getattr(self, "check_calculation", None)  # fielddefs: refused when it does not compile
            if check is not None:
                check(filter)
        self.commit()
        self.ensure_graph()
        n = self.conn.execute("SELECT count(*) FROM fmscript_portals").fetchone()[0]
        self.conn.execute("INSERT OR REPLACE INTO fmscript_portals (layout, object_name, occurrence, position, filter, "
                          "sort, allow_delete) VALUES (?, ?, ?, ?, ?, ?, ?)",
                          (lay[0], name or occ, occ, n + 1, filter.strip(), sort.strip(), int(allow_delete)))
        self.invalidate_graph()
        return Portal(lay[0], name or occ, occ, filter.strip(), sort.strip(), bool(allow_delete))

    def portals(self, layout: str | None = None) -> list[Portal]:
        ps = self._graph_data()["portals"]
        return [p for p in ps if layout is None or p.layout.casefold() == layout.casefold()]

    # -- pictures -----------------------------------------------------------------------------------------
    def graph_text(self) -> str:
        """The graph as text: each occurrence with its base table, then each relationship."""
        out = []
        for key, (occ, table) in self.occurrences().items():
            out.append(f"occurrence {occ}" + (f" ({table})" if table != occ else ""))
        for r in self.relationships():
            out.append(f"relationship {r.left} — {r.right}: {r.text()}")
        for p in self.portals():
            opts = ([f"filter: {p.filter}"] if p.filter else []) + ([f"sort: {p.sort}"] if p.sort else []) \
                + (["allow deletion"] if p.allow_delete else [])
            out.append(f"portal {p.name} on layout {p.layout} → {p.occurrence}"
                       + (f"  [{'; '.join(opts)}]" if opts else ""))
        return "\n".join(out) + ("\n" if out else "")

    def graph_svg(self) -> str:
        """The graph as an SVG picture: occurrences as boxes (a tree per column of depth), relationships as
        lines labelled with their criteria."""
        from xml.sax.saxutils import escape
        occs = [o for o, _ in self.occurrences().values()]
        tables = {o.casefold(): t for o, t in self.occurrences().values()}
        g = self._graph_data()
        depth: dict[str, int] = {}
        for o in occs:
            k = o.casefold()
            if k in depth:
                continue
            depth[k] = 0
            queue = deque([k])
            while queue:
                n = queue.popleft()
                for r in g["adj"].get(n, []):
                    m = r.other(n).casefold()
                    if m not in depth:
                        depth[m] = depth[n] + 1
                        queue.append(m)
        rows: dict[int, int] = {}
        pos: dict[str, tuple[int, int]] = {}
        for o in occs:
            d = depth[o.casefold()]
            pos[o.casefold()] = (40 + d * 260, 40 + rows.get(d, 0) * 90)
            rows[d] = rows.get(d, 0) + 1
        w = max((x for x, _ in pos.values()), default=0) + 240
        h = max((y for _, y in pos.values()), default=0) + 90
        parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" '
                 'font-size="12">']
        names = {o.casefold(): o for o in occs}
        for r in g["rels"]:
            (x1, y1), (x2, y2) = pos[r.left.casefold()], pos[r.right.casefold()]
            a, b = (x1 + 180, y1 + 22), (x2, y2 + 22)
            if x2 < x1:
                a, b = (x1, y1 + 22), (x2 + 180, y2 + 22)
            label = escape(" AND ".join(f"{c.left} {c.op} {c.right}" for c in r.criteria))
            parts.append(f'<line x1="{a[0]}" y1="{a[1]}" x2="{b[0]}" y2="{b[1]}" stroke="#555"/>')
            parts.append(f'<text x="{(a[0] + b[0]) // 2}" y="{(a[1] + b[1]) // 2 - 4}" text-anchor="middle" '
                         f'fill="#333">{label}</text>')
        for k, (x, y) in pos.items():
            occ, table = names[k], tables[k]
            parts.append(f'<rect x="{x}" y="{y}" width="180" height="44" rx="6" fill="#eef3fb" stroke="#4a6fa5"/>')
            parts.append(f'<text x="{x + 90}" y="{y + 18}" text-anchor="middle" font-weight="bold">{escape(occ)}</text>')
            if table != occ:
                parts.append(f'<text x="{x + 90}" y="{y + 35}" text-anchor="middle" fill="#555">{escape(table)}</text>')
        parts.append("</svg>")
        return "\n".join(parts) + "\n"


def write_png(db, path: str) -> None:
    """The graph as a PNG picture, drawn with matplotlib (the ``plot`` extra) from the SVG's layout."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        from ..errors import UsageError
        raise UsageError("a PNG needs matplotlib: pip install 'fmscript[plot]' (or write --svg)") from None
    import re
    svg = db.graph_svg()
    boxes = [(int(x), int(y)) for x, y in re.findall(r'<rect x="(\d+)" y="(\d+)"', svg)]
    lines = [tuple(map(int, m)) for m in re.findall(r'<line x1="(\d+)" y1="(\d+)" x2="(\d+)" y2="(\d+)"', svg)]
    texts = re.findall(r'<text x="(\d+)" y="(\d+)"[^>]*>([^<]*)</text>', svg)
    w = int(re.search(r'width="(\d+)"', svg).group(1))
    h = int(re.search(r'height="(\d+)"', svg).group(1))
    from xml.sax.saxutils import unescape
    fig = plt.figure(figsize=(w / 100, h / 100), dpi=100)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, w)
    ax.set_ylim(h, 0)
    ax.axis("off")
    for x1, y1, x2, y2 in lines:
        ax.plot([x1, x2], [y1, y2], color="#555", linewidth=1)
    for x, y in boxes:
        ax.add_patch(plt.Rectangle((x, y), 180, 44, facecolor="#eef3fb", edgecolor="#4a6fa5"))
    for x, y, t in texts:
        ax.text(int(x), int(y), unescape(t), ha="center", va="baseline", fontsize=8)
    tmp = path + ".part"
    fig.savefig(tmp, format="png")
    plt.close(fig)
    import os
    os.replace(tmp, path)
