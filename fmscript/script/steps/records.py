"""Record steps (FileMaker's Records category): new, duplicate, delete, commit, revert; import and export.
"""
from __future__ import annotations

import re

from ...calc import ast as C
from ...errors import E_FILE_MISSING, E_RECORD_MISSING, E_TABLE_MISSING, StepError
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


XML_SOURCES = ("XML (from http)", "XML (from file)", "XML (from calculation)")
XSL_SOURCES = ("XSL (from http)", "XSL (from file)", "XSL (from calculation)")
#: FileMaker's Field Mapping lines: ``Source field 2 import to People::Name (Do Auto-Enter)``, ``… match with …``,
#: ``… not import to …``; an empty target is a field that was deleted.
MAP_LINE = re.compile(r"^Source field (\d+) (import to|match with|not import to|don't import to|do not import to)"
                      r"\s*(.*?)\s*(?:\(Do Auto-Enter\))?\s*$", re.S)
FILE_TYPES = {"text files": False, "picture and movie files": True, "pictures and movies": True}


def _literal(c, opt):
    """An option FileMaker prints as it was typed (``Folder Name: folder``, ``XML (from file): a.xml``): its text,
    without quotes; a variable or a quoted text constant is evaluated."""
    v = opt.value
    if isinstance(v, S.Calc) and isinstance(v.node, (C.Var, C.Str)):
        return c.text(opt)
    text = (v.text if v is not None else "").strip()
    if len(text) >= 2 and text[0] in '"“' and text[-1] in '"”':
        text = text[1:-1]
    return lambda f: text


def _flag(st: S.Step, label: str) -> bool:
    return label in st.words() or st.get(label) is not None


def _field_mapping(st: S.Step, c):
    """FileMaker's Field Mapping (None when the step has none: fields are matched by name)."""
    from ...data.importing import Mapping
    opt = st.get("Field Mapping")
    if opt is None:
        return None
    entries = []
    for o in ([opt] if opt.value is not None else []) + st.after("Field Mapping"):
        if o.value is None or isinstance(o.value, S.Word):
            continue
        text = o.value.text.strip()
        if text == "(Do Auto-Enter)":  # a target field with no source field: FileMaker prints its option alone
            continue
        m = MAP_LINE.match(text)
        if m is None:
            raise c.error(f"“{text}” is not a line of FileMaker's Field Mapping (Source field 1 import to "
                          "Table::Field)", o.pos)
        action = {"import to": "import", "match with": "match"}.get(m.group(2), "skip")
        entries.append((int(m.group(1)), action, m.group(3).strip()))
    if not any(target for _, _, target in entries):
        return None  # every target blank (the fields were not chosen, or deleted): fields are matched by name
    return Mapping(entries)


@step("Import Records", labels=("Data source", "Source file", "Source", "Target", "Table", "Method",
                                "Character Set", "Field Mapping", "Add remaining", "Data contains column names",
                                "Fields Name Row", "Predefined", "Folder Name", "File Type", "Worksheet",
                                "Include all enclosed folders", "Import only a reference") + XML_SOURCES
                               + XSL_SOURCES + DIALOG,
      calc_labels=("Data source", "Source file", "Source", "XML (from calculation)", "XSL (from calculation)"),
      guard=data_errors,
      note="Sources: CSV, tab-separated, merge (.mer) and JSONL files in any character set FileMaker lists, Excel "
           ".xlsx worksheets (.xls is refused: save it as .xlsx), dBASE .dbf, a folder of text files (Text Content, "
           "File Name, File Path) or of pictures and movies (Image, File Name, File Path, Image Thumbnail: the "
           "image itself, fmscript makes no smaller copy; Import only a reference stores the file's path), and XML "
           "from a file, URL or calculation in FileMaker's FMPXMLRESULT grammar, after an XSLT 1.0 stylesheet. "
           "Methods Add, Replace (the found set in order) and Update (by the match fields), Add remaining. Without "
           "a Field Mapping fields are matched by name (a missing table is created from a file's columns); with "
           "one, by FileMaker's source field numbers; rows without names (Fields Name Row: -1) go into the fields in their "
           "order. Auto-enter options always run for new records (Do "
           "Auto-Enter is read, not needed). One transaction: a failing record imports nothing.")
def import_records(st: S.Step, c):
    """Imports records from a file, a folder or XML into a table, adding, replacing or updating records."""
    method_opt = st.get("Method")
    method = (method_opt.value.text if isinstance(method_opt.value, (S.Calc, S.Raw)) else method_opt.value.name) \
        .strip().casefold() if method_opt is not None and method_opt.value is not None else "add"
    if method not in ("add", "replace", "update"):
        raise c.error(f"Import Records' Method is Add, Replace or Update, not “{method_opt.value.text}”",
                      method_opt.pos)
    add_remaining = _flag(st, "Add remaining")
    codec_name = "utf-8-sig"
    charset = st.get("Character Set")
    if charset is not None and charset.value is not None:
        from ...data.importing import CHARACTER_SETS, codec
        name = charset.value.text if isinstance(charset.value, (S.Calc, S.Raw)) else charset.value.name
        codec_name = codec(name)
        if codec_name is None:
            raise c.error(f"FileMaker has no character set “{name.strip(chr(34) + '“”')}”; it lists "
                          + ", ".join(list(CHARACTER_SETS)[:10]), charset.pos)
    mapping = _field_mapping(st, c)
    header_row = st.get("Fields Name Row")
    row_number = None
    if header_row is not None and header_row.value is not None:
        try:
            row_number = int(header_row.value.text.strip())
        except ValueError:
            raise c.error("Fields Name Row is a number (-1: the data has no field names)", header_row.pos) from None
    header = _flag(st, "Data contains column names") or (row_number is not None and row_number >= 0) or \
        (mapping is None and row_number is None)
    worksheet = c.text(st.get("Worksheet")) if st.get("Worksheet") is not None else (lambda f: "")
    tgt_opt = st.get("Target") or st.get("Table")
    target = name_of(c, tgt_opt) if tgt_opt is not None else None

    folder_opt, xml_opt = st.get("Folder Name"), next((st.get(x) for x in XML_SOURCES if st.get(x)), None)
    xsl_opt = next((st.get(x) for x in XSL_SOURCES if st.get(x)), None)
    if folder_opt is not None:
        folder = _literal(c, folder_opt)
        kind = st.get("File Type")
        kind_text = (kind.value.text if kind is not None and kind.value is not None else "Text files").strip()
        pictures = FILE_TYPES.get(kind_text.casefold())
        if pictures is None:
            raise c.error(f"File Type is Text files or Picture and movie files, not “{kind_text}”", kind.pos)
        enclosed, reference = _flag(st, "Include all enclosed folders"), _flag(st, "Import only a reference")

        def read(f):
            from ...data import importing, paths
            where = importing.find_folder(folder(f), f.session.base_dir, paths.frame_variables(f))
            return importing.read_folder(where, pictures, enclosed, reference, codec_name)
    elif xml_opt is not None:
        verify = _flag(st, "Verify SSL Certificates")
        xml = _literal(c, xml_opt) if xml_opt.label != "XML (from calculation)" else c.text(xml_opt)
        xsl = None if xsl_opt is None else \
            (_literal(c, xsl_opt) if xsl_opt.label != "XSL (from calculation)" else c.text(xsl_opt))

        def load(f, where: str, what: str) -> tuple[bytes, str]:
            from ...data import importing, paths, transfer
            if where.strip().lower().startswith(("http://", "https://")) or "://" in where:
                return importing.fetch(where.strip(), what, verify), where.strip()
            path = transfer.input_path(f, where)
            return path.read_bytes(), path.name

        def read(f):
            from ...data import importing
            data, label = load(f, xml(f), "XML source")
            style = load(f, xsl(f), "XSLT stylesheet")[0] if xsl is not None else None
            return importing.read_xml(data, style, label)
    else:
        src_opt = st.get("Data source") or st.get("Source file") or st.get("Source")
        if src_opt is None:
            src_opt = next((o for o in calc_options(st) if not isinstance(o.value, S.Calc)
                            or not isinstance(o.value.node, (C.Name, C.Field))), None)
        if src_opt is None:
            if not st.options or all(isinstance(o.value, S.Word) or o.label == "With dialog" for o in st.options):
                def read(f):  # FileMaker asks for the file; a script run has nobody to ask
                    raise StepError("Import Records has no source to import from (FileMaker would ask for a file "
                                    "here): give it one, Import Records [ With dialog: Off ; \"file.csv\" ]",
                                    code=E_FILE_MISSING)
            else:
                raise c.incomplete("Import Records has no file to import: Import Records [ With dialog: Off ; "
                                   "Data source: \"file.csv\" ; Target: \"Table\" ]", E_FILE_MISSING)
        else:
            source = c.text(src_opt) if not isinstance(src_opt.value, S.Raw) else name_of(c, src_opt)

            def read(f):
                from ...data import importing, transfer
                return importing.read_file(transfer.input_path(f, source(f)), codec_name=codec_name,
                                           header=header, worksheet=worksheet(f))
    legacy = folder_opt is None and xml_opt is None and mapping is None and method == "add"

    def run(f):
        from ...data import importing, transfer
        db = database(f)
        src = read(f)
        table = target(f) if target is not None else db.context().table
        if legacy and db.table_of(table) is None and src.named:
            transfer.create_table_for(db, table, src.names, src.rows, src.label)
        occ = db.occurrence_name(table) or table
        found = list(db.context(occ).found) if method != "add" and db.table_of(table) is not None else []
        ti, ids = importing.import_records(db, table, src, mapping, method, add_remaining, found)
        occ = db.occurrence_name(ti.name) or ti.name
        ctx = db.context(occ)
        ctx.found, ctx.index, ctx.sort = ids, 0, None
    return run


def yes_no(opt, c) -> bool:
    """An On/Off option, also as FileMaker's text prints some (``Create folders:Yes``)."""
    if opt is not None and isinstance(opt.value, S.Calc) and isinstance(opt.value.node, C.Name) \
            and opt.value.node.name.casefold() in ("yes", "no"):
        return opt.value.node.name.casefold() == "yes"
    return c.on_off(opt, False)


def character_set(st: S.Step, c) -> str:
    """The codec of a step's ``Character Set: “Unicode (UTF-8)”`` (UTF-8 when it has none): FileMaker's names,
    the ones Import Records lists and Export Records' older ones."""
    from ...data.importing import CHARACTER_SETS, codec
    opt = st.get("Character Set")
    if opt is None or opt.value is None:
        return "utf-8"
    name = opt.value.name if isinstance(opt.value, S.Word) else \
        getattr(getattr(opt.value, "node", None), "value", getattr(opt.value, "text", ""))
    found = codec(str(name))
    if found is None:
        raise c.error(f"fmscript does not know the character set “{name}”: use one of "
                      + ", ".join(CHARACTER_SETS), opt.pos)
    return "utf-8" if found == "utf-8-sig" else found  # an export writes no byte order mark


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
