"""Field options as FileMaker defines them: auto-enter, calculation and summary fields, value lists.

A field's options are one JSON object in ``fmscript_field_options`` (by table and field); value lists live
in ``fmscript_value_lists``.  Both tables are made on first use and versioned by the ``fielddefs_version``
key of ``fmscript_meta`` (see :data:`FIELDDEFS_VERSION`), so a file without them works unchanged.

Calculations (calculation fields, auto-enter calculations, validation by calculation) are evaluated with
the calculation language of the session the file is attached to: the data layer never imports it, a step
hands the session in (:meth:`~fmscript.data.store.Store.attach`).  A field calculation sees the record it
belongs to, whatever the layout shows, and is evaluated "from the context of" one occurrence of its table
(``context``; FileMaker's Specify Calculation dialog): its unqualified field names, and names of that
occurrence, read the record; ``Occ::Field`` follows the graph from that occurrence (another occurrence of the
same table that is related to it is a related record, one that is not related reads the record itself).
Without a context, or when the occurrence named is gone, it is the occurrence named like the table (the one
each table has, first in the file's order of occurrences).

Lookups follow the relationship graph as FileMaker's do: starting from an occurrence of this table
(``start``, default the table's own), they copy ``copy`` from the first related record of ``occurrence``
(in the relationship's sort order), when a match field of the first relationship changes.  A definition
written before the graph (``match``/``other_match``: one "match field = match field" pair of its own) is still
read and followed as it was.

Options (the JSON object; every key optional)::

    {"kind": "normal" | "calculation" | "summary",
     "calc": "text of a calculation field", "stored": true, "context": "an occurrence of this table",
     "summary": {"function": "total" | "count" | "average" | "minimum" | "maximum" | "list", "of": "Field"},
     "auto": {"serial": {"next": 1, "increment": 1, "generate": "creation" | "commit"},
              "creation": "date" | "time" | "timestamp" | "account",
              "modification": "date" | "time" | "timestamp" | "account",
              "data": "a constant", "calc": "a calculation", "replace": false, "context": "Occurrence",
              "lookup": {"start": "Invoices", "occurrence": "Customers", "copy": "Name",
                         "no_match": "none" | "lower" | "higher" | "constant", "constant": "…",
                         "skip_empty": true}},
     "validate": {"when": "always" | "entry", "not_empty": true, "unique": true, "value_list": "Name",
                  "range": ["1", "10"], "calc": "a calculation", "context": "Occurrence",
                  "message": "custom message"}}
"""
from __future__ import annotations

import datetime as _dt
import json
import re
import sqlite3
from dataclasses import dataclass, field
from decimal import Decimal

from ..calc.values import to_number, to_text
from ..errors import (E_CALC_SYNTAX, E_FIELD_MISSING, E_INVALID_PARAMETER, E_RELATIONSHIP_MISSING,
                      E_TABLE_MISSING, E_VALUE_LIST_MISSING, CalcError, DataError)
from .schema import FieldInfo, TableInfo, qident
from .values import from_storage, to_storage

FIELDDEFS_VERSION = 1

FIELDDEFS_SQL = (
    "CREATE TABLE IF NOT EXISTS fmscript_field_options (table_name TEXT NOT NULL, field_name TEXT NOT NULL, "
    "options TEXT NOT NULL, PRIMARY KEY (table_name, field_name))",
    "CREATE TABLE IF NOT EXISTS fmscript_value_lists (name TEXT PRIMARY KEY, source TEXT NOT NULL, "
    "custom_values TEXT, table_name TEXT, field_name TEXT)",
)

KINDS = ("normal", "calculation", "summary")
SUMMARY_FUNCTIONS = ("total", "count", "average", "minimum", "maximum", "list")
STAMPS = ("date", "time", "timestamp", "account")
_IDENT = re.compile(r"[^\s;()\[\]&+\-*/^=≠<>≤≥\"¶]+")


@dataclass
class FieldOptions:
    """One field's options (see the module docstring for the JSON form)."""

    kind: str = "normal"
    calc: str = ""
    stored: bool = True
    summary: dict = field(default_factory=dict)
    auto: dict = field(default_factory=dict)
    validate: dict = field(default_factory=dict)
    context: str = ""  # the occurrence a calculation field is evaluated from ("": the table's own)

    @classmethod
    def from_json(cls, text: str) -> "FieldOptions":
        d = json.loads(text)
        return cls(d.get("kind", "normal"), d.get("calc", ""), bool(d.get("stored", True)), d.get("summary") or {},
                   d.get("auto") or {}, d.get("validate") or {}, d.get("context") or "")

    def to_json(self) -> str:
        d = {"kind": self.kind}
        if self.kind == "calculation":
            d["calc"], d["stored"] = self.calc, self.stored
            if self.context:
                d["context"] = self.context
        if self.kind == "summary":
            d["summary"] = self.summary
        if self.auto:
            d["auto"] = self.auto
        if self.validate:
            d["validate"] = self.validate
        return json.dumps(d, ensure_ascii=False, sort_keys=True)

    @property
    def computed_on_read(self) -> bool:
        """Unstored calculations and summaries have no stored value: they are worked out when read."""
        return self.kind == "summary" or (self.kind == "calculation" and not self.stored)


class CalcFrame:
    """The frame a field calculation runs in: the session's ``$$`` variables, no ``$`` variables of its own
    (FileMaker evaluates field calculations outside any script)."""

    __slots__ = ("session", "locals", "let", "param", "script_name", "error_capture", "local_names")

    def __init__(self, session):
        self.session = session
        self.locals, self.let, self.local_names = {}, {}, {}
        self.param, self.script_name, self.error_capture = "", "", True


def check_options(db, ti: TableInfo, fi: FieldInfo, opts: FieldOptions) -> None:
    """Bad definitions are refused before they are stored, naming what is wrong."""
    if opts.kind not in KINDS:
        raise DataError(f"unknown field kind “{opts.kind}”; use one of {', '.join(KINDS)}", code=E_INVALID_PARAMETER)
    if opts.kind == "calculation" and not opts.calc.strip():
        raise DataError(f"the calculation field {ti.name}::{fi.name} needs a calculation", code=E_INVALID_PARAMETER)
    if opts.context and opts.kind != "calculation":
        raise DataError(f"{ti.name}::{fi.name} is not a calculation field: only a calculation is evaluated from the "
                        "context of an occurrence", code=E_INVALID_PARAMETER)
    if opts.context:
        opts.context = check_context(db, ti, fi, opts.context)
    for part, what in ((opts.auto, "auto-enter"), (opts.validate, "validation")):
        if part.get("context"):
            if not part.get("calc"):
                raise DataError(f"the {what} option of {ti.name}::{fi.name} has a context but no calculation: "
                                "only a calculation is evaluated from the context of an occurrence",
                                code=E_INVALID_PARAMETER)
            part["context"] = check_context(db, ti, fi, part["context"])
        else:
            part.pop("context", None)
    if opts.kind == "summary":
        fn = opts.summary.get("function", "")
        if fn not in SUMMARY_FUNCTIONS:
            raise DataError(f"unknown summary “{fn}”; use one of {', '.join(SUMMARY_FUNCTIONS)}",
                            code=E_INVALID_PARAMETER)
        of = opts.summary.get("of", "")
        if ti.field(of) is None:
            raise DataError(f"the summary field {ti.name}::{fi.name} summarises “{of}”, which {ti.name} lacks",
                            code=E_FIELD_MISSING)
        opts.summary["of"] = ti.field(of).name
    for key in ("creation", "modification"):
        if key in opts.auto and opts.auto[key] not in STAMPS:
            raise DataError(f"auto-enter {key} takes one of {', '.join(STAMPS)}", code=E_INVALID_PARAMETER)
    lk = opts.auto.get("lookup")
    if lk and "match" not in lk:
        check_lookup(db, ti, lk)
    elif lk:
        if ti.field(lk.get("match", "")) is None:
            raise DataError(f"the lookup's match field “{lk.get('match', '')}” is not a field of {ti.name}",
                            code=E_FIELD_MISSING)
        other = db.table_of(lk.get("occurrence", ""))
        if other is None:
            raise DataError(f"the lookup names the table occurrence “{lk.get('occurrence', '')}”, which does "
                            f"not exist", code=E_TABLE_MISSING)
        for k in ("other_match", "copy"):
            if other.field(lk.get(k, "")) is None:
                raise DataError(f"the lookup names {other.name}::{lk.get(k, '')}, which does not exist",
                                code=E_FIELD_MISSING)
    vl = opts.validate.get("value_list")
    if vl and db.value_list(vl) is None:
        raise DataError(f"there is no value list named “{vl}”", code=E_VALUE_LIST_MISSING)
    if opts.validate.get("when", "always") not in ("always", "entry"):
        raise DataError("validation “when” is always or entry", code=E_INVALID_PARAMETER)
    rng = opts.validate.get("range")
    if rng is not None and (not isinstance(rng, (list, tuple)) or len(rng) != 2):
        raise DataError("a validation range is two values: [from, to]", code=E_INVALID_PARAMETER)
    serial = opts.auto.get("serial")
    if serial is not None:
        serial.setdefault("next", "1")
        serial.setdefault("increment", 1)
        serial.setdefault("generate", "creation")
        if serial["generate"] not in ("creation", "commit"):
            raise DataError("a serial number is generated on creation or on commit", code=E_INVALID_PARAMETER)
        serial["next"] = to_text(serial["next"])
        if int(serial["increment"]) < 1:
            raise DataError("a serial number's increment is 1 or more", code=E_INVALID_PARAMETER)


def check_context(db, ti: TableInfo, fi: FieldInfo, context) -> str:
    """The occurrence a calculation of ``ti::fi`` is evaluated from, as the graph spells it: it must be an
    occurrence of ``ti`` (FileMaker's "Evaluate this calculation from the context of" lists only those)."""
    occs = db.occurrences()
    name = context if isinstance(context, str) else ""
    if name.casefold() not in occs:
        theirs = [o for o, t in occs.values() if t == ti.name]
        raise DataError(f"the calculation of {ti.name}::{fi.name} is evaluated from the context of “{name}”, which is "
                        f"not a table occurrence (the occurrences of {ti.name}: {', '.join(theirs)})",
                        code=E_TABLE_MISSING)
    occ, table = occs[name.casefold()]
    if table != ti.name:
        theirs = [o for o, t in occs.values() if t == ti.name]
        raise DataError(f"the calculation of {ti.name}::{fi.name} cannot be evaluated from the context of “{occ}”, "
                        f"an occurrence of {table}: a calculation of {ti.name} is evaluated from one of its own "
                        f"occurrences ({', '.join(theirs)})", code=E_TABLE_MISSING)
    return occ


LOOKUP_NO_MATCH = ("none", "lower", "higher", "constant")


def check_lookup(db, ti: TableInfo, lk: dict) -> None:
    """A lookup through the graph: its start is an occurrence of ``ti``, related to ``occurrence``, which has
    the field to copy.  Names are stored as the graph spells them."""
    occs = db.occurrences()
    start = lk.get("start") or ti.name
    if start.casefold() not in occs or db.table_of(start) is not ti:
        raise DataError(f"the lookup starts from “{start}”, which is not a table occurrence of {ti.name}",
                        code=E_TABLE_MISSING)
    occ = lk.get("occurrence", "")
    if occ.casefold() not in occs:
        raise DataError(f"the lookup names the table occurrence “{occ}”, which does not exist", code=E_TABLE_MISSING)
    start, occ = occs[start.casefold()][0], occs[occ.casefold()][0]
    if not db.graph_path(start, occ):
        raise DataError(f"“{occ}” is not related to “{start}”: a lookup copies through a relationship (fmscript db "
                        "relate first)", code=E_RELATIONSHIP_MISSING)
    other = db.table_of(occ)
    copy = other.field(lk.get("copy", ""))
    if copy is None:
        raise DataError(f"the lookup copies {occ}::{lk.get('copy', '')}, which does not exist", code=E_FIELD_MISSING)
    if lk.setdefault("no_match", "none") not in LOOKUP_NO_MATCH:
        raise DataError(f"a lookup's “no_match” is one of {', '.join(LOOKUP_NO_MATCH)}", code=E_INVALID_PARAMETER)
    lk.update(start=start, occurrence=occ, copy=copy.name)
    lk["skip_empty"] = bool(lk.get("skip_empty", True))


def next_serial_text(current: str, increment: int) -> str:
    """FileMaker increments the last number in a serial's text (``INV0099`` → ``INV0100``)."""
    m = re.search(r"(\d+)(?!.*\d)", current)
    if not m:
        return current
    digits = m.group(1)
    n = str(int(digits) + increment).rjust(len(digits), "0")
    return current[:m.start()] + n + current[m.end():]


def references(calc: str) -> set[str]:
    """Casefolded names a calculation's text mentions (``T::F`` gives ``f``): enough to decide which
    auto-enter calculations a change of a field re-triggers."""
    out = set()
    for tok in _IDENT.findall(calc):
        out.add(tok.rpartition("::")[2].casefold())
    return out


class FieldDefinitions:
    """Field options, serial numbers, value lists and summaries.  A mixin of
    :class:`~fmscript.data.database.Database` (it needs the schema, the store and its contexts)."""

    conn: sqlite3.Connection
    _dirty: list
    _session: object  # the attached session (Store.attach), whose calculation language evaluates fields

    def _init_fielddefs(self) -> None:
        self._field_options: dict[str, dict[str, FieldOptions]] | None = None
        self._serials: dict[tuple[str, str], str] = {}   # ahead of the file: never reverted
        self._calc_scope: list[tuple[TableInfo, int, str]] = []  # (table, record, context occurrence)

    # -- storage ------------------------------------------------------------------------------------------
    def _has_fielddefs(self) -> bool:
        return self.conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='fmscript_field_options'"
                                 ).fetchone() is not None

    def ensure_fielddefs(self) -> None:
        """Make (or migrate) the field-option tables."""
        self.ensure_metadata()
        for stmt in FIELDDEFS_SQL:
            self.conn.execute(stmt)
        row = self.conn.execute("SELECT value FROM fmscript_meta WHERE key = 'fielddefs_version'").fetchone()
        if row is None or int(row[0]) < FIELDDEFS_VERSION:
            self.conn.execute("INSERT OR REPLACE INTO fmscript_meta VALUES ('fielddefs_version', ?)",
                              (str(FIELDDEFS_VERSION),))

    def all_field_options(self) -> dict[str, dict[str, FieldOptions]]:
        """Options by casefolded table, then casefolded field."""
        if self._field_options is None:
            out: dict[str, dict[str, FieldOptions]] = {}
            if self._has_fielddefs():
                for t, fname, text in self.conn.execute(
                        "SELECT table_name, field_name, options FROM fmscript_field_options"):
                    out.setdefault(t.casefold(), {})[fname.casefold()] = FieldOptions.from_json(text)
            self._field_options = out
        return self._field_options

    def field_options(self, table: str, fname: str) -> FieldOptions | None:
        return self.all_field_options().get(table.casefold(), {}).get(fname.casefold())

    def unstored_calculation(self, table: str, fname: str) -> FieldOptions | None:
        """The options of ``table::fname`` when it is an unstored calculation (worked out when read, so it has
        no index and its column holds nothing), else ``None``."""
        opts = self.field_options(table, fname) if self._field_options != {} else None
        return opts if opts is not None and opts.kind == "calculation" and not opts.stored else None

    def indexable(self, table: str, fi: FieldInfo) -> bool:
        """Whether FileMaker can index the field: not a global, not an unstored calculation (Claris: a match
        field of the related table must be able to be indexed)."""
        return not fi.is_global and self.unstored_calculation(table, fi.name) is None

    def define_field(self, table: str, fname: str, options: FieldOptions | dict, ftype: str | None = None) -> None:
        """Give ``table::fname`` its options (the field is added when missing; ``ftype`` sets its type)."""
        opts = options if isinstance(options, FieldOptions) else FieldOptions.from_json(json.dumps(options))
        ti = self.tables().get(table.casefold())
        if ti is None:
            raise DataError(f"there is no table named “{table}”", code=E_TABLE_MISSING)
        fi = ti.field(fname)
        # Checked before a missing field is added: a refused definition leaves the file as it was.
        check_options(self, ti, fi or FieldInfo(fname, ftype or "text"), opts)
        if opts.kind == "calculation":
            self.check_calculation(opts.calc)
        if fi is None or ftype is not None:
            self.add_field(ti.name, fname, ftype or (fi.type if fi else "text"))
            ti = self.tables()[table.casefold()]
            fi = ti.field(fname)
        self.commit()
        self.ensure_fielddefs()
        self.conn.execute("INSERT OR REPLACE INTO fmscript_field_options VALUES (?, ?, ?)",
                          (ti.name, fi.name, opts.to_json()))
        self._field_options = None
        self.invalidate_graph()  # planned related queries depend on which match fields are calculated
        self._serials.pop((ti.name.casefold(), fi.name.casefold()), None)
        if opts.kind == "calculation" and opts.stored:
            self._recompute_all(ti)

    def check_calculation(self, text: str) -> None:
        """A calculation that does not compile is refused when it is defined (when a session is attached)."""
        session = self._session
        if session is not None:
            try:
                session.compile_runtime_calc(text, frozenset())
            except CalcError as e:
                raise DataError(f"the calculation “{text}” is not valid: {e.message}", code=e.code) from None

    # -- value lists --------------------------------------------------------------------------------------
    def define_value_list(self, name: str, values: list[str] | None = None, table: str | None = None,
                          fname: str | None = None) -> None:
        """A value list of custom values, or of the values of ``table::fname``."""
        if values is None:
            ti = self.tables().get((table or "").casefold())
            if ti is None:
                raise DataError(f"there is no table named “{table}”", code=E_TABLE_MISSING)
            if ti.field(fname or "") is None:
                raise DataError(f"the value list's field {ti.name}::{fname} does not exist", code=E_FIELD_MISSING)
            row = ("field", None, ti.name, ti.field(fname).name)
        else:
            row = ("custom", "\n".join(values), None, None)
        self.commit()
        self.ensure_fielddefs()
        self.conn.execute("INSERT OR REPLACE INTO fmscript_value_lists VALUES (?, ?, ?, ?, ?)", (name, *row))

    def value_list(self, name: str) -> tuple | None:
        if not self._has_fielddefs():
            return None
        return self.conn.execute("SELECT name, source, custom_values, table_name, field_name FROM "
                                 "fmscript_value_lists WHERE name = ? COLLATE NOCASE", (name,)).fetchone()

    def value_list_names(self) -> list[str]:
        if not self._has_fielddefs():
            return []
        return [n for (n,) in self.conn.execute("SELECT name FROM fmscript_value_lists ORDER BY rowid")]

    def value_list_items(self, name: str) -> list[str]:
        """``ValueListItems``: custom values in their order, a field's values sorted, without repeats."""
        vl = self.value_list(name)
        if vl is None:
            raise DataError(f"there is no value list named “{name}”", code=E_VALUE_LIST_MISSING)
        _, source, custom, table, fname = vl
        if source == "custom":
            return [v for v in (custom or "").split("\n") if v != ""]
        ti = self.tables().get(table.casefold())
        fi = ti.field(fname) if ti else None
        if fi is None:
            raise DataError(f"the value list “{name}” uses {table}::{fname}, which no longer exists",
                            code=E_FIELD_MISSING)
        seen: dict[str, str] = {}
        for (raw,) in self.conn.execute(f"SELECT DISTINCT {qident(fi.name)} FROM {qident(ti.name)} "
                                        f"WHERE {qident(fi.name)} IS NOT NULL"):
            text = to_text(from_storage(raw, fi.type))
            if text != "":
                seen.setdefault(text.casefold(), text)
        if fi.type == "number":
            return sorted(seen.values(), key=lambda s: (to_number(s) is None, to_number(s) or Decimal(0), s))
        return sorted(seen.values(), key=lambda s: (s.casefold(), s))

    # -- serial numbers -----------------------------------------------------------------------------------
    def _serial_next(self, ti: TableInfo, fi: FieldInfo, opts: FieldOptions) -> str:
        key = (ti.name.casefold(), fi.name.casefold())
        if key not in self._serials:
            self._serials[key] = to_text(opts.auto["serial"]["next"])
        return self._serials[key]

    def take_serial(self, ti: TableInfo, fi: FieldInfo, opts: FieldOptions) -> str:
        """The next serial number; the counter moves on and is not reverted (as in FileMaker)."""
        value = self._serial_next(ti, fi, opts)
        self._serials[(ti.name.casefold(), fi.name.casefold())] = next_serial_text(
            value, int(opts.auto["serial"].get("increment", 1)))
        return value

    def set_next_serial(self, table: str | None, fname: str, value) -> None:
        """Set Next Serial Value: the next record gets ``value``."""
        _occ, ti, fi = self.resolve_field(table, fname)
        opts = self.field_options(ti.name, fi.name)
        if opts is None or "serial" not in opts.auto:
            opts = opts or FieldOptions()
            opts.auto["serial"] = {"next": "1", "increment": 1, "generate": "creation"}
            check_options(self, ti, fi, opts)
            self.ensure_fielddefs()
            self.conn.execute("INSERT OR REPLACE INTO fmscript_field_options VALUES (?, ?, ?)",
                              (ti.name, fi.name, opts.to_json()))
            self._field_options = None
        self._serials[(ti.name.casefold(), fi.name.casefold())] = to_text(value)
        if not self.has_uncommitted:
            self.flush_serials()

    def serial_settings(self, table: str | None, fname: str) -> tuple[str, int] | None:
        """The field's auto-enter serial (next value, increment), None when it has none (Replace Field
        Contents' ``Entry option values``)."""
        _occ, ti, fi = self.resolve_field(table, fname)
        opts = self.field_options(ti.name, fi.name)
        if opts is None or "serial" not in opts.auto:
            return None
        return self._serial_next(ti, fi, opts), int(opts.auto["serial"].get("increment", 1))

    def flush_serials(self) -> None:
        """Write the counters into the options (called inside the commit, and after a revert)."""
        if not self._serials:
            return
        defs = self.all_field_options()
        for (t, fname), value in self._serials.items():
            opts = defs.get(t, {}).get(fname)
            if opts is None or "serial" not in opts.auto or opts.auto["serial"].get("next") == value:
                continue
            opts.auto["serial"]["next"] = value
            ti = self.tables().get(t)
            if ti is None or ti.field(fname) is None:
                continue
            self.conn.execute("UPDATE fmscript_field_options SET options = ? WHERE table_name = ? AND "
                              "field_name = ?", (opts.to_json(), ti.name, ti.field(fname).name))

    # -- calculations -------------------------------------------------------------------------------------
    def evaluate_for_record(self, ti: TableInfo, rid: int, text: str, context: str | None = None):
        """A field calculation's value with ``rid`` of ``ti`` as its record, evaluated from the context of the
        occurrence ``context`` (see :meth:`calc_context`)."""
        session = self._session
        if session is None:
            raise DataError("field calculations need a session: run a step first, or hand one in with "
                            "db.attach(interpreter.session)", code=E_CALC_SYNTAX)
        calc = session.compile_runtime_calc(text, frozenset())
        self._calc_scope.append((ti, rid, self.calc_context(ti, context)))
        try:
            return calc.evaluate(CalcFrame(session))
        finally:
            self._calc_scope.pop()

    def calc_context(self, ti: TableInfo, context: str | None) -> str:
        """The occurrence a calculation of ``ti`` is evaluated from: ``context`` while it is an occurrence of
        ``ti``; else (none given, or its occurrence is gone) the occurrence named like the table, which every
        table has and which comes first among its occurrences."""
        if context:
            o = self.occurrences().get(context.casefold())
            if o is not None and o[1] == ti.name:
                return o[0]
        return ti.name

    def scoped_record(self, table: str | None) -> tuple[TableInfo, int] | None:
        """The record a field calculation is evaluated for, when ``table`` (None: unqualified) means it: its
        context occurrence, or another occurrence of its table that the graph does not relate to the context
        (one that it relates, a self-join, means the related record, found through the graph)."""
        if not self._calc_scope:
            return None
        ti, rid, occ = self._calc_scope[-1]
        if table is None or table.casefold() == occ.casefold():
            return ti, rid
        other = self.table_of(table)
        if other is None or other.name != ti.name:
            return None
        return None if self.graph_path(occ, table) else (ti, rid)

    def computed_value(self, occ: str, ti: TableInfo, fi: FieldInfo, opts: FieldOptions, rid: int | None,
                       related: bool = False):
        """The value of an unstored calculation or a summary field, as read.  With ``related`` the record is
        the one ``occ`` means in the current context (the first related record, a portal row; none for an
        unrelated occurrence), and a summary of a related occurrence summarises the related records."""
        base = self.origin()[0] if related else None
        own = base is None or occ.casefold() == base.casefold()
        if opts.kind == "summary":
            if own:
                return self.summarise(ti, opts, list(self.context(occ).found))
            ids = self.related_records(occ)
            return self.summarise(ti, opts, ids) if ids is not None else ""
        if related:
            rid = self.record_for(occ)
        if rid is None:
            return ""
        return self.evaluate_for_record(ti, rid, opts.calc, opts.context)

    def summarise(self, ti: TableInfo, opts: FieldOptions, ids: list[int]):
        """A summary field over ``ids`` (the found set, or one break group of GetSummary)."""
        fn = opts.summary.get("function", "total")
        of = ti.field(opts.summary.get("of", ""))
        if of is None:
            return ""
        of_opts = self.field_options(ti.name, of.name)
        if of_opts is not None and of_opts.kind == "calculation" and not of_opts.stored:
            raw_values = [self.evaluate_for_record(ti, rid, of_opts.calc, of_opts.context) for rid in ids]
        else:
            raw_values = [from_storage(raw, of.type) for raw in self._column_values(ti, of, ids)]
        values = [v for v in raw_values if v != ""]
        if fn == "list":
            return "\n".join(to_text(v) for v in values).replace("\n", "\r") if values else ""
        if fn == "count":
            return Decimal(len(values))
        nums = [n for n in (to_number(v) for v in values) if n is not None]
        if fn == "total":
            return sum(nums, Decimal(0))
        if not nums:
            return ""
        if fn == "average":
            return sum(nums, Decimal(0)) / len(nums)
        return min(nums) if fn == "minimum" else max(nums)

    def _column_values(self, ti: TableInfo, fi: FieldInfo, ids: list[int]) -> list:
        """A column's stored values for ``ids``, in their order: one query per 500 records, not one per record."""
        col, table = qident(fi.name), qident(ti.name)
        by_id: dict[int, object] = {}
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            marks = ",".join("?" * len(chunk))
            by_id.update(self.conn.execute(f"SELECT rowid, {col} FROM {table} WHERE rowid IN ({marks})", chunk))
        return [by_id.get(r) for r in ids]

    def get_summary(self, occurrence: str | None, summary: str, break_field: str):
        """``GetSummary ( summaryField ; breakField )``: the summary over the records of the found set that
        share the current record's break-field value (the whole found set when both are the same field)."""
        occ, ti, fi = self.resolve_field(occurrence, summary)
        opts = self.field_options(ti.name, fi.name)
        if opts is None or opts.kind != "summary":
            raise DataError(f"{ti.name}::{fi.name} is not a summary field", code=E_INVALID_PARAMETER)
        ctx = self.context(occ)
        _bocc, bti, bfi = self.resolve_field(occ, break_field)
        if bfi.name.casefold() == fi.name.casefold():
            return self.summarise(ti, opts, list(ctx.found))
        rid = ctx.current()
        if rid is None:
            return ""
        found = list(ctx.found)
        keys = self._column_values(ti, bfi, found)
        key = keys[found.index(rid)] if rid in found else None
        return self.summarise(ti, opts, [r for r, k in zip(found, keys) if k == key])

    # -- auto-enter ---------------------------------------------------------------------------------------
    def _store_value(self, ti: TableInfo, rid: int, fi: FieldInfo, value) -> None:
        self.conn.execute(f"UPDATE {qident(ti.name)} SET {qident(fi.name)} = ? WHERE rowid = ?",
                          (to_storage(value, fi.type), rid))
        self._row_cache.pop((ti.name, rid), None)

    def _stamp(self, kind: str):
        now = _dt.datetime.now().replace(microsecond=0)
        if kind == "date":
            return now.date().isoformat()
        if kind == "time":
            return now.time().isoformat()
        if kind == "timestamp":
            return now.isoformat(sep=" ")
        session = self._session
        account = session.extensions.get("account") if session is not None else None
        return (account or {}).get("name", "Admin")

    def after_create(self, table: str, rid: int, duplicate: bool = False) -> None:
        """Auto-enter on creation: serial numbers, creation and modification stamps, data, calculations;
        then stored calculations.  A duplicate keeps its copied values but gets a new serial and stamps."""
        defs = self.all_field_options().get(table.casefold())
        if not defs:
            return
        ti = self.tables()[table.casefold()]
        for fi in ti.record_fields:
            opts = defs.get(fi.name.casefold())
            if opts is None or not opts.auto:
                continue
            a = opts.auto
            if "serial" in a and a["serial"].get("generate", "creation") == "creation":
                self._store_value(ti, rid, fi, self.take_serial(ti, fi, opts))
            elif "creation" in a:
                self._store_value(ti, rid, fi, self._stamp(a["creation"]))
            elif "modification" in a:
                self._store_value(ti, rid, fi, self._stamp(a["modification"]))
            elif "data" in a and not duplicate:
                self._store_value(ti, rid, fi, a["data"])
        for fi in ([] if duplicate else ti.record_fields):
            opts = defs.get(fi.name.casefold())
            if opts is not None and "lookup" in opts.auto and "match" not in opts.auto["lookup"]:
                self._lookup(ti, rid, fi, opts.auto["lookup"], on_create=True)
            if opts is not None and "calc" in opts.auto:
                self._store_value(ti, rid, fi, self.evaluate_for_record(ti, rid, opts.auto["calc"],
                                                                        opts.auto.get("context")))
        self._recompute_stored(ti, rid)

    def after_write(self, ti: TableInfo, rid: int, changed: FieldInfo) -> None:
        """A field changed: modification stamps, auto-enter calculations and lookups that depend on it,
        stored calculations."""
        defs = self.all_field_options().get(ti.name.casefold())
        if not defs:
            return
        key = changed.name.casefold()
        for fi in ti.record_fields:
            opts = defs.get(fi.name.casefold())
            if opts is None or not opts.auto or fi.name.casefold() == key:
                continue
            a = opts.auto
            if "modification" in a:
                self._store_value(ti, rid, fi, self._stamp(a["modification"]))
            lk = a.get("lookup")
            if lk and key in self.lookup_match_fields(ti, lk):
                self._lookup(ti, rid, fi, lk)
            if "calc" in a and key in references(a["calc"]):
                current = (self.row(ti.name, rid) or {}).get(fi.name.casefold())
                if a.get("replace", True) or current is None or current == "":
                    self._store_value(ti, rid, fi, self.evaluate_for_record(ti, rid, a["calc"], a.get("context")))
        self._recompute_stored(ti, rid)

    def lookup_match_fields(self, ti: TableInfo, lk: dict) -> set[str]:
        """The casefolded fields of ``ti`` whose change triggers the lookup: the match fields of the first
        relationship on its path (every one of a multi-criteria relationship, as FileMaker)."""
        if "match" in lk:
            return {lk["match"].casefold()}
        hops = self.graph_path(lk.get("start") or ti.name, lk["occurrence"])
        return {c.left.casefold() for c in hops[0].criteria if c.op != "×"} if hops else set()

    def _lookup(self, ti: TableInfo, rid: int, fi: FieldInfo, lk: dict, on_create: bool = False) -> None:
        """Copy the looked-up value into ``fi`` of record ``rid``."""
        if "match" not in lk:
            return self._graph_lookup(ti, rid, fi, lk, on_create)
        other = self.table_of(lk["occurrence"])
        if other is None:
            return
        match_fi, other_match, copy = ti.field(lk["match"]), other.field(lk["other_match"]), other.field(lk["copy"])
        if match_fi is None or other_match is None or copy is None:
            return
        key = (self.row(ti.name, rid) or {}).get(match_fi.name.casefold())
        if key is None:
            return
        found = self.conn.execute(f"SELECT {qident(copy.name)} FROM {qident(other.name)} WHERE "
                                  f"{qident(other_match.name)} = ? ORDER BY rowid LIMIT 1", (key,)).fetchone()
        if found is not None:  # no match: the field keeps its value (FileMaker's "do not copy")
            self._store_value(ti, rid, fi, from_storage(found[0], copy.type))

    def _graph_lookup(self, ti: TableInfo, rid: int, fi: FieldInfo, lk: dict, on_create: bool) -> None:
        """A lookup through the graph: the first related record's value; with none, "If no exact match" decides
        (keep the value, the next lower or higher match's value, or a constant); "Don't copy contents if
        empty" keeps the value when the one to copy is empty.  A new record whose match fields are empty is
        left alone (nothing was entered to look up)."""
        hops = self.graph_path(lk.get("start") or ti.name, lk["occurrence"])
        other = self.table_of(lk["occurrence"])
        copy = other.field(lk.get("copy", "")) if other is not None else None
        if not hops or copy is None:
            return
        crit = [c.left for c in hops[0].criteria if c.op != "×"]
        row = self.source_values(lk.get("start") or ti.name, rid, crit)  # a global key counts (not in the row)
        keys = [row.get(name.casefold()) for name in crit]
        if on_create and all(k is None or k == "" for k in keys):
            return
        found = self.related_query(hops, rid, qident(copy.name), 1)
        how = lk.get("no_match", "none")
        if found:
            raw = found[0][0]
        elif how in ("lower", "higher"):
            nxt = self.next_match(hops, rid, how == "higher")
            if nxt is None:
                return
            raw = (self.row(other.name, nxt) or {}).get(copy.name.casefold())
        elif how == "constant":
            self._store_value(ti, rid, fi, lk.get("constant", ""))
            return
        else:
            return  # "do not copy": the field keeps its value
        if (raw is None or raw == "") and lk.get("skip_empty", True):
            return
        self._store_value(ti, rid, fi, from_storage(raw, copy.type))

    def relookup(self, occurrence: str | None, fname: str) -> int:
        """Relookup Field Contents: every lookup whose match field is ``fname`` copies again, in each record
        of the found set; the records are committed.  Returns how many lookups it found."""
        occ, ti, fi = self.resolve_field(occurrence, fname)
        defs = self.all_field_options().get(ti.name.casefold(), {})
        targets = [(t, defs[t.name.casefold()].auto["lookup"]) for t in ti.record_fields
                   if defs.get(t.name.casefold()) is not None and "lookup" in defs[t.name.casefold()].auto
                   and fi.name.casefold() in self.lookup_match_fields(ti, defs[t.name.casefold()].auto["lookup"])]
        ctx = self.context(occ)
        self.commit()
        if not targets or not ctx.found:
            return len(targets)
        self.begin()
        for rid in ctx.found:
            for target, lk in targets:
                self._lookup(ti, rid, target, lk)
            self._recompute_stored(ti, rid)
            self._dirty.append((ti.name, rid))
        self.commit()
        return len(targets)

    def _recompute_stored(self, ti: TableInfo, rid: int) -> None:
        defs = self.all_field_options().get(ti.name.casefold(), {})
        for fi in ti.record_fields:
            opts = defs.get(fi.name.casefold())
            if opts is not None and opts.kind == "calculation" and opts.stored:
                self._store_value(ti, rid, fi, self.evaluate_for_record(ti, rid, opts.calc, opts.context))

    def _recompute_all(self, ti: TableInfo) -> None:
        if self._session is None:
            return  # computed at the next change of each record
        self.begin()
        for rid in self.all_ids(ti.name):
            self._recompute_stored(ti, rid)
        self.commit()

    def before_commit(self, records: list[tuple[str, int]]) -> None:
        """Serial numbers generated on commit, for the records about to be committed."""
        for table, rid in records:
            defs = self.all_field_options().get(table.casefold())
            if not defs:
                continue
            ti = self.tables()[table.casefold()]
            for fi in ti.record_fields:
                opts = defs.get(fi.name.casefold())
                if opts is not None and opts.auto.get("serial", {}).get("generate") == "commit":
                    row = self.row(ti.name, rid) or {}
                    if row.get(fi.name.casefold()) in (None, ""):
                        self._store_value(ti, rid, fi, self.take_serial(ti, fi, opts))
