"""Import and export: CSV, TSV and JSONL in and out of tables, and FileMaker path lists.

Paths are FileMaker path lists, resolved by :mod:`fmscript.data.paths` (the same rules as Fine-Tune Model's
File option, so a file saved by one step is found by the other).
"""
from __future__ import annotations

import csv
import io
import json
import contextlib
import os
from pathlib import Path

from ..limits import json_loads
from ..errors import E_CANNOT_CREATE_FILE, E_FILE_MISSING, E_INVALID_PARAMETER, E_JSON_INVALID, E_XML_PARSE, DataError
from . import paths
from .database import Database, TableInfo
from .values import export_value


def input_path(frame, text: str) -> Path:
    """The file Import Records reads: the first existing file of a path list (FileMaker error 100 when none)."""
    return paths.resolve_input(text, frame.session.base_dir, paths.frame_variables(frame), "file to import")


def output_path(frame, text: str, create_folders: bool) -> Path:
    """Where Export Records and Save Records as JSONL write: see :func:`paths.resolve_output`."""
    return paths.resolve_output(text, frame.session.base_dir, paths.frame_variables(frame), create_folders)


def write_text(path: Path, text: str, encoding: str = "utf-8") -> None:
    """Write atomically: a half-written export never replaces a good file."""
    # A short temporary name: a name over the system's limit fails at the rename, and the part is removed.
    tmp = path.with_name(f".fmscript-{os.getpid()}.part")
    try:
        tmp.write_text(text, encoding=encoding, newline="")
        os.replace(tmp, path)
    except OSError as e:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise DataError(f"cannot write {path}: {e.strerror or e}", code=E_CANNOT_CREATE_FILE) from None


# ------------------------------------------------------------------------------------------------ reading

def read_rows(path: Path) -> tuple[list[str], list[dict]]:
    """(column names, rows) of a CSV, TSV or JSONL file, chosen by its extension."""
    ext = path.suffix.lower()
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise DataError(f"{path} is not UTF-8 text", code=E_XML_PARSE) from None
    except OSError as e:
        raise DataError(f"cannot read {path}: {e.strerror or e}", code=E_FILE_MISSING) from None
    if ext in (".jsonl", ".ndjson", ".json"):
        names: list[str] = []
        rows = []
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                obj = json_loads(line)
            except json.JSONDecodeError as e:
                raise DataError(f"{path.name} line {n} is not valid JSON: {e.msg}",
                                code=E_JSON_INVALID) from None
            if not isinstance(obj, dict):
                raise DataError(f"{path.name} line {n} is not a JSON object", code=E_JSON_INVALID)
            for k in obj:
                if k not in names:
                    names.append(k)
            rows.append({k: _json_cell(v) for k, v in obj.items()})
        return names, rows
    delim = "\t" if ext in (".tsv", ".tab", ".txt") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delim)
    all_rows = list(reader)
    if not all_rows:
        return [], []
    names = [h.strip() for h in all_rows[0]]
    rows = [dict(zip(names, r)) for r in all_rows[1:] if any(c.strip() for c in r)]
    return names, rows


def _json_cell(v):
    if v is None:
        return ""
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, (int, float)):
        return repr(v) if isinstance(v, float) else str(v)
    if isinstance(v, str):
        return v
    return json.dumps(v, ensure_ascii=False)


def _guess_type(values: list[str]) -> str:
    from .values import is_number_text, parse_date
    vals = [v for v in values if v not in ("", None)]
    if vals and all(isinstance(v, str) and is_number_text(v) for v in vals):
        return "number"
    if vals and all(isinstance(v, str) and len(v) == 10 and parse_date(v) for v in vals):
        return "date"
    return "text"


def create_table_for(db: Database, table: str, names: list[str], rows: list[list], label: str) -> TableInfo:
    """Import Records into a table the file does not have yet: one from the source's columns, types guessed
    (number, date or text) from their values."""
    if not names:
        raise DataError(f"{label} has no columns to create “{table}” from", code=E_INVALID_PARAMETER)
    return db.create_table(table, [(n, _guess_type([r[i] if i < len(r) else "" for r in rows
                                                    if isinstance(r[i] if i < len(r) else "", str)]), False)
                                   for i, n in enumerate(names)])


def import_rows(db: Database, table: str, path: Path) -> tuple[TableInfo, list[int]]:
    """``fmscript db import``: the file's rows added to ``table`` as Import Records adds them (fields matched by
    name, one transaction, validation: :func:`.importing.import_records`); a missing table is created from the
    file's columns (types guessed: number, date or text).  Returns the table and the new record ids."""
    from .importing import import_records, read_file

    src = read_file(path)
    if db.table_of(table) is None and src.named:
        create_table_for(db, table, src.names, src.rows, src.label)
    return import_records(db, table, src)


# ------------------------------------------------------------------------------------------------ writing

def export_text(db: Database, ti: TableInfo, ids: list[int], fmt: str) -> str:
    """The found set as CSV (header row, then one row per record) or JSONL (one object per record)."""
    fields = ti.record_fields
    if fmt == "jsonl":
        lines = []
        for rid in ids:
            vals = db.record_values(ti, rid)
            lines.append(json.dumps({fi.name: export_value(vals.get(fi.name), fi.type) for fi in fields},
                                    ensure_ascii=False, separators=(",", ":")))
        return "".join(line + "\n" for line in lines)
    buf = io.StringIO()
    w = csv.writer(buf, delimiter="\t" if fmt == "tsv" else ",", lineterminator="\r\n")
    w.writerow([fi.name for fi in fields])
    for rid in ids:
        vals = db.record_values(ti, rid)
        row = []
        for fi in fields:
            v = export_value(vals.get(fi.name), fi.type)
            row.append(v if isinstance(v, str) else json.dumps(v))
        w.writerow(row)
    return buf.getvalue()


def format_of(path: Path) -> str:
    ext = path.suffix.lower()
    if ext in (".jsonl", ".ndjson"):
        return "jsonl"
    if ext in (".tsv", ".tab"):
        return "tsv"
    if ext == ".csv":
        return "csv"
    raise DataError(f"fmscript exports CSV, TSV and JSONL; “{path.name}” has none of those extensions "
                    "(.csv, .tsv, .jsonl)", code=E_INVALID_PARAMETER)
