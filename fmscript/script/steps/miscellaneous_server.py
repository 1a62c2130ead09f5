"""Miscellaneous steps that scripts run on a server rely on: Get Folder Path (headless), Send Mail over SMTP,
Set Session Identifier, Execute FileMaker Data API.
"""
from __future__ import annotations

import os
from pathlib import Path

from ...data import paths
from ...errors import (E_CANNOT_CREATE_FILE, E_COMMAND_UNAVAILABLE, E_FIELD_MISSING, E_FILE_MISSING,
                       E_INVALID_PARAMETER, E_LAYOUT_MISSING, E_MAIL_NOT_SENT, E_NO_MAIL_CLIENT, E_NO_RECORDS_MATCH,
                       E_RECORD_MISSING, E_SMTP_AUTH_FAILED, E_SMTP_AUTH_UNSUPPORTED, E_SMTP_REFUSED, E_SMTP_SSL,
                       E_TABLE_MISSING, FMScriptError, StepError)
from .. import ast as S
from . import step
from .data_access import calc_options
from .files_data import os_error


@step("Get Folder Path", labels=("Allow Folder Creation",),
      note="Nobody picks a folder on a command line: the result is the Default location when the step gives one "
           "(made when Allow Folder Creation is on), else Get ( DocumentsPath ).")
def get_folder_path(st: S.Step, c):
    """Puts a folder path, in FileMaker's form (leading and trailing ``/``), in the variable."""
    allow = c.on_off(st.get("Allow Folder Creation"), False) or "Allow Folder Creation" in st.words()
    opts = calc_options(st)
    if not opts:
        raise c.error("Get Folder Path needs a variable: Get Folder Path [ $path ]")
    target = c.target(opts[0], "a variable")
    loc_opt = opts[2] if len(opts) > 2 else None
    location = c.text(loc_opt) if loc_opt is not None else None

    def run(f):
        text = location(f).strip() if location else ""
        if text:
            folder = paths.candidates(text, f.session.base_dir, reading=False)[0]
            if not folder.is_dir():
                if not allow:
                    raise StepError(f"the folder {folder} does not exist (turn on Allow Folder Creation)",
                                    code=E_FILE_MISSING)
                try:
                    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
                except OSError as e:
                    raise os_error(e, folder, E_CANNOT_CREATE_FILE) from None
        else:
            folder = Path(os.environ.get("FMSCRIPT_DOCUMENTS") or Path.home() / "Documents")
        target(f, paths.fm_file_path(folder, folder=True))
    return run


# ------------------------------------------------------------------------------------------------ Send Mail

def smtp_settings() -> dict:
    """Where Send Mail [ Send via SMTP Server ] sends: FileMaker keeps these in the step's SMTP Options dialog,
    which its text form does not show, so fmscript reads them from the environment (the password never from
    script text)."""
    host = os.environ.get("FMSCRIPT_SMTP_HOST", "")
    port = os.environ.get("FMSCRIPT_SMTP_PORT", "")
    if ":" in host and not port:
        host, port = host.rsplit(":", 1)
    security = os.environ.get("FMSCRIPT_SMTP_SECURITY", "none").strip().lower()
    if security not in ("none", "starttls", "ssl"):
        raise StepError(f"FMSCRIPT_SMTP_SECURITY is “{security}”: use none, starttls or ssl", code=E_INVALID_PARAMETER)
    return {"host": host, "port": int(port) if port else (465 if security == "ssl" else 25),
            "security": security, "user": os.environ.get("FMSCRIPT_SMTP_USER", ""),
            "password": os.environ.get("FMSCRIPT_SMTP_PASSWORD", ""),
            "from": os.environ.get("FMSCRIPT_SMTP_FROM", ""), "reply_to": os.environ.get("FMSCRIPT_SMTP_REPLY_TO", "")}


def addresses(text: str) -> list[str]:
    """FileMaker separates several addresses with semicolons or returns."""
    return [a.strip() for a in text.replace("¶", ";").replace("\r", ";").replace("\n", ";").replace(",", ";")
            .split(";") if a.strip()]


def send_smtp(settings: dict, msg, recipients: list[str], timeout: float = 30) -> None:
    """Send one message; SMTP failures become FileMaker's 150x errors (never a traceback, never the password)."""
    import smtplib
    import ssl

    where = f"{settings['host']}:{settings['port']}"
    try:
        if settings["security"] == "ssl":
            server = smtplib.SMTP_SSL(settings["host"], settings["port"], timeout=timeout,
                                      context=ssl.create_default_context())
        else:
            server = smtplib.SMTP(settings["host"], settings["port"], timeout=timeout)
        with server:
            if settings["security"] == "starttls":
                server.starttls(context=ssl.create_default_context())
            if settings["user"]:
                try:
                    server.login(settings["user"], settings["password"])
                except smtplib.SMTPNotSupportedError:
                    raise StepError(f"the SMTP server at {where} offers no authentication",
                                    code=E_SMTP_AUTH_UNSUPPORTED) from None
                except smtplib.SMTPAuthenticationError as e:
                    raise StepError(f"the SMTP server at {where} refused the account “{settings['user']}”: "
                                    f"{_smtp_text(e)}", code=E_SMTP_AUTH_FAILED) from None
            server.send_message(msg, from_addr=settings["from"] or None, to_addrs=recipients)
    except StepError:
        raise
    except ssl.SSLError as e:
        raise StepError(f"TLS with the SMTP server at {where} failed: {e.reason or e}", code=E_SMTP_SSL) from None
    except (ConnectionRefusedError, smtplib.SMTPConnectError, TimeoutError, OSError) as e:
        if isinstance(e, smtplib.SMTPException) and not isinstance(e, smtplib.SMTPConnectError):
            raise StepError(f"the mail was not sent: {_smtp_text(e)}", code=E_MAIL_NOT_SENT) from None
        raise StepError(f"cannot connect to the SMTP server at {where}: {getattr(e, 'strerror', None) or e}",
                        code=E_SMTP_REFUSED) from None
    except smtplib.SMTPException as e:
        raise StepError(f"the mail was not sent: {_smtp_text(e)}", code=E_MAIL_NOT_SENT) from None


def _smtp_text(e) -> str:
    msg = getattr(e, "smtp_error", None)
    if isinstance(msg, bytes):
        return msg.decode("utf-8", "replace")
    if getattr(e, "recipients", None):
        return "; ".join(f"{k}: {v[1].decode('utf-8', 'replace') if isinstance(v[1], bytes) else v[1]}"
                         for k, v in e.recipients.items())
    return str(e)


@step("Send Mail", labels=("To", "Cc", "Bcc", "Subject", "Message", "Attach file") + ("With dialog",),
      note="Send via SMTP Server takes its server from FMSCRIPT_SMTP_HOST / _PORT / _SECURITY (none, starttls, ssl) / "
           "_USER / _PASSWORD / _FROM / _REPLY_TO, since FileMaker's text form does not show the SMTP Options; "
           "Send via E-mail Client gives error 119 (there is no mail client on a command line). One message is "
           "sent (not one per record).")
def send_mail(st: S.Step, c):
    """Sends one email through an SMTP server: To, Cc, Bcc, Subject, Message and attached files."""
    words = st.words()
    via_client = "Send via E-mail Client" in words or "E-mail Client" in words
    to, cc, bcc = (c.text(st.get(k)) if st.get(k) is not None else None for k in ("To", "Cc", "Bcc"))
    subject = c.text(st.get("Subject")) if st.get("Subject") is not None else (lambda f: "")
    message = c.text(st.get("Message")) if st.get("Message") is not None else (lambda f: "")
    attach = [c.text(st.get("Attach file"))] if st.get("Attach file") is not None else []

    def run(f):
        from email.message import EmailMessage
        from email.utils import formatdate, make_msgid
        import mimetypes

        if via_client:
            raise StepError("Send via E-mail Client needs a mail program, which a command line does not have: "
                            "use Send via SMTP Server", code=E_NO_MAIL_CLIENT)
        settings = smtp_settings()
        if not settings["host"]:
            raise StepError("Send via SMTP Server needs a server: set FMSCRIPT_SMTP_HOST (and _PORT, _FROM…)",
                            code=E_INVALID_PARAMETER)
        lists = {k: addresses(fn(f)) if fn else [] for k, fn in (("To", to), ("Cc", cc), ("Bcc", bcc))}
        recipients = lists["To"] + lists["Cc"] + lists["Bcc"]
        if not recipients:
            raise StepError("Send Mail has no recipient: give To, Cc or Bcc", code=E_INVALID_PARAMETER)
        if not settings["from"]:
            raise StepError("Send via SMTP Server needs a sender: set FMSCRIPT_SMTP_FROM", code=E_INVALID_PARAMETER)
        msg = EmailMessage()
        msg["From"] = settings["from"]
        for k in ("To", "Cc"):
            if lists[k]:
                msg[k] = ", ".join(lists[k])
        if settings["reply_to"]:
            msg["Reply-To"] = settings["reply_to"]
        msg["Subject"] = subject(f).replace("\r", " ").replace("\n", " ")
        msg["Date"] = formatdate(localtime=True)
        msg["Message-ID"] = make_msgid(domain=settings["host"] or None)
        msg.set_content(message(f).replace("\r\n", "\n").replace("\r", "\n"))
        for path_text in attach:
            for line in paths.entries(path_text(f), paths.frame_variables(f)):
                p = paths.resolve_input(line, f.session.base_dir, paths.frame_variables(f), "file to attach")
                ctype, _ = mimetypes.guess_type(p.name)
                main, sub = (ctype or "application/octet-stream").split("/", 1)
                msg.add_attachment(p.read_bytes(), maintype=main, subtype=sub, filename=p.name)
        send_smtp(settings, msg, recipients)
    return run


@step("Set Session Identifier", labels=("Value",),
      note="Get ( SessionIdentifier ) returns the value in any file (FileMaker: in hosted files only).")
def set_session_identifier(st: S.Step, c):
    """Sets the identifier of the session (by default, Get ( UserName ))."""
    opt = st.get("Value") or next(iter(calc_options(st)), None)
    if opt is None:
        raise c.error("Set Session Identifier needs a value: Set Session Identifier [ Value: \"name\" ]")
    value = c.text(opt)

    def run(f):
        f.session.extensions["session_identifier"] = value(f)
    return run


# ------------------------------------------------------------------------------------------------ Data API

def _json_value(raw, ftype: str):
    """A field's value as the Data API returns it: numbers as JSON numbers, everything else as text."""
    from decimal import Decimal

    from ...calc.values import to_text
    from ...data.values import from_storage

    v = from_storage(raw, ftype)
    if isinstance(v, Decimal):
        return int(v) if v == v.to_integral_value() and abs(v) < 2 ** 53 else float(v)
    return to_text(v) if v is not None else ""


def data_api(db, request: dict) -> dict:
    """The answer to one Execute FileMaker Data API request against the current file (read and metaData)."""
    from ...data import finds as F
    from ...data.window import Context

    def fail(code: int, message: str) -> dict:
        return {"messages": [{"code": str(code), "message": message}], "response": {}}

    action = str(request.get("action", "read"))
    if action == "metaData":
        if "tables" in request:
            ti = db.table_of(str(request["tables"]))
            if ti is None:
                return fail(E_TABLE_MISSING, "Table is missing")
            return {"messages": [{"code": "0", "message": "OK"}], "response": {"fieldMetaData": [
                {"name": fi.name, "type": "normal", "displayType": "editText", "result": fi.type,
                 "global": fi.is_global, "maxRepeat": fi.repetitions} for fi in ti.fields]}}
        if "layouts" in request:
            lay = db.layouts().get(str(request["layouts"]).casefold())
            if lay is None:
                return fail(E_LAYOUT_MISSING, "Layout is missing")
            ti = db.table_of(lay[1])
            return {"messages": [{"code": "0", "message": "OK"}], "response": {"fieldMetaData": [
                {"name": fi.name, "result": fi.type, "global": fi.is_global} for fi in ti.fields], "portalMetaData": {}}}
        return {"messages": [{"code": "0", "message": "OK"}],
                "response": {"tables": [{"name": o[0]} for o in db.occurrences().values()]}}
    if action != "read":
        return fail(E_COMMAND_UNAVAILABLE, f"the action “{action}” is not carried out by fmscript (read, metaData)")
    if "layouts" not in request:
        return fail(E_INVALID_PARAMETER, "the request needs a layout: \"layouts\": \"Name\"")
    lay = db.layouts().get(str(request["layouts"]).casefold())
    if lay is None:
        return fail(E_LAYOUT_MISSING, "Layout is missing")
    occurrence = lay[1]
    ti = db.table_of(occurrence)
    ctx = Context(occurrence, ti.name)
    if "recordId" in request and "query" in request:
        return fail(E_INVALID_PARAMETER, "give either query or recordId, not both")
    if "recordId" in request:
        rid = int(str(request["recordId"]))
        ids = [rid] if rid in set(db.all_ids(ti.name)) else []
        if not ids:
            return fail(E_RECORD_MISSING, "Record is missing")
    elif "query" in request:
        query = request["query"]
        if not isinstance(query, list) or not all(isinstance(q, dict) for q in query):
            return fail(E_INVALID_PARAMETER, "query must be an array of objects")
        requests = []
        for q in query:
            req = F.Request(omit=str(q.get("omit", "false")).lower() == "true")
            for name, crit in q.items():
                if name == "omit":
                    continue
                fi = ti.field(name.split("::")[-1])
                if fi is None:
                    return fail(E_FIELD_MISSING, "Field is missing")
                req.criteria[(None, fi.name.casefold())] = (fi.name, str(crit))
            requests.append(req)
        try:
            ids = db.run_requests(ctx, requests)
        except FMScriptError as e:
            return fail(e.code, e.message)
        if not ids:
            return fail(E_NO_RECORDS_MATCH, "No records match the request")
    else:
        ids = db.all_ids(ti.name)
    ctx.found = list(ids)
    if request.get("sort"):
        spec = []
        for s in request["sort"]:
            fi = ti.field(str(s.get("fieldName", "")))
            if fi is None:
                return fail(E_FIELD_MISSING, "Field is missing")
            spec.append((fi, str(s.get("sortOrder", "ascend")).lower() not in ("descend", "descending")))
        db.sort(ctx, spec)
    try:
        offset = max(int(request.get("offset", 1)), 1)
        limit = int(request.get("limit", 100))
    except (TypeError, ValueError):
        return fail(E_INVALID_PARAMETER, "offset and limit must be numbers")
    page = ctx.found[offset - 1: offset - 1 + max(limit, 0)]
    data = []
    for rid in page:
        raw = db.record_values(ti, rid)
        data.append({"fieldData": {fi.name: _json_value(raw.get(fi.name), fi.type) for fi in ti.fields},
                     "portalData": {}, "recordId": str(rid), "modId": "0"})
    return {"messages": [{"code": "0", "message": "OK"}],
            "response": {"dataInfo": {"database": Path(db.path() or "Untitled").stem, "layout": lay[0],
                                      "table": occurrence, "totalRecordCount": db.total_count(ti.name),
                                      "foundCount": len(ctx.found), "returnedCount": len(data)},
                         "data": data}}


@step("Execute FileMaker Data API", labels=("Select", "Target"),
      note="The read and metaData actions; create, update, delete and duplicate answer code 3 in the result.")
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
        import json

        from .data_access import database
        try:
            req = json.loads(request(f))
            if not isinstance(req, dict):
                raise ValueError("not an object")
        except ValueError as e:
            answer = {"messages": [{"code": str(E_INVALID_PARAMETER),
                                    "message": f"the request is not a JSON object: {e}"}], "response": {}}
        else:
            db = database(f)
            db.commit()  # the Data API reads what is committed
            answer = data_api(db, req)
        target(f, json.dumps(answer, ensure_ascii=False, separators=(",", ":")))
    return run
