"""``fmscript import-xml``: FileMaker's Save a Copy as XML (``<FMSaveAsXML version="2.x">``) → a SQLite file and
a folder of ``.fmscript`` files.

The export is read as a stream (lxml's iterparse; each catalogue item is dropped once read), so a large export
imports in bounded memory.  The database is written to a temporary file and the scripts to a temporary folder, both
renamed into place only when the whole import succeeded.

What lands where: base tables and their fields become tables (types, global storage, repetitions through the data
layer's ``fmscript_fields``); every field's definition as FileMaker wrote it (auto-enter, validation, calculation,
summary) is kept in ``fmscript_import_fields``; occurrences and layouts go to ``fmscript_occurrences`` and
``fmscript_layouts``; relationships, value lists, custom functions, privilege sets and accounts are kept as rows of
``fmscript_import_*`` tables (the data layer does not use them yet).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from lxml import etree

from ..data.database import INTERNAL_PREFIX, Database, qident
from ..data.values import DECLARED
from ..errors import E_TABLE_MISSING, E_XML_PARSE, DataError, FMScriptError, UsageError
from . import mapping, saxml
from .steps import OWN, step_to_text, steps_to_text

IMPORT_SQL = """
CREATE TABLE IF NOT EXISTS fmscript_import_fields (table_name TEXT NOT NULL, field_name TEXT NOT NULL,
    field_id TEXT, kind TEXT NOT NULL, data_type TEXT NOT NULL, global INTEGER NOT NULL, repetitions INTEGER NOT NULL,
    comment TEXT, calculation TEXT, auto_enter TEXT, validation TEXT, summary TEXT,
    PRIMARY KEY (table_name, field_name));
CREATE TABLE IF NOT EXISTS fmscript_import_occurrences (occurrence TEXT PRIMARY KEY, table_name TEXT,
    data_source TEXT, detail TEXT);
CREATE TABLE IF NOT EXISTS fmscript_import_layouts (layout TEXT PRIMARY KEY, occurrence TEXT, folder TEXT,
    portals TEXT);
CREATE TABLE IF NOT EXISTS fmscript_import_relationships (id TEXT PRIMARY KEY, left_occurrence TEXT,
    right_occurrence TEXT, predicates TEXT NOT NULL, detail TEXT);
CREATE TABLE IF NOT EXISTS fmscript_import_value_lists (name TEXT PRIMARY KEY, id TEXT, detail TEXT);
CREATE TABLE IF NOT EXISTS fmscript_import_custom_functions (name TEXT PRIMARY KEY, id TEXT, parameters TEXT,
    calculation TEXT);
CREATE TABLE IF NOT EXISTS fmscript_import_privilege_sets (name TEXT PRIMARY KEY, id TEXT);
CREATE TABLE IF NOT EXISTS fmscript_import_accounts (name TEXT PRIMARY KEY, privilege_set TEXT, detail TEXT);
CREATE TABLE IF NOT EXISTS fmscript_import_unmapped (kind TEXT NOT NULL, name TEXT NOT NULL, what TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS fmscript_import_scripts (path TEXT PRIMARY KEY, name TEXT NOT NULL, id TEXT,
    steps INTEGER NOT NULL, not_converted INTEGER NOT NULL);
"""

#: FileMaker's data types → the data layer's field types (a container is kept as text: fmscript has no
#: container storage; the real type stays in ``fmscript_import_fields``).
DATA_TYPES = {"text": "text", "number": "number", "date": "date", "time": "time", "timestamp": "timestamp",
              "binary": "text", "container": "text"}

#: Catalogues of ``Structure/AddAction`` that are read, and those known and deliberately skipped.
READ = {"BaseTableCatalog", "TableOccurrenceCatalog", "FieldsForTables", "LayoutCatalog", "RelationshipCatalog",
        "ValueListCatalog", "OptionsForValueLists", "CustomFunctionsCatalog", "CalcsForCustomFunctions",
        "ScriptCatalog", "StepsForScripts", "PrivilegeSetsCatalog", "AccountsCatalog"}
SKIPPED = {"BaseDirectoryCatalog", "ExternalDataSourceCatalog", "ThemeCatalog", "ExtendedPrivilegesCatalog",
           "CustomMenuCatalog", "CustomMenuSetCatalog", "FileAccessCatalog", "LibraryCatalog", "Library",
           "PasteIndexList", "UUID", "TagList"}
TOP = {"Structure", "Metadata", "DDR_INFO"}
#: The elements read as one item each (anything else inside a catalogue is read as part of one).
ITEMS = {"BaseTable", "FieldCatalog", "TableOccurrence", "Layout", "Relationship", "ValueList", "CustomFunction",
         "PrivilegeSet", "Account", "Script", "Step"}


KEPT_WARNINGS = 1000  # a summary keeps this many warnings (all are counted, and all go to the callback)


@dataclass
class Summary:
    counts: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    warning_count: int = 0

    def add(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n

    def lines(self) -> list[str]:
        order = ["tables", "fields", "occurrences", "layouts", "relationships", "value lists", "custom functions",
                 "privilege sets", "accounts", "scripts", "steps", "steps from DDR_INFO", "steps not converted",
                 "field options", "relationships in the graph", "value lists defined", "portals",
                 "custom functions in scripts", "not mapped"]
        return [f"{k}: {self.counts.get(k, 0)}" for k in order] + [f"warnings: {self.warning_count}"]


def _text(el) -> str | None:
    return saxml.calc_text(el)


def _js(obj) -> str:
    return json.dumps(obj, ensure_ascii=False)


MARK = "\x00"  # a step's place in a script file until DDR_INFO is read (no script text holds NUL)
MARKED = re.compile("\x00(\\d+)\x00")

SAFE = re.compile(r'[/\\:*?"<>|\x00-\x1f]')


def safe_name(name: str) -> str:
    s = SAFE.sub("_", name).strip().strip(".") or "_"
    return s[:120]


class Importer:
    def __init__(self, source: str | Path, db_path: str | Path, scripts_dir: str | Path | None = None,
                 warn: Callable[[str], None] | None = None):
        self.source, self.db_path = Path(source), Path(db_path)
        self.scripts_dir = Path(scripts_dir) if scripts_dir is not None else None
        self.warn_cb = warn
        self.summary = Summary()
        self.tables: dict[str, str] = {}          # base table id → name
        self.created: set[str] = set()
        self.sql_names: set[str] = set()
        self.script_paths: dict[str, Path] = {}   # script id → relative path of its file
        self.script_names: dict[str, str] = {}
        self.used_paths: set[str] = set()
        self.pending: list[tuple[Path, str, str, list[str]]] = []  # scripts waiting for DDR_INFO's step texts
        self.waiting: list[tuple[tuple, str, str | None, str | None, str | None]] = []
        self.wanted: set[str] = set()
        self.step_texts: dict[str, str] = {}
        self.layout_position = 0
        # the schema, kept until the data layer is given it (small beside the scripts: no step is kept)
        self.occurrence_rows: list[tuple[str, str]] = []            # (occurrence, base table), local ones
        self.relationship_rows: list[dict] = []
        self.field_rows: dict[tuple[str, str], list] = {}          # (table, field) → [options, lookup, problems]
        self.portal_rows: list[tuple[str, str, str]] = []           # (layout, object name, occurrence)

    # -- reporting --------------------------------------------------------------------------------------
    def warn(self, message: str) -> None:
        self.summary.warning_count += 1
        if len(self.summary.warnings) < KEPT_WARNINGS:
            self.summary.warnings.append(message)
        if self.warn_cb:
            self.warn_cb(message)

    # -- the run ----------------------------------------------------------------------------------------
    def run(self) -> Summary:
        if not self.source.is_file():
            raise UsageError(f"cannot read {self.source}: no such file")
        if self.scripts_dir is not None and self.scripts_dir.exists() and (
                not self.scripts_dir.is_dir() or any(self.scripts_dir.iterdir())):
            raise UsageError(f"{self.scripts_dir} already exists and is not an empty folder; "
                             "choose another --scripts folder")
        out_dir = self.db_path.resolve().parent
        if not out_dir.is_dir():
            raise UsageError(f"cannot write {self.db_path}: the folder {out_dir} does not exist")
        fd, tmp = tempfile.mkstemp(prefix=f".{self.db_path.name}.", suffix=".part", dir=out_dir)
        os.close(fd)
        os.unlink(tmp)  # SQLite creates it (mode follows the umask; tightened below)
        self.tmp_db = Path(tmp)
        self.tmp_scripts: Path | None = None
        if self.scripts_dir is not None:
            parent = self.scripts_dir.resolve().parent
            parent.mkdir(parents=True, exist_ok=True)
            self.tmp_scripts = Path(tempfile.mkdtemp(prefix=f".{self.scripts_dir.name}.", suffix=".part",
                                                     dir=parent))
        self.db = None
        try:
            self.db = Database(self.tmp_db)
            os.chmod(self.tmp_db, 0o600)
            self.db.ensure_metadata()
            for stmt in IMPORT_SQL.split(";"):
                if stmt.strip():
                    self.db.conn.execute(stmt)
            self.db.conn.execute("BEGIN")
            self._parse()
            self._finish_tables()
            self._finish_scripts()
            self.db.conn.execute("INSERT OR REPLACE INTO fmscript_meta VALUES ('imported_from', ?)",
                                 (self.source.name,))
            self.db.conn.execute("COMMIT")
            # The data layer's objects through its own API (each call its own transaction, all still in the
            # temporary file): graph, field options, value lists, portals; then the custom functions.
            self.db.conn.execute("PRAGMA synchronous=OFF")  # a temporary file: renamed only when all is done
            self.db.invalidate_schema()
            self._map()
            self._functions_into_scripts()
            self.db.close()
            self.db = None
            for extra in ("-wal", "-shm"):
                Path(str(self.tmp_db) + extra).unlink(missing_ok=True)
            if self.tmp_scripts is not None:
                if self.scripts_dir.exists():
                    self.scripts_dir.rmdir()
                self.tmp_scripts.replace(self.scripts_dir)
            self.tmp_db.replace(self.db_path)
        except BaseException:
            if self.db is not None:
                try:
                    self.db.conn.close()
                except sqlite3.Error:
                    pass
            for extra in ("", "-wal", "-shm", "-journal"):
                Path(str(self.tmp_db) + extra).unlink(missing_ok=True)
            if self.tmp_scripts is not None and self.tmp_scripts.exists():
                shutil.rmtree(self.tmp_scripts, ignore_errors=True)
            raise
        return self.summary

    def _parse(self) -> None:
        stack: list[str] = []
        groups: list[str] = []     # ScriptCatalog's open Group (folder) names
        layout_groups: list[str] = []
        script_steps: list = []
        try:
            context = etree.iterparse(str(self.source), events=("start", "end"), huge_tree=True,
                                      remove_comments=True, resolve_entities=False, no_network=True)
            for event, el in context:
                tag = el.tag if isinstance(el.tag, str) else ""
                if event == "start":
                    depth = len(stack)
                    stack.append(tag)
                    if depth == 0:
                        if tag != "FMSaveAsXML":
                            raise FMScriptError(f"{self.source}:{el.sourceline}: this is not a Save-as-XML export "
                                                f"(the root is <{tag}>, not <FMSaveAsXML>)", code=E_XML_PARSE)
                    elif depth == 1 and tag not in TOP:
                        self.warn(f"{self.source}:{el.sourceline}: <{tag}> is not known; skipped")
                    elif depth == 3 and stack[1:3] == ["Structure", "ModifyAction"] and tag != "FieldsForTables":
                        self.warn(f"{self.source}:{el.sourceline}: <ModifyAction><{tag}> is not read; skipped")
                    elif depth == 2 and stack[1] == "Structure" and tag not in ("AddAction", "ModifyAction"):
                        self.warn(f"{self.source}:{el.sourceline}: <Structure><{tag}> is not read (fmscript "
                                  "reads a whole file's AddAction); skipped")
                    elif depth == 3 and stack[1:3] == ["Structure", "AddAction"] and tag not in READ | SKIPPED:
                        self.warn(f"{self.source}:{el.sourceline}: <{tag}> is not known; skipped")
                    elif tag == "Group" and len(stack) >= 5 and stack[3] in ("ScriptCatalog", "LayoutCatalog"):
                        (groups if stack[3] == "ScriptCatalog" else layout_groups).append(el.get("name", ""))
                    continue
                # end
                stack.pop()
                depth = len(stack)  # the depth of el
                if depth < 3:
                    if depth >= 1:
                        el.clear()
                    continue
                path = stack
                catalog = path[3] if len(path) > 3 else tag
                in_structure = len(path) > 2 and path[1] == "Structure" and path[2] == "AddAction"
                if in_structure and depth >= 4 and catalog in READ and (
                        tag in ITEMS or catalog == "CalcsForCustomFunctions"):
                    self._item(catalog, tag, el, path, groups, layout_groups, script_steps)
                elif (depth == 4 and tag == "FieldCatalog" and path[1:4] == ["Structure", "ModifyAction",
                                                                              "FieldsForTables"]):
                    self._modified_fields(el)
                elif path[1:2] == ["DDR_INFO"] and el.get("datatype") == "StepText":
                    self._step_text(el)
                if tag == "Group" and depth >= 4 and catalog in ("ScriptCatalog", "LayoutCatalog"):
                    (groups if catalog == "ScriptCatalog" else layout_groups).pop()
                # drop what was read: an item of a catalogue, a script's step, a layout or script in a folder
                # (a step inside a step's options, or a button's step on a layout, goes with its holder)
                if depth == 4 or (catalog == "StepsForScripts" and tag == "Step" and depth == 6) or (
                        (catalog, tag) in (("LayoutCatalog", "Layout"), ("ScriptCatalog", "Script"))):
                    el.clear()
                    parent = el.getparent()
                    if parent is not None:
                        parent.remove(el)
        except etree.XMLSyntaxError as e:
            line, col = e.position if e.position else (e.lineno or 0, 0)
            raise FMScriptError(f"{self.source}:{line}:{col}: the XML cannot be read: {e.msg.split(', line')[0]}",
                                code=E_XML_PARSE) from None

    # -- catalogue items --------------------------------------------------------------------------------
    def _item(self, catalog, tag, el, path, groups, layout_groups, script_steps) -> None:
        depth = len(path)
        if catalog == "BaseTableCatalog" and tag == "BaseTable":
            self.tables[el.get("id", "")] = el.get("name", "")
        elif catalog == "FieldsForTables" and tag == "FieldCatalog" and depth == 4:
            self._fields(el)
        elif catalog == "TableOccurrenceCatalog" and tag == "TableOccurrence":
            self._occurrence(el)
        elif catalog == "LayoutCatalog" and tag == "Layout":
            self._layout(el, layout_groups)
        elif catalog == "RelationshipCatalog" and tag == "Relationship":
            self._relationship(el)
        elif catalog in ("ValueListCatalog", "OptionsForValueLists") and tag == "ValueList" and depth == 4:
            self._value_list(el)
        elif catalog == "CustomFunctionsCatalog" and tag == "CustomFunction":
            self._custom_function(el)
        elif catalog == "CalcsForCustomFunctions" and el.find("CustomFunctionReference") is not None:
            ref = el.find("CustomFunctionReference")
            if ref is not None:
                self.db.conn.execute("UPDATE fmscript_import_custom_functions SET calculation = ? WHERE name = ?",
                                     (_text(el.find("Calculation")), ref.get("name", "")))
        elif catalog == "PrivilegeSetsCatalog" and tag == "PrivilegeSet":
            self.db.conn.execute("INSERT OR REPLACE INTO fmscript_import_privilege_sets VALUES (?, ?)",
                                 (el.get("name", ""), el.get("id")))
            self.summary.add("privilege sets")
        elif catalog == "AccountsCatalog" and tag == "Account":
            ps = el.find(".//PrivilegeSetReference")
            detail = {k: v for k, v in el.attrib.items() if k not in ("name",) and "password" not in k.lower()}
            name = el.get("name") or el.findtext(".//AccountName") or ""  # FileMaker 22: Authentication/AccountName
            self.db.conn.execute("INSERT OR REPLACE INTO fmscript_import_accounts VALUES (?, ?, ?)",
                                 (name, ps.get("name") if ps is not None else None, _js(detail)))
            self.summary.add("accounts")
        elif catalog == "ScriptCatalog" and tag == "Script":
            self._catalog_script(el, groups)
        elif catalog == "StepsForScripts":
            if tag == "Step" and depth == 6:
                script_steps.append(self._step(el))  # converted now; the element is dropped
                return
            if tag == "Script" and depth == 4:
                self._script(el, script_steps)
                script_steps.clear()

    def _fields(self, el) -> None:
        ref = el.find("BaseTableReference")
        table = ref.get("name", "") if ref is not None else ""
        if not table:
            self.warn(f"{self.source}:{el.sourceline}: <FieldCatalog> without a <BaseTableReference>; skipped")
            return
        fields = []
        for f in el.iter("Field"):
            if f.getparent() is None or f.getparent().tag != "ObjectList":
                continue
            name = f.get("name", "")
            kind = f.get("fieldtype", "Normal")
            dtype = f.get("datatype", "Text")
            storage = f.find("Storage")
            is_global = storage is not None and storage.get("global", "False") == "True"
            try:
                reps = int(storage.get("maxRepetitions", "1")) if storage is not None else 1
            except ValueError:
                reps = 1
            ftype = DATA_TYPES.get(dtype.lower())
            if ftype is None:
                self.warn(f"{self.source}:{f.sourceline}: field “{table}::{name}” has the data type “{dtype}”, "
                          "which fmscript does not know; kept as text")
                ftype = "text"
            calc = f.find("Calculation")
            parts = {k: f.find(k) for k in ("AutoEnter", "Validation", "SummaryInfo", "Summary")}
            summary = parts["SummaryInfo"] if parts["SummaryInfo"] is not None else parts["Summary"]
            fields.append((name, ftype, is_global, max(reps, 1)))
            self.field_rows[(table, name)] = list(mapping.field_options(f))
            self.db.conn.execute(
                "INSERT OR REPLACE INTO fmscript_import_fields VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (table, name, f.get("id"), kind, dtype, int(is_global), max(reps, 1), f.get("comment"),
                 _text(calc) if calc is not None else None, self._definition(parts["AutoEnter"]),
                 self._definition(parts["Validation"]), self._definition(summary)))
            self.summary.add("fields")
        self._create_table(table, fields)

    def _modified_fields(self, el) -> None:
        """FileMaker writes a calculation that refers to fields defined after it a second time, in
        ``<ModifyAction>``: it replaces the one kept."""
        ref = el.find("BaseTableReference")
        table = ref.get("name", "") if ref is not None else ""
        for f in el.iter("FieldReference"):
            calc = f.find("Calculation")
            if calc is not None and table:
                row = self.field_rows.get((table, f.get("name", "")))
                if row is not None and row[0].get("kind") == "calculation":
                    row[0]["calc"] = mapping.calc_of(f)
                self.db.conn.execute("UPDATE fmscript_import_fields SET calculation = ? WHERE table_name = ? AND "
                                     "field_name = ?", (_text(calc), table, f.get("name", "")))

    @staticmethod
    def _definition(el) -> str | None:
        """A field option as FileMaker wrote it (its XML), so that nothing of it is lost until the data layer
        reads field definitions."""
        if el is None:
            return None
        return etree.tostring(el, encoding="unicode", with_tail=False)

    def _create_table(self, table: str, fields) -> None:
        if table.casefold() in self.created:
            self.warn(f"{self.source}: the fields of “{table}” are listed twice; the second list is skipped")
            return
        seen, unique = set(), []
        for f in fields:
            if f[0].casefold() not in seen:
                seen.add(f[0].casefold())
                unique.append(f)
        if table.startswith(INTERNAL_PREFIX) or table.startswith("sqlite_") or table.casefold() in self.sql_names:
            self.warn(f"{self.source}: table “{table}” not created: the name is taken or reserved for fmscript")
            return
        # The DDL of Schema.create_table, without re-reading the whole schema for each table (that is quadratic
        # in the number of tables of a large solution).
        cols = ", ".join(f"{qident(n)} {DECLARED[t]}" for n, t, _, _ in unique) or "fmscript_empty TEXT"
        self.db.conn.execute(f"CREATE TABLE {qident(table)} ({cols})")
        self.db.conn.executemany("INSERT OR REPLACE INTO fmscript_fields VALUES (?, ?, ?, ?, ?)",
                                 [(table, n, t, int(g), reps) for n, t, g, reps in unique])
        self.sql_names.add(table.casefold())
        self.created.add(table.casefold())
        self.summary.add("tables")

    def _finish_tables(self) -> None:
        for name in self.tables.values():
            if name and name.casefold() not in self.created:
                self._create_table(name, [])

    def _occurrence(self, el) -> None:
        name = el.get("name", "")
        ref = el.find(".//BaseTableReference")
        table = ref.get("name") if ref is not None else None
        src = el.find(".//DataSourceReference")
        source = src.get("name") if src is not None and src.get("id", "0") not in ("0", "") else None
        external = source is not None or el.get("type", "Local") not in ("Local", "")
        self.db.conn.execute("INSERT OR REPLACE INTO fmscript_import_occurrences VALUES (?, ?, ?, ?)",
                             (name, table, source, _js({k: v for k, v in el.attrib.items() if k != "name"})))
        if table and not external and name.casefold() != table.casefold():
            self.occurrence_rows.append((name, table))
        elif external:
            self._unmapped("occurrence", name, f"an occurrence of {source or 'another file'}'s table "
                           f"“{table or '?'}” (fmscript opens one file)", warn=False)
        self.summary.add("occurrences")

    def _layout(self, el, folders) -> None:
        if self._folder_item(el, folders):
            return
        name = el.get("name", "")
        occ = el.find("TableOccurrenceReference")
        if occ is None:
            occ = next((r for r in el.iter("TableOccurrenceReference")
                        if r.getparent() is not None and r.getparent().tag in ("Layout", "Table")), None)
        portals = []
        for obj in el.iter("LayoutObject"):
            if obj.get("type") == "Portal":
                ref = obj.find("Portal/TableOccurrenceReference")
                if ref is None:
                    ref = obj.find(".//TableOccurrenceReference")
                portals.append(ref.get("name") if ref is not None else None)
                if ref is not None:
                    self.portal_rows.append((el.get("name", ""), obj.get("name") or "", ref.get("name", "")))
        occurrence = occ.get("name", "") if occ is not None else ""
        self.db.conn.execute("INSERT OR REPLACE INTO fmscript_import_layouts VALUES (?, ?, ?, ?)",
                             (name, occurrence, "/".join(folders), _js(portals)))
        if occurrence:
            self.layout_position += 1
            self.db.conn.execute("INSERT OR REPLACE INTO fmscript_layouts VALUES (?, ?, ?)",
                                 (name, occurrence, self.layout_position))
        self.summary.add("layouts")

    def _relationship(self, el) -> None:
        def side(tag):
            s = el.find(tag)
            r = s.find(".//TableOccurrenceReference") if s is not None else None
            return (r.get("name") if r is not None else None), (dict(s.attrib) if s is not None else {})

        left, lopts = side("LeftTable")
        right, ropts = side("RightTable")
        preds = []
        for jp in el.iter("JoinPredicate"):
            lf, rf = jp.find("LeftField/FieldReference"), jp.find("RightField/FieldReference")
            preds.append({"type": jp.get("type"), "left": lf.get("name") if lf is not None else None,
                          "right": rf.get("name") if rf is not None else None})
        sorts = {}
        problems = []
        for tag, occ in (("LeftTable", left), ("RightTable", right)):
            text, why = mapping.sort_text(el.find(tag))
            if text and occ:
                sorts[occ] = text
            problems += why
        self.relationship_rows.append({"id": el.get("id", ""), "left": left, "right": right, "preds": preds,
                                       "create": [o for o, d in ((left, lopts), (right, ropts))
                                                  if d.get("cascadeCreate") == "True" and o],
                                       "delete": [o for o, d in ((left, lopts), (right, ropts))
                                                  if d.get("cascadeDelete") == "True" and o],
                                       "sort": sorts, "problems": problems})
        self.db.conn.execute("INSERT OR REPLACE INTO fmscript_import_relationships VALUES (?, ?, ?, ?, ?)",
                             (el.get("id", str(self.summary.counts.get("relationships", 0))), left, right,
                              _js(preds), _js({"left": lopts, "right": ropts})))
        self.summary.add("relationships")

    def _value_list(self, el) -> None:
        ref = el.find("ValueListReference")  # OptionsForValueLists names its list by reference
        name = el.get("name") or (ref.get("name", "") if ref is not None else "")
        vid = el.get("id") or (ref.get("id") if ref is not None else None)
        detail = {}
        src = el.find(".//Source")
        if src is not None and src.get("value"):
            detail["source"] = src.get("value")
        custom = el.find(".//CustomValues")
        if custom is not None:
            text = custom.findtext(".//Text") or ""
            detail["values"] = [v for v in text.replace("\r\n", "\n").replace("\r", "\n").split("\n") if v]
        refs = [f for f in el.iter("FieldReference") if f.get("name")]
        if refs:
            detail["fields"] = [f.get("name") for f in refs]
            occ = refs[0].find("TableOccurrenceReference")
            if occ is not None:
                detail["occurrence"] = occ.get("name")
        related = el.find("Field/ShowRelated")
        if related is not None and related.get("value") == "True":
            detail["related"] = True
        row = self.db.conn.execute("SELECT detail FROM fmscript_import_value_lists WHERE name = ?", (name,)).fetchone()
        if row:
            detail = {**json.loads(row[0] or "{}"), **detail}
        else:
            self.summary.add("value lists")
        self.db.conn.execute("INSERT OR REPLACE INTO fmscript_import_value_lists VALUES (?, ?, ?)",
                             (name, vid, _js(detail)))

    def _custom_function(self, el) -> None:
        if el.get("isFolder") in ("True", "Marker") or el.get("isSeparatorItem") == "True":
            return  # the Manage Custom Functions dialog's folders
        params = [p.get("name") for p in el.iter("Parameter") if p.get("name") is not None]
        if not params:
            plist = el.findtext("Parameters") or el.get("parameters") or ""
            params = [p.strip() for p in plist.split(";") if p.strip()]
        calc = el.find("Calculation")
        self.db.conn.execute("INSERT OR REPLACE INTO fmscript_import_custom_functions VALUES (?, ?, ?, ?)",
                             (el.get("name", ""), el.get("id"), _js(params),
                              _text(calc) if calc is not None else None))
        self.summary.add("custom functions")

    # -- into the data layer ----------------------------------------------------------------------------
    def _unmapped(self, kind: str, name: str, what: str, warn: bool = True) -> None:
        """Something of the export the data layer cannot hold: reported, and listed in
        ``fmscript_import_unmapped`` (its FileMaker definition stays in its ``fmscript_import_*`` row)."""
        self.db.conn.execute("INSERT INTO fmscript_import_unmapped VALUES (?, ?, ?)", (kind, name, what))
        self.summary.add("not mapped")
        if warn:
            self.warn(f"{kind} “{name}”: {what} is not mapped; kept in the fmscript_import_ tables")

    def _map(self) -> None:
        db = self.db
        for name, table in self.occurrence_rows:
            try:
                db.add_occurrence(name, table)
            except DataError as e:
                self._unmapped("occurrence", name, e.message)
        for r in self.relationship_rows:
            label = f"{r['left']} — {r['right']}"
            crit, bad = [], []
            for p in r["preds"]:
                op = mapping.JOIN_OPS.get(p["type"] or "")
                if op is None or not p["left"] or not p["right"]:
                    bad.append(f"the join “{p['type']}”")
                else:
                    crit.append((r["left"], p["left"], op, r["right"], p["right"]))
            if bad or not crit or not r["left"] or not r["right"]:
                self._unmapped("relationship", label, ", ".join(bad) or "a relationship without its occurrences")
                continue
            try:
                db.relate(crit, allow_creation=tuple(r["create"]), delete_related=tuple(r["delete"]),
                          sort=r["sort"] or None)
            except DataError as e:
                self._unmapped("relationship", label, e.message)
                continue
            self.summary.add("relationships in the graph")
            for why in r["problems"]:
                self._unmapped("relationship", label, why)
        for name, detail in db.conn.execute("SELECT name, detail FROM fmscript_import_value_lists").fetchall():
            d = json.loads(detail or "{}")
            try:
                if d.get("source") == "Custom" or "values" in d:
                    db.define_value_list(name, d.get("values", []))
                elif d.get("fields") and d.get("occurrence"):
                    ti = db.table_of(d["occurrence"])
                    if ti is None:
                        raise DataError(f"its occurrence “{d['occurrence']}” is not in this file", code=E_TABLE_MISSING)
                    db.define_value_list(name, table=ti.name, fname=d["fields"][0])
                    if len(d["fields"]) > 1 or d.get("related"):
                        self._unmapped("value list", name, "a second field, or only related values (fmscript "
                                       "lists the first field's values of every record)")
                else:
                    self._unmapped("value list", name, f"a value list from “{d.get('source', '?')}”")
                    continue
            except DataError as e:
                self._unmapped("value list", name, e.message)
                continue
            self.summary.add("value lists defined")
        for (table, fname), (opts, lookup, problems) in self.field_rows.items():
            label = f"{table}::{fname}"
            for why in problems:
                self._unmapped("field", label, why)
            if lookup is not None:
                lk = mapping.lookup_options(db, table, lookup) if db.table_of(table) is not None else "its table"
                if isinstance(lk, str):
                    self._unmapped("field", label, lk)
                else:
                    opts.setdefault("auto", {})["lookup"] = lk
            if not opts:
                continue
            try:
                db.define_field(table, fname, opts)
            except (DataError, FMScriptError) as e:
                self._unmapped("field", label, f"its options ({e.message})")
                continue
            self.summary.add("field options")
        self.field_rows.clear()
        for layout, obj, occ in self.portal_rows:
            try:
                db.add_portal(layout, occ, obj or None)
            except DataError as e:
                self._unmapped("portal", f"{layout}: {obj or occ}", e.message)
                continue
            self.summary.add("portals")
        db.commit()

    def _functions_into_scripts(self) -> None:
        """Each script file carries the file's custom functions it calls (and those the field calculations call),
        so that it runs and checks on its own; one fmscript cannot compile is reported and left out."""
        defs = [(n, json.loads(p or "[]"), c or "") for n, p, c in self.db.conn.execute(
            "SELECT name, parameters, calculation FROM fmscript_import_custom_functions")]
        if not defs:
            return
        blocks, refused = mapping.usable_functions(defs)
        for name, why in refused.items():
            self._unmapped("custom function", name, f"its calculation ({why})")
        if not blocks or self.tmp_scripts is None:
            return
        bodies = {k: b for k, b in blocks.items()}
        field_calcs = " ".join(json.loads(o).get("calc", "") + " " + json.dumps(json.loads(o).get("auto", {}))
                               + json.dumps(json.loads(o).get("validate", {}))
                               for (o,) in self.db.conn.execute("SELECT options FROM fmscript_field_options"))
        always = mapping.names_used(field_calcs, bodies)

        def closure(start: set[str]) -> set[str]:
            seen, todo = set(), list(start)
            while todo:
                n = todo.pop()
                if n not in seen:
                    seen.add(n)
                    todo += mapping.names_used(bodies[n], bodies) - seen
            return seen

        order = list(bodies)
        used_anywhere: set[str] = set()
        for path in sorted(self.tmp_scripts.rglob("*.fmscript")):
            text = path.read_text(encoding="utf-8")
            need = closure(mapping.names_used(text, bodies) | always)
            if not need:
                continue
            used_anywhere |= need
            path.write_text("".join(bodies[n] for n in order if n in need) + text, encoding="utf-8")
        self.summary.add("custom functions in scripts", len(used_anywhere))

    # -- scripts ----------------------------------------------------------------------------------------
    @staticmethod
    def _folder_item(el, folders: list[str]) -> bool:
        """A folder's start (``isFolder="True"``) or end (``isFolder="Marker"``), as FileMaker writes a
        catalogue's folders flat between its items (or a separator): True when ``el`` is one."""
        kind = el.get("isFolder")
        if kind == "True":
            folders.append(el.get("name", ""))
            return True
        if kind == "Marker":
            if folders:
                folders.pop()
            return True
        return el.get("isSeparatorItem") == "True"

    def _catalog_script(self, el, folders) -> None:
        if self._folder_item(el, folders):
            return
        name = el.get("name", "")
        rel = Path(*[safe_name(g) for g in folders]) / safe_name(name)
        key = str(rel).casefold()
        n = 2
        while key in self.used_paths:
            rel = rel.with_name(f"{safe_name(name)} ({n})")
            key, n = str(rel).casefold(), n + 1
        self.used_paths.add(key)
        self.script_paths[el.get("id", "")] = rel
        self.script_names[el.get("id", "")] = name

    @staticmethod
    def _step(el):
        snip, unknown = saxml.to_snippet_step(el)  # lxml's element reads as the standard library's
        if saxml.needs_text(el, snip, unknown):
            return snip, (saxml.ddr_key(el), el.get("hash"))
        return snip, None

    def _script(self, el, steps) -> None:
        ref = el.find("ScriptReference")
        sid = ref.get("id", "") if ref is not None else ""
        name = ref.get("name", "") if ref is not None else ""
        if sid not in self.script_paths:
            self._catalog_script(ET.Element("Script", id=sid, name=name), [])
        converted, tokens = [], []
        for snip, keys in steps:
            if keys is None:
                converted.append(snip)
                continue
            # DDR_INFO comes at the end of the export: the step is written as a marker now and replaced then.
            # What waits is its attributes, its fallback line and two keys, never the step's XML.
            token = str(len(self.waiting))
            fallback, problem = step_to_text(snip)
            self.waiting.append(((snip.get("enable"), snip.get("id"), snip.get("name")), fallback, problem,
                                 keys[0], keys[1]))
            self.wanted.update(k for k in keys if k)
            marker = ET.Element("Step", dict(snip.attrib))
            ET.SubElement(marker, OWN).text = f"{MARK}{token}{MARK}"
            converted.append(marker)
            tokens.append(token)
        self.summary.add("scripts")
        self.summary.add("steps", len(converted))
        rel = self._write_script(sid, name, converted)
        if tokens:
            self.pending.append((rel, sid, name, tokens))

    def _step_text(self, el) -> None:
        keys = {el.tag, el.get("hash")} - {None, "_"}
        for k in keys & self.wanted:
            self.step_texts[k] = el.text or ""

    def _resolved(self, token: str, name: str) -> str:
        """The line of a step that waited for DDR_INFO: FileMaker's text when the export has it, else the
        comment naming the element (reported)."""
        attrib, fallback, problem, key, hash_ = self.waiting[int(token)]
        text = self.step_texts.get(key or "")
        if text is None:
            text = self.step_texts.get(hash_ or "")
        if text is not None:
            enable, sid, sname = attrib
            with_text = saxml.with_step_text(ET.Element("Step", enable=enable or "True", id=sid or "0",
                                                        name=sname or ""), text)
            if with_text is not None:
                self.summary.add("steps from DDR_INFO")
                return step_to_text(with_text)[0]
        if problem:
            self.warn(f"script “{name}”: {problem}")
        if fallback.lstrip().startswith("# fmscript could not convert <"):
            self.summary.add("steps not converted")
        return fallback

    def _finish_scripts(self) -> None:
        for rel, sid, name, tokens in self.pending:
            lines = {t: self._resolved(t, name) for t in tokens}
            missing = sum(1 for ln in lines.values() if ln.lstrip().startswith("# fmscript could not convert <"))
            if missing:
                self.db.conn.execute("UPDATE fmscript_import_scripts SET not_converted = not_converted + ? "
                                     "WHERE path = ?", (missing, str(rel) + ".fmscript"))
            if self.tmp_scripts is None:
                continue
            target = self.tmp_scripts / (str(rel) + ".fmscript")
            out = []
            for line in target.read_text(encoding="utf-8").split("\n"):
                m = MARKED.search(line)
                if m:
                    indent = line[:len(line) - len(line.lstrip())]
                    line = "\n".join(indent + ln for ln in lines[m.group(1)].split("\n"))
                out.append(line)
            target.write_text("\n".join(out), encoding="utf-8")
        self.pending.clear()
        self.waiting.clear()

    def _write_script(self, sid: str, name: str, steps) -> Path:
        problems: list[str] = []
        body = steps_to_text(steps, problems)
        rel = self.script_paths[sid]
        not_converted = body.count("# fmscript could not convert <")
        self.summary.add("steps not converted", not_converted)
        for p in problems:
            self.warn(f"script “{name}”: {p}")
        self.db.conn.execute("INSERT OR REPLACE INTO fmscript_import_scripts VALUES (?, ?, ?, ?, ?)",
                             (str(rel) + ".fmscript", name, sid, len(steps), not_converted))
        if self.tmp_scripts is None:
            return rel
        target = self.tmp_scripts / (str(rel) + ".fmscript")
        folder = self.tmp_scripts
        for part in rel.parts[:-1]:
            folder = folder / part
            folder.mkdir(mode=0o700, exist_ok=True)  # owner-only, as every folder fmscript writes
        if safe_name(name) != name:
            # the file's name cannot hold the script's: say it inside
            quoted = name.replace('"', '""')
            body = f'Script "{quoted}"\n' + "".join(f"  {ln}\n" if ln else "\n" for ln in body.splitlines()) \
                + "End Script\n"
        target.write_text(body, encoding="utf-8")
        os.chmod(target, 0o600)
        return rel


def import_xml(source, db_path, scripts_dir=None, warn=None) -> Summary:
    """Import a Save-as-XML export; see :class:`Importer`."""
    return Importer(source, db_path, scripts_dir, warn).run()
