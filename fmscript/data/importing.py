"""Import Records from every source FileMaker offers, with its three methods, on the data layer.

Sources (Claris's "Import Records" and "Importing a folder of files all at once"): a text file (CSV, tab-separated,
FileMaker's merge ``.mer``, JSONL) in a character set FileMaker lists, an Excel ``.xlsx`` worksheet, a dBASE
``.dbf`` file, a folder of text files or pictures (optionally with its enclosed folders), and XML, from a file,
a URL or a calculation, in FileMaker's ``FMPXMLRESULT`` grammar once an XSLT stylesheet has transformed it.

Each source gives column names and rows; :func:`import_records` maps them onto a table (FileMaker's ``Source
field N import to``/``match with`` list, or by name) and adds records, replaces the found set's records in order,
or updates the records whose match fields match, all in one transaction: a failure imports nothing.
"""
from __future__ import annotations

import csv
import io
import re
import sqlite3
import ssl
import struct
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from ..calc.values import Container
from ..errors import (E_CONNECTION_FAILED, E_FIELD_MISSING, E_FILE_MISSING, E_INVALID_PARAMETER, E_JSON_INVALID,
                      E_PROTOCOL_UNSUPPORTED, E_SSL_ERROR, E_TABLE_MISSING, E_USER_CANCELED, E_XML_PARSE, E_XSL_TRANSFORM,
                      DataError)
from . import paths
from .database import Database, TableInfo, qident
from .validation import validate_record
from .values import to_storage

#: FileMaker's names of character sets (Import Records lists the first ten; Export Records' older names follow)
#: → Python's codecs.
CHARACTER_SETS = {"Mac Roman": "mac_roman", "Windows ANSI": "cp1252", "DOS OEM": "cp437", "Unicode": "utf-16",
                  "Unicode (big endian)": "utf-16-be", "UTF-8": "utf-8-sig", "Shift JIS": "cp932",
                  "Simplified Chinese (GB)": "gbk", "Traditional Chinese (Big-5)": "cp950",
                  "Korean (EUC-KR)": "euc_kr", "Unicode (UTF-8)": "utf-8-sig", "Unicode (UTF-16)": "utf-16",
                  "Windows (ANSI)": "cp1252", "ASCII (DOS)": "cp437", "Macintosh": "mac_roman",
                  "Japanese (Shift-JIS)": "cp932"}
_FOLDED = {k.casefold(): v for k, v in CHARACTER_SETS.items()}
#: What a folder import gives (fmscript's order of FileMaker's source fields).
TEXT_FOLDER_FIELDS = ["Text Content", "File Name", "File Path"]
PICTURE_FOLDER_FIELDS = ["Image", "File Name", "File Path", "Image Thumbnail"]
PICTURE_SUFFIXES = {".jpg", ".jpeg", ".png", ".gif", ".tif", ".tiff", ".bmp", ".heic", ".webp", ".pdf", ".mov",
                    ".mp4", ".m4v", ".avi", ".mp3", ".m4a", ".wav"}
TEXT_SUFFIXES = {".txt", ".text", ".csv", ".tab", ".tsv", ".md", ".html", ".htm", ".xml", ".json", ".log"}


def codec(name: str) -> str | None:
    """The codec of FileMaker's character-set name (``“Mac Roman”``), None when FileMaker has no such set."""
    return _FOLDED.get(name.strip().strip('"“”').strip().casefold())


@dataclass
class Source:
    """What a source gives: column names (``Source field N`` where it has none) and rows of values."""
    names: list[str]
    rows: list[list]
    named: bool = True  # whether the names are the source's own (matching by name needs them)
    label: str = "the source"


# ------------------------------------------------------------------------------------------------ sources

def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise DataError(f"cannot read {path}: {e.strerror or e}", code=E_FILE_MISSING) from None


def _decode(data: bytes, codec_name: str, label: str) -> str:
    if codec_name == "utf-16" and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        codec_name = "utf-16-le"  # FileMaker's “Unicode” is little-endian UTF-16
    try:
        text = data.decode(codec_name)
    except UnicodeDecodeError as e:
        raise DataError(f"{label} is not text in this character set (byte {e.start + 1} cannot be read); choose "
                        "its Character Set", code=E_XML_PARSE) from None
    return text.lstrip("\ufeff")


def _unnamed(rows: list[list]) -> list[str]:
    return [f"Source field {i}" for i in range(1, max((len(r) for r in rows), default=0) + 1)]


def read_delimited(path: Path, codec_name: str = "utf-8-sig", header: bool = True) -> Source:
    """A CSV (``.csv``, ``.mer``: always a names row) or tab-separated file (``.tab``, ``.tsv``, ``.txt``)."""
    text = _decode(_read_bytes(path), codec_name, path.name)
    ext = path.suffix.lower()
    delim = "\t" if ext in (".tab", ".tsv", ".txt") else ","
    # FileMaker writes a return inside a field as a vertical tab (its export) and ends records with CR.
    rows = [[c.replace("\x0b", "\n") for c in r] for r in csv.reader(io.StringIO(text, newline=""), delimiter=delim)]
    rows = [r for r in rows if any(c.strip() for c in r)]
    if ext == ".mer":
        header = True
    if header and rows:
        return Source([h.strip() for h in rows[0]], rows[1:], True, path.name)
    return Source(_unnamed(rows), rows, False, path.name)


def read_jsonl(path: Path) -> Source:
    from .transfer import read_rows
    names, rows = read_rows(path)
    return Source(names, [[r.get(n, "") for n in names] for r in rows], True, path.name)


def read_xlsx(path: Path, worksheet: str = "", header: bool = True) -> Source:
    """One worksheet of an Excel workbook (the first when ``worksheet`` is empty), read with openpyxl: text,
    numbers, booleans, and cells in a date format as FileMaker's date (or timestamp) text."""
    import openpyxl

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as e:  # openpyxl raises zipfile's, KeyError and its own errors for what is no workbook
        raise DataError(f"{path.name} is not an Excel workbook (.xlsx): {e}", code=E_XML_PARSE) from None
    try:
        if not wb.sheetnames:
            raise DataError(f"{path.name} has no worksheet", code=E_XML_PARSE)
        if worksheet and worksheet not in wb.sheetnames:
            raise DataError(f"{path.name} has no worksheet named “{worksheet}” (its worksheets: "
                            f"{', '.join(wb.sheetnames)})", code=E_FILE_MISSING)
        ws = wb[worksheet] if worksheet else wb[wb.sheetnames[0]]
        try:
            rows = [[_cell_text(v) for v in row] for row in ws.iter_rows(values_only=True)]
        except Exception as e:
            raise DataError(f"{path.name} cannot be read as an Excel workbook: {e}", code=E_XML_PARSE) from None
    finally:
        wb.close()
    rows = [r for r in rows if any(v != "" for v in r)]
    width = max((len(r) for r in rows), default=0)
    while width and all(len(r) < width or r[width - 1] == "" for r in rows):
        width -= 1  # openpyxl pads every row to the sheet's widest: trailing empty columns are no data
    rows = [r[:width] for r in rows]
    if header and rows:
        return Source([str(h).strip() for h in rows[0]], rows[1:], True, path.name)
    return Source(_unnamed(rows), rows, False, path.name)


def _cell_text(v) -> str:
    """A cell's value as FileMaker imports it: dates as m/d/yyyy (with the time when it has one)."""
    import datetime

    if v is None:
        return ""
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, datetime.datetime):
        if v.time() == datetime.time(0):
            return f"{v.month}/{v.day}/{v.year}"
        return f"{v.month}/{v.day}/{v.year} {v:%H:%M:%S}"
    if isinstance(v, datetime.date):
        return f"{v.month}/{v.day}/{v.year}"
    if isinstance(v, datetime.time):
        return f"{v:%H:%M:%S}"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def read_dbf(path: Path, codec_name: str = "cp437") -> Source:
    """A dBASE file: its field names, then each record that is not marked deleted."""
    data = _read_bytes(path)
    try:
        count, head_len, rec_len = struct.unpack("<IHH", data[4:12])
        fields = []
        pos = 32
        while pos < head_len - 1 and data[pos] != 0x0D:
            name = data[pos:pos + 11].split(b"\0", 1)[0].decode("ascii", "replace")
            fields.append((name, chr(data[pos + 11]), data[pos + 16]))
            pos += 32
        rows = []
        for i in range(count):
            rec = data[head_len + i * rec_len: head_len + (i + 1) * rec_len]
            if len(rec) < rec_len:
                break
            if rec[:1] == b"*":
                continue
            at, row = 1, []
            for _, kind, size in fields:
                raw = rec[at:at + size].decode(codec_name, "replace").strip()
                at += size
                if kind == "D" and len(raw) == 8 and raw.isdigit():
                    raw = f"{int(raw[4:6])}/{int(raw[6:])}/{raw[:4]}"
                elif kind == "L":
                    raw = {"T": "1", "Y": "1", "F": "0", "N": "0"}.get(raw.upper(), "")
                row.append(raw)
            rows.append(row)
    except (struct.error, IndexError) as e:
        raise DataError(f"{path.name} is not a dBASE file: {e}", code=E_XML_PARSE) from None
    return Source([f[0] for f in fields], rows, True, path.name)


def read_file(path: Path, *, codec_name: str = "utf-8-sig", header: bool = True, worksheet: str = "") -> Source:
    """A file of the kind its extension says."""
    ext = path.suffix.lower()
    if ext in (".csv", ".tab", ".tsv", ".txt", ".mer"):
        return read_delimited(path, codec_name, header)
    if ext in (".jsonl", ".ndjson", ".json"):
        return read_jsonl(path)
    if ext == ".xlsx":
        return read_xlsx(path, worksheet, header)
    if ext == ".dbf":
        return read_dbf(path, "cp437" if codec_name == "utf-8-sig" else codec_name)
    if ext == ".xml":
        return read_xml(_read_bytes(path), None, path.name)
    if ext == ".xls":
        raise DataError(f"fmscript reads Excel workbooks saved as .xlsx; “{path.name}” is the older .xls format: "
                        "save it as .xlsx", code=E_INVALID_PARAMETER)
    if ext in (".fmp12", ".fp7", ".fp5"):
        raise DataError(f"“{path.name}” is a FileMaker Pro file, which fmscript cannot read: export its records "
                        "as CSV or .xlsx and import that", code=E_INVALID_PARAMETER)
    raise DataError(f"fmscript cannot import “{path.name}”: it reads .csv, .tab, .tsv, .txt, .mer, .jsonl, .xlsx, "
                    ".dbf and .xml files", code=E_INVALID_PARAMETER)


def find_folder(text: str, base_dir, variables=None) -> Path:
    """The first existing folder of a path list (FileMaker's error 100 when none is)."""
    tried: list[str] = []
    for e in paths.entries(text, variables):
        for c in paths.candidates(e, base_dir):
            tried.append(str(c))
            if c.is_dir():
                return c
    raise DataError(f"no folder to import was found: tried {', '.join(tried) or 'nothing (the path is empty)'}",
                    code=E_FILE_MISSING)


def read_folder(folder: Path, pictures: bool, enclosed: bool, reference: bool = False,
                codec_name: str = "utf-8-sig") -> Source:
    """One row per text file (Text Content, File Name, File Path) or picture (Image, File Name, File Path, Image
    Thumbnail) in the folder, and in its enclosed folders when asked; files in name order, hidden files skipped."""
    found = sorted(folder.rglob("*") if enclosed else folder.iterdir(), key=lambda p: str(p.relative_to(folder)))
    kinds = PICTURE_SUFFIXES if pictures else TEXT_SUFFIXES
    rows = []
    for p in found:
        rel = p.relative_to(folder)
        if not p.is_file() or any(part.startswith(".") for part in rel.parts) or p.suffix.lower() not in kinds:
            continue
        fm_path = "file:" + paths.fm_file_path(p.resolve())
        if pictures:
            data = (fm_path.encode("utf-8") if reference else _read_bytes(p))
            image = Container(data, p.name)
            rows.append([image, p.name, fm_path, Container(data, p.name)])
        else:
            rows.append([_decode(_read_bytes(p), codec_name, p.name), p.name, fm_path])
    return Source(list(PICTURE_FOLDER_FIELDS if pictures else TEXT_FOLDER_FIELDS), rows, True, folder.name)


def fetch(location: str, what: str, verify: bool = False) -> bytes:
    """An XML or XSL source given as a URL (http, https; FileMaker's 1630-series errors). As in FileMaker, an
    https server's certificate is checked only with Verify SSL Certificates."""
    if not re.match(r"^https?://[^/\s]+", location, re.I):
        if re.match(r"^[a-z][a-z0-9+.-]*://", location, re.I):
            raise DataError(f"the {what} URL “{location}” uses a protocol Import Records cannot read (http, https)",
                            code=E_PROTOCOL_UNSUPPORTED)
        raise DataError(f"“{location}” is not a URL (http://host/file.xml)", code=E_JSON_INVALID)
    try:
        context = ssl.create_default_context()
        if not verify:  # FileMaker's default: the certificate is not checked
            context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        with urllib.request.urlopen(location, timeout=60, context=context) as r:  # noqa: S310 (http or https)
            return r.read()
    except urllib.error.HTTPError as e:
        raise DataError(f"the {what} at {location} could not be fetched: HTTP {e.code}",
                        code=E_FILE_MISSING) from None
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        code = E_SSL_ERROR if isinstance(reason, ssl.SSLError) else E_CONNECTION_FAILED
        raise DataError(f"the {what} at {location} could not be fetched: {reason}", code=code) from None


_FMP = "{http://www.filemaker.com/fmpxmlresult}"


def read_xml(xml: bytes, xsl: bytes | None, label: str = "the XML source") -> Source:
    """XML in FileMaker's ``FMPXMLRESULT`` grammar (METADATA/FIELD, RESULTSET/ROW/COL/DATA), after the XSLT
    stylesheet when one is given (lxml's XSLT 1.0, as FileMaker's Xalan). Error 718 for XML that does not parse,
    719 for a stylesheet that fails."""
    from lxml import etree
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    try:
        doc = etree.fromstring(xml, parser)
    except etree.XMLSyntaxError as e:
        raise DataError(f"{label} is not well-formed XML: {e}", code=E_XML_PARSE) from None
    if xsl is not None:
        try:
            transform = etree.XSLT(etree.fromstring(xsl, parser),
                                   access_control=etree.XSLTAccessControl.DENY_ALL)
            doc = transform(doc).getroot()
        except (etree.XMLSyntaxError, etree.XSLTError) as e:
            raise DataError(f"the XSLT stylesheet cannot transform {label}: {e}", code=E_XSL_TRANSFORM) from None
        if doc is None:
            raise DataError(f"the XSLT stylesheet made nothing of {label}", code=E_XSL_TRANSFORM)
    ns = _FMP if doc.tag.startswith(_FMP) else ""
    if doc.tag != f"{ns}FMPXMLRESULT":
        raise DataError(f"{label} is not in FileMaker's FMPXMLRESULT grammar (its root is <{etree.QName(doc).localname}>"
                        "); give an XSLT stylesheet that makes it so", code=E_XML_PARSE)
    names = [f.get("NAME", "") for f in doc.iterfind(f"{ns}METADATA/{ns}FIELD")]
    rows = []
    for row in doc.iterfind(f"{ns}RESULTSET/{ns}ROW"):
        cols = []
        for col in row.iterfind(f"{ns}COL"):
            datas = [d.text or "" for d in col.iterfind(f"{ns}DATA")]
            cols.append(datas[0] if datas else "")  # a repeating field's first repetition
        rows.append(cols)
    return Source(names, rows, True, label)


# ------------------------------------------------------------------------------------------------ importing

@dataclass
class Mapping:
    """FileMaker's Field Mapping: for each source field (1-based), ``import`` into a field, ``match`` (a match
    field of Update, also imported) or ``skip``; a target of ``""`` is a deleted field (nothing is imported)."""
    entries: list[tuple[int, str, str]] = field(default_factory=list)


def _field(ti: TableInfo, name: str):
    bare = name.split("::", 1)[1] if "::" in name else name
    return ti.field(bare)


def import_records(db: Database, table: str, src: Source, mapping: Mapping | None = None, method: str = "add",
                   add_remaining: bool = False, found: list[int] | None = None) -> tuple[TableInfo, list[int]]:
    """Import ``src`` into ``table``: ``add`` every row; ``replace`` the found set's records in order with the
    rows (the rows left over are added with ``add_remaining``); ``update`` the found set's records whose match
    fields equal the row's (rows matching none are added with ``add_remaining``). One transaction: a row that
    fails validation imports nothing. Returns the table and the records imported (FileMaker's new found set)."""
    ti = db.tables().get(table.casefold())
    if ti is None:
        occ = db.occurrences().get(table.casefold())
        ti = db.tables().get(occ[1].casefold()) if occ else None
    if ti is None:
        raise DataError(f"there is no table named “{table}”", code=E_TABLE_MISSING)
    defs = db.all_field_options().get(ti.name.casefold()) or {}

    def writable(fi):
        o = defs.get(fi.name.casefold())
        return fi is not None and not fi.is_global and (o is None or o.kind == "normal")

    cols: list[tuple[int, object]] = []   # (source column, field)
    match: list[tuple[int, object]] = []
    if mapping is None:
        if src.named:
            cols = [(i, _field(ti, n)) for i, n in enumerate(src.names)]
        else:  # no names and no mapping: in the table's field order, as FileMaker's creation order arrangement
            cols = list(enumerate(ti.record_fields))
        cols = [(i, fi) for i, fi in cols if fi is not None and writable(fi)]
        if src.names and not cols:
            raise DataError(f"no source field of {src.label} matches a field of “{ti.name}” (its fields: "
                            f"{', '.join(f.name for f in ti.fields)})", code=E_FIELD_MISSING)
    else:
        for n, action, target in mapping.entries:
            if action == "skip" or not target:
                continue
            fi = _field(ti, target)
            if fi is None:
                raise DataError(f"the Field Mapping imports source field {n} into “{target}”, which is not a field "
                                f"of “{ti.name}”", code=E_FIELD_MISSING)
            if writable(fi):
                cols.append((n - 1, fi))
                if action == "match":
                    match.append((n - 1, fi))
    if method == "update" and not match:
        raise DataError("Import Records' Update needs a match field (“Source field N match with Table::Field”) "
                        "that is a field of the table", code=E_FIELD_MISSING)
    if not cols:
        raise DataError(f"the Field Mapping imports no source field of {src.label} into a field of “{ti.name}”",
                        code=E_FIELD_MISSING)

    def value(row, i, fi):
        v = row[i] if i < len(row) else ""
        return to_storage(v, fi.type)

    db.commit()
    found = list(found or [])
    in_txn = db.transaction_depth > 0
    begin, commit, rollback = (("SAVEPOINT fm_import", "RELEASE fm_import", "ROLLBACK TO fm_import")
                               if in_txn else ("BEGIN IMMEDIATE", "COMMIT", "ROLLBACK"))
    insert = (f"INSERT INTO {qident(ti.name)} ({', '.join(qident(fi.name) for _, fi in cols)}) "
              f"VALUES ({', '.join('?' * len(cols))})")
    # A match field only finds the records an Update changes; a record added from the rest takes its value too.
    set_cols = [(i, fi) for i, fi in cols if (i, fi) not in match] or cols
    update = (f"UPDATE {qident(ti.name)} SET {', '.join(qident(fi.name) + ' = ?' for _, fi in set_cols)} "
              "WHERE rowid = ?")
    created, changed = [], []
    number = 0

    def undo():
        """Nothing of a failed import stays: its rows rolled back, the rows it changed read again."""
        if db.conn.in_transaction:
            db.conn.execute(rollback)
            if in_txn:
                db.conn.execute(commit)  # RELEASE the savepoint ROLLBACK TO kept open
        for rid in changed:
            db.forget_cached_row(ti.name, rid)
    try:
        db.conn.execute(begin)
        try:
            targets = _matches(db, ti, found, match, src.rows, value) if method == "update" else None
            for number, row in enumerate(src.rows, 1):
                if method == "replace":
                    rids = [found[number - 1]] if number <= len(found) else []
                elif method == "update":
                    rids = targets[number - 1]
                else:
                    rids = []
                if rids:
                    for rid in rids:
                        db.conn.execute(update, [value(row, i, fi) for i, fi in set_cols] + [rid])
                        changed.append(rid)
                        db.forget_cached_row(ti.name, rid)
                        if defs:
                            for _, fi in set_cols:
                                db.after_write(ti, rid, fi)
                            validate_record(db, ti, rid, data_entry=False)
                    continue
                if method != "add" and not add_remaining:
                    continue
                cur = db.conn.execute(insert, [value(row, i, fi) for i, fi in cols])
                created.append(cur.lastrowid)
                if defs:
                    db.after_create(ti.name, cur.lastrowid)
                    validate_record(db, ti, cur.lastrowid, data_entry=False)
        except DataError as e:
            undo()
            raise DataError(f"record {number} of {src.label} cannot be imported, nothing was imported: {e.message}",
                            code=e.code) from None
        db.conn.execute(commit)
        if in_txn:
            db.note_created_in_transaction(ti.name, created)
        elif defs:
            db.flush_serials()
    except sqlite3.DatabaseError as e:
        undo()
        raise DataError(f"importing {src.label} into “{ti.name}” failed, nothing was imported: {e}",
                        code=E_USER_CANCELED) from None
    seen: set[int] = set()
    return ti, [r for r in changed + created if not (r in seen or seen.add(r))]


def _matches(db, ti, found, match, rows, value) -> list[list[int]]:
    """For each row, the found set's records whose match fields hold the row's values (compared as stored,
    text case-insensitively, as FileMaker's match)."""
    def key_of(vals):
        return tuple(str(v).casefold() if v is not None else "" for v in vals)
    index: dict[tuple, list[int]] = {}
    for rid in found:
        vals = db.record_values(ti, rid)
        index.setdefault(key_of([to_storage(vals.get(fi.name), fi.type) for _, fi in match]), []).append(rid)
    return [index.get(key_of([value(r, i, fi) for i, fi in match]), []) for r in rows]

