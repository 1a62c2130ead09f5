"""Record steps (FileMaker's Records category): new, duplicate, delete, commit, revert; import and export.
"""
from __future__ import annotations

from ...calc import ast as C
from ...errors import E_RECORD_MISSING, E_TABLE_MISSING, StepError
from .. import ast as S
from . import step
from .data_access import DIALOG, calc_options, committed, data_errors, database, name_of

@step("New Record/Request", guard=data_errors)
def new_record(st: S.Step, c):
    """Adds a record (in find mode: a find request) and makes it current; Commit Records saves it."""
    def run(f):
        from ...data.finds import Request
        db = database(f)
        w = db.window
        if w.mode == "find":
            _add_request(w, Request())
            return
        db.new_record(db.context())
    return run


@step("Duplicate Record/Request", guard=data_errors)
def duplicate_record(st: S.Step, c):
    """Copies the current record (or find request) and makes the copy current."""
    def run(f):
        db = database(f)
        w = db.window
        if w.mode == "find":
            if w.requests:
                _add_request(w, w.requests[w.request_index].copy())
            return
        db.duplicate_record(db.context())
    return run


def _add_request(w, request) -> None:
    """Find mode: the new (or duplicated) request goes last and becomes the current one."""
    w.requests.append(request)
    w.request_index = len(w.requests) - 1


@step("Delete Record/Request", labels=DIALOG, guard=data_errors)
def delete_record(st: S.Step, c):
    """Deletes the current record (in find mode: the current request); the next record becomes current."""
    def run(f):
        db = database(f)
        w = db.window
        if w.mode == "find":
            if w.requests:
                del w.requests[w.request_index]
                w.request_index = min(w.request_index, max(len(w.requests) - 1, 0))
            return None
        ctx = db.context()
        rid = ctx.current()
        if rid is None:
            raise StepError("there is no record to delete", code=E_RECORD_MISSING)
        db.delete_ids(ctx.table, [rid])
        return None
    return run


@step("Delete All Records", labels=DIALOG, guard=data_errors)
def delete_all_records(st: S.Step, c):
    """Deletes every record of the found set."""
    def run(f):
        db = database(f)
        ctx = db.context()
        db.delete_ids(ctx.table, list(ctx.found))
    return run


@step("Truncate Table", labels=("Table",) + DIALOG, guard=data_errors)
def truncate_table(st: S.Step, c):
    """Deletes every record of a table at once (Table: Current Table or a table occurrence)."""
    opt = st.get("Table")
    current = opt is None or (isinstance(opt.value, S.Word) and opt.value.name == "Current Table")
    name = None if current else name_of(c, opt)

    def run(f):
        db = database(f)
        if name is None:
            ctx = db.context()
            db.truncate(ctx.table)
            return
        occ = name(f)
        ti = db.table_of(occ)
        if ti is None:
            raise StepError(f"there is no table named “{occ}”", code=E_TABLE_MISSING)
        db.truncate(ti.name)
    return run


@step("Commit Records/Requests", labels=("Skip data entry validation", "Force commit") + DIALOG,
      guard=data_errors,
      note="One SQLite transaction. Fields validated “only during data entry” are validated here (a script "
           "is fmscript's data entry) unless `Skip data entry validation` is given; `Force commit` is ignored.")
def commit_records(st: S.Step, c):
    """Saves the open record's changes to the file (one SQLite transaction), after validating them."""
    data_entry = "Skip data entry validation" not in st.words() and st.get("Skip data entry validation") is None

    def run(f):
        database(f).commit(data_entry=data_entry)
    return run


@step("Revert Record/Request", labels=DIALOG, guard=data_errors)
def revert_record(st: S.Step, c):
    """Throws away the open record's uncommitted changes (a new record disappears)."""
    def run(f):
        database(f).revert()
    return run


@step("Open Record/Request", guard=data_errors,
      note="Records are opened implicitly when a field is set; the step only checks the record.")
def open_record(st: S.Step, c):
    """Opens the current record for editing (fmscript opens records when a field is set)."""
    def run(f):
        db = database(f)
        if db.window.mode != "find" and db.context().current() is None:
            raise StepError("there is no record to open", code=E_RECORD_MISSING)
    return run


#: Import Records' options FileMaker prints that fmscript's import cannot honour yet (it adds the rows of one
#: CSV, TSV or JSONL file, fields matched by name).
IMPORT_REFUSED = ("Folder Name", "File Type", "Worksheet", "XML (from http)", "XML (from file)",
                  "XML (from calculation)", "XSL (from http)", "XSL (from file)", "XSL (from calculation)")
XML_SOURCES = IMPORT_REFUSED[3:]


@step("Import Records", labels=("Data source", "Source file", "Source", "Target", "Table", "Method",
                                "Character Set", "Field Mapping", "Add remaining", "Data contains column names",
                                "Fields Name Row", "Predefined", "Folder Name", "File Type", "Worksheet",
                                "Include all enclosed folders", "Import only a reference") + XML_SOURCES + DIALOG,
      calc_labels=("Data source", "Source file", "Source"), guard=data_errors,
      note="CSV, TSV and JSONL files in UTF-8; fields are matched by name, a missing table is "
           "created. FileMaker's Field Mapping list is read, and a mapping that imports a source field into a field "
           "is refused (fmscript matches by name); Method: Update or Replace, folders, spreadsheets and XML "
           "sources are refused with a message, never run differently from FileMaker.")
def import_records(st: S.Step, c):
    """Adds the rows of a CSV, TSV or JSONL file to a table (fields matched by name), creating it if needed."""
    for label in IMPORT_REFUSED:
        if st.get(label) is not None:
            raise c.error(f"fmscript's Import Records reads one CSV, TSV or JSONL file; it cannot import from "
                          f"“{label}” yet", st.get(label).pos)
    method = st.get("Method")
    if method is not None and not (isinstance(method.value, S.Word) and method.value.name == "Add" or
                                   isinstance(method.value, S.Calc) and isinstance(method.value.node, C.Name)
                                   and method.value.node.name == "Add"):
        raise c.error("fmscript's Import Records adds records (Method: Add); it cannot update or replace yet",
                      method.pos)
    charset = st.get("Character Set")
    if charset is not None and charset.value is not None:
        name = getattr(getattr(charset.value, "node", None), "value", getattr(charset.value, "text", ""))
        if str(name).strip().strip('"“”').casefold() not in ("utf-8", "unicode (utf-8)"):
            raise c.error(f"fmscript's Import Records reads UTF-8; it cannot read “{name}” yet", charset.pos)
    mapping = st.get("Field Mapping")
    mapped = ([mapping] if mapping is not None and mapping.value is not None else []) + \
        (st.after("Field Mapping") if mapping is not None else [])
    for o in mapped:
        text = o.value.text if isinstance(o.value, (S.Raw, S.Calc)) else ""
        if " import to " in f" {text} " and not text.rstrip().endswith("import to"):
            raise c.error("fmscript matches imported fields by name; it cannot apply a Field Mapping that imports "
                          "into a named field yet", o.pos)
    src_opt = st.get("Data source") or st.get("Source file") or st.get("Source")
    calc_opts = calc_options(st)
    if src_opt is None:
        src_opt = next((o for o in calc_opts if not isinstance(o.value, S.Calc)
                        or not isinstance(o.value.node, (C.Name, C.Field))), None)
    if src_opt is None:
        raise c.incomplete("Import Records has no file: Import Records [ With dialog: Off ; Data source: \"file.csv\" ; "
                      "Target: \"Table\" ]")
    source = c.text(src_opt) if not isinstance(src_opt.value, S.Raw) else name_of(c, src_opt)
    tgt_opt = st.get("Target") or st.get("Table")
    target = name_of(c, tgt_opt) if tgt_opt is not None else None

    def run(f):
        from ...data import transfer
        db = database(f)
        path = transfer.input_path(f, source(f))
        if target is not None:
            table = target(f)
        else:
            table = db.context().table
        ti, ids = transfer.import_rows(db, table, path)
        occ = db.occurrence_name(table) or ti.name
        ctx = db.context(occ)
        ctx.found, ctx.index, ctx.sort = ids, 0, None
    return run


#: FileMaker's names of the character sets Export Records writes → Python's codecs.
CHARACTER_SETS = {"unicode (utf-8)": "utf-8", "utf-8": "utf-8", "unicode (utf-16)": "utf-16",
                  "unicode": "utf-16", "windows (ansi)": "cp1252", "ascii (dos)": "cp437", "macintosh": "mac_roman",
                  "japanese (shift-jis)": "shift_jis", "simplified chinese (gb)": "gb2312",
                  "traditional chinese (big-5)": "big5", "korean (euc-kr)": "euc_kr"}


def yes_no(opt, c) -> bool:
    """An On/Off option, also as FileMaker's text prints some (``Create folders:Yes``)."""
    if opt is not None and isinstance(opt.value, S.Calc) and isinstance(opt.value.node, C.Name) \
            and opt.value.node.name.casefold() in ("yes", "no"):
        return opt.value.node.name.casefold() == "yes"
    return c.on_off(opt, False)


def character_set(st: S.Step, c) -> str:
    """The codec of a step's ``Character Set: “Unicode (UTF-8)”`` (UTF-8 when it has none)."""
    opt = st.get("Character Set")
    if opt is None or opt.value is None:
        return "utf-8"
    name = opt.value.name if isinstance(opt.value, S.Word) else \
        getattr(getattr(opt.value, "node", None), "value", getattr(opt.value, "text", ""))
    codec = CHARACTER_SETS.get(str(name).strip().strip('"“”').casefold())
    if codec is None:
        raise c.error(f"fmscript does not know the character set “{name}”: use one of "
                      "Unicode (UTF-8), Unicode (UTF-16), Windows (ANSI), ASCII (DOS), Macintosh, Japanese "
                      "(Shift-JIS), Simplified Chinese (GB), Traditional Chinese (Big-5), Korean (EUC-KR)", opt.pos)
    return codec


@step("Export Records", labels=("File Name", "Create folders", "Automatically open", "Create email",
                                "Character Set", "Field Order", "Format output using current layout") + DIALOG,
      calc_labels=("File Name",), guard=data_errors,
      note="CSV, TSV or JSONL, chosen by the file's extension, with every field of the found set's table in its "
           "order (a Field Order that names fields is refused: fmscript cannot apply it yet). Automatically open, "
           "Create email and Format output using current layout are accepted and ignored (headless).")
def export_records(st: S.Step, c):
    """Writes the found set's fields to a CSV, TSV or JSONL file (by its extension), in its character set."""
    opts = [o for o in calc_options(st) if not (isinstance(o.value, S.Calc) and isinstance(o.value.node, C.Name))]
    if st.get("File Name") is not None and st.get("File Name").value is not None:
        opts = [st.get("File Name")] + opts
    if not opts:
        raise c.incomplete("Export Records has no output file: Export Records [ With dialog: Off ; \"out.csv\" ]")
    order = st.get("Field Order")
    if order is not None and (order.value is not None or st.after("Field Order")):
        raise c.error("fmscript exports every field of the table in its order; it cannot apply a Field Order yet",
                      order.pos)
    dest = c.text(opts[0])
    create = yes_no(st.get("Create folders"), c) or "Create folders" in st.words()
    codec = character_set(st, c)

    def run(f):
        from ...data import transfer
        db, ctx = committed(f)
        path = transfer.output_path(f, dest(f), create)
        ti = db.tables()[ctx.table.casefold()]
        transfer.write_text(path, transfer.export_text(db, ti, list(ctx.found), transfer.format_of(path)), codec)
    return run


@step("Delete Portal Row", labels=DIALOG, guard=data_errors)
def delete_portal_row(st: S.Step, c):
    """Deletes the related record of the active portal row, at once (no portal row active: error 101)."""
    def run(f):
        if not database(f).delete_portal_row():
            raise StepError("no portal row is active: Go to Portal Row first", code=E_RECORD_MISSING)
    return run
