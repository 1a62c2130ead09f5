"""Execute FileMaker Data API: the Data API's JSON requests and answers against the current file.

FileMaker runs the request through the Data API's own machinery, not through the script's window: a record it
creates, edits or deletes is committed at once (validated as data entry), and the script's layout, found set
and current record stay as they were (the request borrows the window and gives it back).  Portals on the
request's layout answer ``portalData`` and take related rows in create and update; ``script``,
``script.prerequest`` and ``script.presort`` run scripts of the file at the Data API Guide's moments.  Errors
come back in ``messages`` with FileMaker's number and wording, and the step itself succeeds, as FileMaker's does.
"""
from __future__ import annotations

import json
import re
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

from ...limits import MAX_CALL_DEPTH, json_loads
from ...errors import (E_FIELD_MISSING, E_INVALID_PARAMETER, E_LAYOUT_MISSING, E_MODID_MISMATCH,
                       E_NO_RECORDS_MATCH, E_RECORD_ACCESS_DENIED, E_RECORD_MISSING, E_RECURSION,
                       E_SCRIPT_MISSING, E_TABLE_MISSING, FMScriptError, ScriptHalted, meaning)
from .. import ast as S
from . import step
from .data_access import calc_options, database

ACTIONS = ("read", "metaData", "create", "update", "delete", "duplicate")
_FIELD_REF = re.compile(r"^(?:(?P<occ>.+?)::)?(?P<name>.+?)(?:\((?P<rep>\d+)\))?$")
_PORTAL_RANGE = re.compile(r"^_?(?P<what>offset|limit)\.(?P<portal>.+)$", re.IGNORECASE)
PORTAL_LIMIT = 50  # the Data API's default number of related rows per portal


class Failure(Exception):
    """One Data API error: it becomes the answer's ``messages``."""

    def __init__(self, code: int, message: str | None = None):
        super().__init__(message)
        self.code, self.message = code, message or meaning(code)


def ok(response: dict) -> dict:
    return {"messages": [{"code": "0", "message": "OK"}], "response": response}


def answer_for(e: Failure) -> dict:
    return {"messages": [{"code": str(e.code), "message": e.message}], "response": {}}


def _json_value(raw, ftype: str):
    """A field's value as the Data API returns it: numbers as JSON numbers, everything else as text."""
    from ...calc.values import to_text
    from ...data.values import from_storage

    v = from_storage(raw, ftype)
    if isinstance(v, Decimal):
        return int(v) if v == v.to_integral_value() and abs(v) < 2 ** 53 else float(v)
    return to_text(v) if v is not None else ""


def mod_id(db, ti, rid: int) -> str:
    """The record's ``modId``: FileMaker's modification count (``Get ( RecordModificationCount )``), so an update
    that names a stale modId is refused with 306."""
    return str(db.record_modification_count(ti.name, rid))


def _whole(key: str, value) -> int:
    try:
        return int(str(value))
    except ValueError:
        raise Failure(E_INVALID_PARAMETER, f"{key} must be a whole number, not “{value}”") from None


def _int(request: dict, *keys: str, default: int) -> int:
    """The first of ``keys`` the request gives (the step's ``offset`` or the REST API's ``_offset``)."""
    for k in keys:
        if k in request:
            return _whole(k, request[k])
    return default


def _layout(db, request: dict):
    """(layout name, occurrence, table) of the request's ``layouts``."""
    if "layouts" not in request:
        raise Failure(E_INVALID_PARAMETER, "the request needs a layout: \"layouts\": \"Name\"")
    lay = db.layouts().get(str(request["layouts"]).casefold())
    if lay is None:
        raise Failure(E_LAYOUT_MISSING)
    return lay[0], lay[1], db.table_of(lay[1])


def _record(db, ti, request: dict) -> int:
    """The record ``recordId`` names (101 when the table has no such record)."""
    if "recordId" not in request:
        raise Failure(E_INVALID_PARAMETER, "the request needs a recordId")
    try:
        rid = int(str(request["recordId"]))
    except ValueError:
        raise Failure(E_RECORD_MISSING) from None
    if rid not in set(db.all_ids(ti.name)):
        raise Failure(E_RECORD_MISSING)
    return rid


# -- the borrowed window ----------------------------------------------------------------------------------

class Borrowed:
    """What the request did that the script's window must hear of when it is given back: records deleted
    (by the request, a related delete or one of its scripts) leave the script's found sets too."""

    def __init__(self):
        self.deleted = False


@contextmanager
def borrowed_window(db):
    """Let the request move the window (layout, found sets, current records) and put it back as it was: the
    Data API's records are not part of the script's found sets, nor is its portal row active."""
    w = db.window
    saved = (w.layout, w.occurrence, w.mode, list(w.requests), w.request_index, db.original_layout, db.portal_row)
    contexts = {k: (c, None if c.found is None else list(c.found), c.index, c.sort, c.last_requests)
                for k, c in db.contexts.items()}
    db.portal_row = None
    state = Borrowed()
    try:
        yield state
    finally:
        w.layout, w.occurrence, w.mode, w.requests, w.request_index, db.original_layout, db.portal_row = saved
        for key in [k for k in db.contexts if k not in contexts]:
            del db.contexts[key]
        alive: dict[str, set[int]] = {}
        for key, (c, found, index, sort, last) in contexts.items():
            if found is not None and state.deleted:
                keep = alive.get(c.table) or alive.setdefault(c.table, set(db.all_ids(c.table)))
                before = sum(1 for r in found[:index] if r in keep)
                current = found[index] if index < len(found) else None
                found = [r for r in found if r in keep]
                index = found.index(current) if current in keep else min(before, max(len(found) - 1, 0))
            c.found, c.index, c.sort, c.last_requests = found, index, sort, last
            db.contexts[key] = c


def enter(db, layout: str, occurrence: str, all_records: bool):
    """The Data API's first move: go to the request's layout (in Browse mode), all its records found when a
    script is to see them."""
    db.go_to_layout(layout)
    db.window.mode = "browse"
    ctx = db.context(occurrence)
    if all_records:
        ctx.found, ctx.index, ctx.sort = db.all_ids(ctx.table), 0, None
    return ctx


def at_record(db, occurrence: str, rid: int | None):
    """Make ``rid`` (``None``: a new record) the layout's one found record, as the Data API's window has it."""
    ctx = db.context(occurrence)
    if rid is None:
        db.new_record(ctx)
    ctx.found, ctx.index, ctx.sort = [ctx.current() if rid is None else rid], 0, None
    return ctx


# -- scripts ----------------------------------------------------------------------------------------------

class Scripts:
    """The request's ``script.prerequest``, ``script.presort`` and ``script`` (each with ``.param``): run at the
    Data API Guide's moments, each answering ``scriptError`` (and ``scriptResult`` when it returned one) with
    the moment's suffix."""

    MOMENTS = {"prerequest": "script.prerequest", "presort": "script.presort", "script": "script"}

    def __init__(self, request: dict):
        self.todo: dict[str, tuple[str, str]] = {}
        self.response: dict[str, str] = {}
        for moment, key in self.MOMENTS.items():
            if key not in request:
                continue
            name, param = request[key], request.get(key + ".param", "")
            if not isinstance(name, str) or not name.strip():
                raise Failure(E_INVALID_PARAMETER, f"{key} must be the name of a script")
            if isinstance(param, bool) or not isinstance(param, (str, int, float)):
                raise Failure(E_INVALID_PARAMETER, f"{key}.param must be text")
            self.todo[moment] = (name, param if isinstance(param, str) else json.dumps(param))

    def __bool__(self) -> bool:
        return bool(self.todo)

    def run(self, db, f, moment: str, borrowed: Borrowed, layout: str) -> None:
        if moment not in self.todo:
            return
        from ...calc.values import to_text
        from ..run import execute
        from ..runtime import Frame

        name, param = self.todo[moment]
        suffix = "" if moment == "script" else "." + moment
        session = f.session
        result = ""
        try:
            target = session.script(name.strip())
            code = E_SCRIPT_MISSING if target is None else E_RECURSION if session.call_depth >= MAX_CALL_DEPTH else 0
        except FMScriptError as e:  # its file does not load
            target, code = None, e.code or E_SCRIPT_MISSING
        if target is not None and not code:
            borrowed.deleted = True  # a script may delete anything
            saved = (session.script_result, session.last_error)
            session.call_depth += 1
            try:
                result = execute(target, Frame(session, target.name, param))
                code = session.last_error
            except ScriptHalted:
                code = session.last_error
            except FMScriptError as e:
                code = e.code
            finally:
                session.call_depth -= 1
                session.script_result, session.last_error = saved
            try:
                db.commit()  # the Data API's session commits what its script left open
            except FMScriptError as e:
                db.revert()
                code = code or e.code
            db.go_to_layout(layout)  # the request goes on on its own layout
            db.window.mode = "browse"
        text = to_text(result) if result is not None else ""
        if text != "":
            self.response["scriptResult" + suffix] = text
        self.response["scriptError" + suffix] = str(code)


# -- fields and portals -----------------------------------------------------------------------------------

def _json_to_value(name: str, value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return Decimal(int(value))
    if isinstance(value, (int, float)):
        return Decimal(str(value))
    if isinstance(value, str):
        return value
    raise Failure(E_INVALID_PARAMETER, f"the value of “{name}” in fieldData must be text or a number")


def set_fields(db, f, field_data, occurrence: str | None = None) -> None:
    """fieldData: ``"Field"``, ``"Occurrence::Field"`` (a related field, as on a layout) or ``"Field(2)"``;
    ``occurrence`` is whose a bare name is (a portal row's fields)."""
    if field_data is None:
        return
    if not isinstance(field_data, dict):
        raise Failure(E_INVALID_PARAMETER, "fieldData must be an object of field names and values")
    for name, value in field_data.items():
        m = _FIELD_REF.match(str(name).strip())
        if m is None:
            raise Failure(E_FIELD_MISSING)
        db.set_field(f, m["occ"] or occurrence, m["name"], int(m["rep"] or 1), _json_to_value(name, value))


def portal_named(db, layout: str, name) -> object:
    """The portal of ``layout`` that ``name`` means: its object name, else its table occurrence's name (as the
    Data API Guide allows); another name is refused with 1708."""
    ps = db.portals(layout)
    key = str(name).casefold()
    for p in [p for p in ps if p.name.casefold() == key] + [p for p in ps if p.occurrence.casefold() == key]:
        return p
    names = ", ".join(p.name for p in ps) or "none"
    raise Failure(E_INVALID_PARAMETER, f"the layout “{layout}” has no portal named “{name}” (its portals: {names})")


def portal_writes(db, layout: str, portal_data) -> list:
    """portalData of create and update, checked before anything is written: ``[(portal, rows)]``, each row
    ``(recordId or None, modId or None, fields)``."""
    if portal_data is None:
        return []
    if not isinstance(portal_data, dict):
        raise Failure(E_INVALID_PARAMETER, "portalData must be an object: {\"Portal\": [{\"Occurrence::Field\": …}]}")
    out = []
    for name, rows in portal_data.items():
        p = portal_named(db, layout, name)
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise Failure(E_INVALID_PARAMETER, f"portalData.{name} must be an array of objects (one a related row)")
        parsed = []
        for r in rows:
            fields = {k: v for k, v in r.items() if k not in ("recordId", "modId")}
            rid = None
            if "recordId" in r:
                try:
                    rid = int(str(r["recordId"]))
                except ValueError:
                    raise Failure(E_RECORD_MISSING) from None
            parsed.append((rid, None if r.get("modId") is None else str(r["modId"]), fields))
        out.append((p, parsed))
    return out


def write_portals(db, f, writes: list) -> None:
    """Edit the related rows a recordId names (modId checked) and create the others through the portal's
    relationship, with the layout's record current; part of the request's one commit."""
    for p, rows in writes:
        ti = db.table_of(p.occurrence)
        shown = None
        for rid, modid, fields in rows:
            if rid is not None:
                shown = db.portal_records(p) if shown is None else shown
                if rid not in shown:
                    raise Failure(E_RECORD_MISSING, f"record {rid} is not a row of the portal “{p.name}”")
                if modid is not None and modid != mod_id(db, ti, rid):
                    raise Failure(E_MODID_MISMATCH)
            elif not fields:
                continue  # nothing to set: FileMaker creates a related record only when a field is set
            else:
                with db.related_row(p.occurrence, None):  # the portal's empty last row creates the record
                    rid = db.record_for(p.occurrence, create=True)
                shown = None
            with db.related_row(p.occurrence, rid):
                set_fields(db, f, fields, p.occurrence)


def related_deletes(db, layout: str, value) -> list:
    """deleteRelated (``"Portal.recordId"``, or an array of them): ``[(portal, recordId)]``."""
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        name, dot, rid = str(item).rpartition(".")
        if not isinstance(item, str) or not dot or not name:
            raise Failure(E_INVALID_PARAMETER, f"deleteRelated names a portal row as \"Portal.recordId\", not “{item}”")
        try:
            out.append((portal_named(db, layout, name), int(rid)))
        except ValueError:
            raise Failure(E_RECORD_MISSING) from None
    return out


def check_deletes(db, deletes: list) -> None:
    """Each row to delete is a row of its portal (101), and the portal allows deleting its rows (200), as Delete
    Portal Row has it."""
    for p, rid in deletes:
        if rid not in db.portal_records(p):
            raise Failure(E_RECORD_MISSING, f"record {rid} is not a row of the portal “{p.name}”")
        if not p.allow_delete:
            raise Failure(E_RECORD_ACCESS_DENIED, f"the portal “{p.name}” does not allow deletion of portal records "
                                                  "(fmscript db portal … --allow-deletion)")


def portal_ranges(db, layout: str, request: dict) -> list:
    """``[(portal, offset, limit)]`` a read answers: the portals ``portal`` names (default: all of the layout's),
    each paged by ``offset.NAME`` / ``limit.NAME`` (or ``_offset.NAME`` / ``_limit.NAME``; from 1, 50 rows)."""
    wanted = request.get("portal")
    if isinstance(wanted, str):
        try:
            wanted = json_loads(wanted) if wanted.lstrip().startswith("[") else [wanted]
        except ValueError:
            raise Failure(E_INVALID_PARAMETER, "portal must be an array of portal names") from None
    if wanted is None:
        chosen = db.portals(layout)
    elif isinstance(wanted, list) and all(isinstance(n, str) for n in wanted):
        chosen = []
        for n in wanted:
            p = portal_named(db, layout, n)
            if p not in chosen:
                chosen.append(p)
    else:
        raise Failure(E_INVALID_PARAMETER, "portal must be an array of portal names")
    ranges: dict[str, dict[str, int]] = {}
    for key, value in request.items():
        m = _PORTAL_RANGE.match(str(key))
        if m is not None:
            p = portal_named(db, layout, m["portal"])
            ranges.setdefault(p.name, {})[m["what"].lower()] = _whole(key, value)
    out = []
    for p in chosen:
        r = ranges.get(p.name, {})
        offset, limit = max(r.get("offset", 1), 1), r.get("limit", PORTAL_LIMIT)
        if limit < 1:
            raise Failure(E_INVALID_PARAMETER, f"limit.{p.name} must be 1 or more, not {limit}")
        out.append((p, offset, limit))
    return out


def portal_answer(db, database: str, ranges: list) -> tuple[dict, list]:
    """``portalData`` and ``portalDataInfo`` of the layout's current record."""
    data, info = {}, []
    for p, offset, limit in ranges:
        ti = db.table_of(p.occurrence)
        rows = db.portal_records(p)
        page = rows[offset - 1: offset - 1 + limit]
        out = []
        for rid in page:
            raw = db.record_values(ti, rid)
            row = {"recordId": str(rid)}
            row.update({f"{p.occurrence}::{fi.name}": _json_value(raw.get(fi.name), fi.type) for fi in ti.fields})
            row["modId"] = mod_id(db, ti, rid)
            out.append(row)
        data[p.name] = out
        entry = {"portalObjectName": p.name} if p.name != p.occurrence else {}  # an unnamed portal has none
        entry.update({"database": database, "table": p.occurrence, "foundCount": len(rows),
                      "returnedCount": len(out)})
        info.append(entry)
    return data, info


def _field_meta(ti, prefix: str = "") -> list:
    return [{"name": prefix + fi.name, "type": "normal", "displayType": "editText", "result": fi.type,
             "global": fi.is_global, "maxRepeat": fi.repetitions} for fi in ti.fields]


def _database_name(db) -> str:
    return Path(db.path() or "Untitled").stem


# -- the actions ------------------------------------------------------------------------------------------

def _write(db, work):
    """Run a change and commit it as data entry; on any failure nothing of it stays."""
    try:
        response = work()
        db.commit(data_entry=True)
        return response
    except FMScriptError as e:
        db.revert()
        raise Failure(e.code) from None
    except Failure:
        db.revert()
        raise


def create(db, f, request: dict, scripts: Scripts, borrowed: Borrowed) -> dict:
    layout, occ, ti = _layout(db, request)
    writes = portal_writes(db, layout, request.get("portalData"))
    enter(db, layout, occ, bool(scripts))
    scripts.run(db, f, "prerequest", borrowed, layout)

    def work():
        ctx = at_record(db, occ, None)
        set_fields(db, f, request.get("fieldData"))
        write_portals(db, f, writes)
        return ctx.current()
    rid = _write(db, work)
    at_record(db, occ, rid)
    scripts.run(db, f, "presort", borrowed, layout)
    scripts.run(db, f, "script", borrowed, layout)
    return {"recordId": str(rid), "modId": mod_id(db, ti, rid)}


def update(db, f, request: dict, scripts: Scripts, borrowed: Borrowed) -> dict:
    layout, occ, ti = _layout(db, request)
    field_data = request.get("fieldData")
    delete_related = request.get("deleteRelated")
    if isinstance(field_data, dict) and "deleteRelated" in field_data:  # the Guide's examples put it there
        field_data = dict(field_data)
        delete_related = field_data.pop("deleteRelated")
    writes = portal_writes(db, layout, request.get("portalData"))
    deletes = related_deletes(db, layout, delete_related) if delete_related is not None else []
    enter(db, layout, occ, bool(scripts))
    scripts.run(db, f, "prerequest", borrowed, layout)
    rid = _record(db, ti, request)
    if "modId" in request and str(request["modId"]) != mod_id(db, ti, rid):
        raise Failure(E_MODID_MISMATCH)
    at_record(db, occ, rid)
    check_deletes(db, deletes)

    def work():
        at_record(db, occ, rid)
        set_fields(db, f, field_data)
        write_portals(db, f, writes)
    _write(db, work)
    if deletes:
        borrowed.deleted = True
        try:
            for p, related in deletes:
                db.delete_ids(db.table_of(p.occurrence).name, [related])
        except FMScriptError as e:
            raise Failure(e.code) from None
    at_record(db, occ, rid)
    scripts.run(db, f, "presort", borrowed, layout)
    scripts.run(db, f, "script", borrowed, layout)
    return {"modId": mod_id(db, ti, rid)}


def duplicate(db, f, request: dict, scripts: Scripts, borrowed: Borrowed) -> dict:
    layout, occ, ti = _layout(db, request)
    enter(db, layout, occ, bool(scripts))
    scripts.run(db, f, "prerequest", borrowed, layout)
    rid = _record(db, ti, request)

    def work():
        return db.duplicate_record(at_record(db, occ, rid))
    new = _write(db, work)
    at_record(db, occ, new)
    scripts.run(db, f, "presort", borrowed, layout)
    scripts.run(db, f, "script", borrowed, layout)
    return {"recordId": str(new), "modId": mod_id(db, ti, new)}


def delete(db, f, request: dict, scripts: Scripts, borrowed: Borrowed) -> dict:
    layout, occ, ti = _layout(db, request)
    enter(db, layout, occ, bool(scripts))
    scripts.run(db, f, "prerequest", borrowed, layout)
    rid = _record(db, ti, request)
    borrowed.deleted = True
    try:
        db.delete_ids(ti.name, [rid])
    except FMScriptError as e:
        raise Failure(e.code) from None
    scripts.run(db, f, "presort", borrowed, layout)
    scripts.run(db, f, "script", borrowed, layout)
    return {}


def metadata(db, f, request: dict, scripts: Scripts, borrowed: Borrowed) -> dict:
    if "tables" in request:
        ti = db.table_of(str(request["tables"]))
        if ti is None:
            raise Failure(E_TABLE_MISSING)
        return {"fieldMetaData": _field_meta(ti)}
    if "layouts" in request:
        layout, _, ti = _layout(db, request)
        return {"fieldMetaData": [{"name": fi.name, "result": fi.type, "global": fi.is_global}
                                  for fi in ti.fields],
                "portalMetaData": {p.name: _field_meta(db.table_of(p.occurrence), p.occurrence + "::")
                                   for p in db.portals(layout)}}
    return {"tables": [{"name": o[0]} for o in db.occurrences().values()]}


def _requests(ti, query) -> list:
    from ...data import finds as F

    if not isinstance(query, list) or not query or not all(isinstance(q, dict) for q in query):
        raise Failure(E_INVALID_PARAMETER, "query must be an array of objects: [{\"Field\": \"criteria\"}]")
    requests = []
    for q in query:
        req = F.Request(omit=str(q.get("omit", "false")).lower() == "true")
        for name, crit in q.items():
            if name == "omit":
                continue
            fi = ti.field(str(name).split("::")[-1])
            if fi is None:
                raise Failure(E_FIELD_MISSING)
            req.criteria[(None, fi.name.casefold())] = (fi.name, str(crit))
        requests.append(req)
    return requests


def _sort_spec(ti, request: dict) -> list:
    sort = request.get("sort", request.get("_sort"))
    if isinstance(sort, str):
        try:
            sort = json_loads(sort)
        except ValueError:
            raise Failure(E_INVALID_PARAMETER, "sort must be an array of {\"fieldName\", \"sortOrder\"}") from None
    if not sort:
        return []
    if not isinstance(sort, list) or not all(isinstance(s, dict) for s in sort):
        raise Failure(E_INVALID_PARAMETER, "sort must be an array of {\"fieldName\", \"sortOrder\"}")
    spec = []
    for s in sort:
        fi = ti.field(str(s.get("fieldName", "")).split("::")[-1])
        if fi is None:
            raise Failure(E_FIELD_MISSING)
        spec.append((fi, str(s.get("sortOrder", "ascend")).lower() not in ("descend", "descending")))
    return spec


def read(db, f, request: dict, scripts: Scripts, borrowed: Borrowed) -> dict:
    layout, occurrence, ti = _layout(db, request)
    if "recordId" in request and "query" in request:
        raise Failure(E_INVALID_PARAMETER, "give either query or recordId, not both")
    requests = _requests(ti, request["query"]) if "query" in request else None
    spec = _sort_spec(ti, request)
    offset = max(_int(request, "offset", "_offset", default=1), 1)
    limit = _int(request, "limit", "_limit", default=100)
    if limit < 1:
        raise Failure(E_INVALID_PARAMETER, f"limit must be 1 or more, not {limit}")
    portals = portal_ranges(db, layout, request)
    ctx = enter(db, layout, occurrence, bool(scripts))
    scripts.run(db, f, "prerequest", borrowed, layout)
    ctx = db.context(occurrence)
    if "recordId" in request:
        ids = [_record(db, ti, request)]
    elif requests is not None:
        try:
            ids = db.run_requests(ctx, requests)
        except FMScriptError as e:
            raise Failure(e.code) from None
        if not ids:
            raise Failure(E_NO_RECORDS_MATCH)
    else:
        ids = db.all_ids(ti.name)
    ctx.found, ctx.index, ctx.sort = list(ids), 0, None
    scripts.run(db, f, "presort", borrowed, layout)
    ctx = db.context(occurrence)  # what the presort script left found is what is sorted and answered
    if spec:
        db.sort(ctx, spec)
    scripts.run(db, f, "script", borrowed, layout)
    ctx = db.context(occurrence)
    found = list(ctx.found or [])
    name = _database_name(db)
    data = []
    for i, rid in enumerate(found[offset - 1: offset - 1 + limit]):
        ctx.index = offset - 1 + i  # the portals show this record's related rows
        raw = db.record_values(ti, rid)
        portal_data, portal_info = portal_answer(db, name, portals)
        record = {"fieldData": {fi.name: _json_value(raw.get(fi.name), fi.type) for fi in ti.fields},
                  "portalData": portal_data, "recordId": str(rid), "modId": mod_id(db, ti, rid)}
        if portal_info:
            record["portalDataInfo"] = portal_info
        data.append(record)
    return {"dataInfo": {"database": name, "layout": layout, "table": occurrence,
                         "totalRecordCount": db.total_count(ti.name), "foundCount": len(found),
                         "returnedCount": len(data)},
            "data": data}


HANDLERS = {"read": read, "metadata": metadata, "create": create, "update": update, "delete": delete,
            "duplicate": duplicate}


def data_api(db, f, request: dict) -> dict:
    """The answer to one request (``action``: read, metaData, create, update, delete, duplicate)."""
    action = str(request.get("action", "read"))
    handler = HANDLERS.get(action.casefold())
    try:
        if handler is None:
            raise Failure(E_INVALID_PARAMETER, f"the action “{action}” is not one of {', '.join(ACTIONS)}")
        scripts = Scripts(request)
        with borrowed_window(db) as borrowed:
            response = handler(db, f, request, scripts, borrowed)
        return ok({**scripts.response, **response})
    except Failure as e:
        return answer_for(e)


@step("Execute FileMaker Data API", labels=("Select", "Target"),
      note="Portal rows carry every field of the related table (fmscript's layouts place no fields); the request's "
           "scripts run in the calling script's session (its $$ variables) on the Data API's own window; version, "
           "layout.response and options are not read.")
def execute_data_api(st: S.Step, c):
    """Answers a Data API request (JSON) about the current file with the Data API's JSON, in a field or variable."""
    target_opt = st.get("Target")
    if target_opt is None or target_opt.value is None:
        raise c.incomplete("Execute FileMaker Data API has no Target, and there is no active field to use",
                           E_FIELD_MISSING)
    target = c.target(target_opt)
    opts = calc_options(st)
    if not opts:
        raise c.incomplete("Execute FileMaker Data API has no request", E_INVALID_PARAMETER)
    request = c.text(opts[0])

    def run(f):
        try:
            req = json_loads(request(f))
            if not isinstance(req, dict):
                raise ValueError("not an object")
        except ValueError as e:
            answer = answer_for(Failure(E_INVALID_PARAMETER, f"the request is not a JSON object: {e}"))
        else:
            db = database(f)
            db.commit()  # the Data API works on what is committed
            answer = data_api(db, f, req)
        target(f, json.dumps(answer, ensure_ascii=False, separators=(",", ":")))
    return run
