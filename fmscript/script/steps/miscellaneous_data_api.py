"""Execute FileMaker Data API: the Data API's JSON requests and answers against the current file.

FileMaker runs the request through the Data API's own machinery, not through the script's window: a record it
creates, edits or deletes is committed at once (validated as data entry), and the script's layout, found set
and current record stay as they were.  Errors come back in ``messages`` with FileMaker's number and wording,
and the step itself succeeds, as FileMaker's does.
"""
from __future__ import annotations

import json
import re
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

from ...limits import json_loads
from ...errors import (E_FIELD_MISSING, E_INVALID_PARAMETER, E_LAYOUT_MISSING, E_MODID_MISMATCH,
                       E_NO_RECORDS_MATCH, E_RECORD_MISSING, E_TABLE_MISSING, FMScriptError, meaning)
from .. import ast as S
from . import step
from .data_access import calc_options, database

ACTIONS = ("read", "metaData", "create", "update", "delete", "duplicate")
_FIELD_REF = re.compile(r"^(?:(?P<occ>.+?)::)?(?P<name>.+?)(?:\((?P<rep>\d+)\))?$")


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


def _int(request: dict, *keys: str, default: int) -> int:
    """The first of ``keys`` the request gives (the step's ``offset`` or the REST API's ``_offset``)."""
    for k in keys:
        if k in request:
            try:
                return int(str(request[k]))
            except ValueError:
                raise Failure(E_INVALID_PARAMETER, f"{k} must be a whole number, not “{request[k]}”") from None
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


@contextmanager
def on_record(db, layout: str, occurrence: str, rid: int | None):
    """Make ``rid`` (``None``: a new record) the current record of ``layout`` while fields are set, then put the
    script's window back as it was: the Data API's record is not part of the script's found set."""
    w = db.window
    saved = (w.layout, w.occurrence, w.mode, db.original_layout)
    db.go_to_layout(layout)
    w.mode = "browse"
    ctx = db.context(occurrence)
    keep = (list(ctx.found or []), ctx.index, ctx.sort)
    try:
        if rid is None:
            db.new_record(ctx)
        else:
            ctx.found, ctx.index = [rid], 0
        yield ctx
    finally:
        ctx.found, ctx.index, ctx.sort = keep
        w.layout, w.occurrence, w.mode, db.original_layout = saved


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


def set_fields(db, f, field_data) -> None:
    """fieldData: ``"Field"``, ``"Occurrence::Field"`` (a related field, as on a layout) or ``"Field(2)"``."""
    if field_data is None:
        return
    if not isinstance(field_data, dict):
        raise Failure(E_INVALID_PARAMETER, "fieldData must be an object of field names and values")
    for name, value in field_data.items():
        m = _FIELD_REF.match(str(name).strip())
        if m is None:
            raise Failure(E_FIELD_MISSING)
        db.set_field(f, m["occ"], m["name"], int(m["rep"] or 1), _json_to_value(name, value))


def _write(db, f, request: dict, work) -> dict:
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


def create(db, f, request: dict) -> dict:
    layout, occ, ti = _layout(db, request)

    def work():
        with on_record(db, layout, occ, None) as ctx:
            rid = ctx.current()
            set_fields(db, f, request.get("fieldData"))
        return rid
    rid = _write(db, f, request, work)
    return ok({"recordId": str(rid), "modId": mod_id(db, ti, rid)})


def update(db, f, request: dict) -> dict:
    layout, occ, ti = _layout(db, request)
    rid = _record(db, ti, request)
    if "modId" in request and str(request["modId"]) != mod_id(db, ti, rid):
        raise Failure(E_MODID_MISMATCH)

    def work():
        with on_record(db, layout, occ, rid):
            set_fields(db, f, request.get("fieldData"))
    _write(db, f, request, work)
    return ok({"modId": mod_id(db, ti, rid)})


def duplicate(db, f, request: dict) -> dict:
    layout, occ, ti = _layout(db, request)
    rid = _record(db, ti, request)

    def work():
        with on_record(db, layout, occ, rid) as ctx:
            return db.duplicate_record(ctx)
    new = _write(db, f, request, work)
    return ok({"recordId": str(new), "modId": mod_id(db, ti, new)})


def delete(db, f, request: dict) -> dict:
    _, _, ti = _layout(db, request)
    rid = _record(db, ti, request)
    try:
        db.delete_ids(ti.name, [rid])
    except FMScriptError as e:
        raise Failure(e.code) from None
    return ok({})


def metadata(db, f, request: dict) -> dict:
    if "tables" in request:
        ti = db.table_of(str(request["tables"]))
        if ti is None:
            raise Failure(E_TABLE_MISSING)
        return ok({"fieldMetaData": [
            {"name": fi.name, "type": "normal", "displayType": "editText", "result": fi.type,
             "global": fi.is_global, "maxRepeat": fi.repetitions} for fi in ti.fields]})
    if "layouts" in request:
        _, _, ti = _layout(db, request)
        return ok({"fieldMetaData": [{"name": fi.name, "result": fi.type, "global": fi.is_global}
                                     for fi in ti.fields], "portalMetaData": {}})
    return ok({"tables": [{"name": o[0]} for o in db.occurrences().values()]})


def read(db, f, request: dict) -> dict:
    from ...data import finds as F
    from ...data.window import Context

    layout, occurrence, ti = _layout(db, request)
    ctx = Context(occurrence, ti.name)
    if "recordId" in request and "query" in request:
        raise Failure(E_INVALID_PARAMETER, "give either query or recordId, not both")
    if "recordId" in request:
        ids = [_record(db, ti, request)]
    elif "query" in request:
        query = request["query"]
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
        try:
            ids = db.run_requests(ctx, requests)
        except FMScriptError as e:
            raise Failure(e.code) from None
        if not ids:
            raise Failure(E_NO_RECORDS_MATCH)
    else:
        ids = db.all_ids(ti.name)
    ctx.found = list(ids)
    sort = request.get("sort", request.get("_sort"))
    if isinstance(sort, str):
        try:
            sort = json_loads(sort)
        except ValueError:
            raise Failure(E_INVALID_PARAMETER, "sort must be an array of {\"fieldName\", \"sortOrder\"}") from None
    if sort:
        if not isinstance(sort, list) or not all(isinstance(s, dict) for s in sort):
            raise Failure(E_INVALID_PARAMETER, "sort must be an array of {\"fieldName\", \"sortOrder\"}")
        spec = []
        for s in sort:
            fi = ti.field(str(s.get("fieldName", "")).split("::")[-1])
            if fi is None:
                raise Failure(E_FIELD_MISSING)
            spec.append((fi, str(s.get("sortOrder", "ascend")).lower() not in ("descend", "descending")))
        db.sort(ctx, spec)
    offset = max(_int(request, "offset", "_offset", default=1), 1)
    limit = _int(request, "limit", "_limit", default=100)
    if limit < 1:
        raise Failure(E_INVALID_PARAMETER, f"limit must be 1 or more, not {limit}")
    page = ctx.found[offset - 1: offset - 1 + limit]
    data = []
    for rid in page:
        raw = db.record_values(ti, rid)
        data.append({"fieldData": {fi.name: _json_value(raw.get(fi.name), fi.type) for fi in ti.fields},
                     "portalData": {}, "recordId": str(rid), "modId": mod_id(db, ti, rid)})
    return ok({"dataInfo": {"database": Path(db.path() or "Untitled").stem, "layout": layout,
                            "table": occurrence, "totalRecordCount": db.total_count(ti.name),
                            "foundCount": len(ctx.found), "returnedCount": len(data)},
               "data": data})


HANDLERS = {"read": read, "metadata": metadata, "create": create, "update": update, "delete": delete,
            "duplicate": duplicate}


def data_api(db, f, request: dict) -> dict:
    """The answer to one request (``action``: read, metaData, create, update, delete, duplicate)."""
    action = str(request.get("action", "read"))
    handler = HANDLERS.get(action.casefold())
    try:
        if handler is None:
            raise Failure(E_INVALID_PARAMETER, f"the action “{action}” is not one of {', '.join(ACTIONS)}")
        return handler(db, f, request)
    except Failure as e:
        return answer_for(e)


@step("Execute FileMaker Data API", labels=("Select", "Target"),
      note="modId is the record's modification count, as in FileMaker; portalData is not read or written.")
def execute_data_api(st: S.Step, c):
    """Answers a Data API request (JSON) about the current file with the Data API's JSON, in a field or variable."""
    target_opt = st.get("Target")
    if target_opt is None or target_opt.value is None:
        raise c.error("Execute FileMaker Data API needs a Target: [ Select ; Target: $result ; \"{…}\" ]")
    target = c.target(target_opt)
    opts = calc_options(st)
    if not opts:
        raise c.error("Execute FileMaker Data API needs a request: a JSON object such as {\"layouts\": \"Name\"}")
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
