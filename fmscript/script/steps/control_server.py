"""Control steps of scripts that run on a server: Perform Script on Server and Set Error Logging.

Perform Script on Server runs the script in a session of its own on the same file (a second SQLite connection:
it sees what is committed, as a FileMaker Server session does), with the parameter, and, when it waits, hands
back the result (``Get ( ScriptResult )``) and the error it ended with.  Set Error Logging appends FileMaker's
tab-separated ScriptErrors.log lines for every step that fails while it is on.
"""
from __future__ import annotations

import datetime as _dt
import os
import threading
from pathlib import Path

from ...calc.values import to_text
from ...errors import E_COMMAND_UNAVAILABLE, E_RECURSION, E_SCRIPT_MISSING, FMScriptError, ScriptHalted, StepError
from .. import ast as S
from ...limits import MAX_CALL_DEPTH
from ..run import KEEP_ERROR, execute
from ..runtime import Frame, Session
from . import step


def _server_session(session: Session) -> Session:
    """A session of its own on the same file: the same scripts, registries and accounts, no dialogs."""
    from ...data import open_database

    path = session.data.path()
    if path is None:
        raise StepError("Perform Script on Server needs the file to be on disk (fmscript run -f app.sqlite …): an "
                        "in-memory file has no second session", code=E_COMMAND_UNAVAILABLE)
    server = Session(on_dialog=lambda title, message: None, functions=session.functions, providers=session.providers)
    server.scripts = session.scripts
    server.accounts = dict(session.accounts)
    server.base_dir = session.base_dir
    server.call_depth = session.call_depth + 1
    server.data = open_database(path)
    return server


def _run_on_server(server: Session, target, param) -> tuple[object, int, FMScriptError | None]:
    frame = Frame(server, target.name, param)
    ok, result, error = False, "", None
    try:
        result = execute(target, frame)
        ok = True
    except ScriptHalted:
        ok = True
    except FMScriptError as e:
        error = e
    finally:
        try:
            server.data.end_run(ok)
        finally:
            server.data.close()
    return result, server.last_error, error


@step("Perform Script On Server", labels=("Wait for completion", "Specified", "Parameter"),
      note="The server session is a second connection to the same SQLite file in this process (a thread when "
           "it does not wait); an in-memory file gives error 3.")
def perform_script_on_server(st: S.Step, c):
    """Runs a script of the file in a session of its own, with a parameter; waits for its result when asked."""
    names = [o for o in st.unlabelled()]
    if not names:
        raise c.error("Perform Script on Server needs a script name: Perform Script on Server [ “Name” ; "
                      "Parameter: … ]")
    name = c.text(names[0])
    param = c.calc(st.get("Parameter"))
    wait = c.on_off(st.get("Wait for completion"), True)

    def run(f):
        session = f.session
        script_name = name(f)
        target = session.scripts.get(script_name.casefold())
        if target is None:
            from ..check import missing_script_message
            raise StepError(missing_script_message(script_name, (s.name for s in session.scripts.values())),
                            code=E_SCRIPT_MISSING)
        if session.call_depth >= MAX_CALL_DEPTH:
            raise StepError(f"scripts call each other more than {MAX_CALL_DEPTH} levels deep", code=E_RECURSION)
        value = param(f)
        session.data.commit()  # the server sees what the client has committed
        server = _server_session(session)
        if not wait:
            threading.Thread(target=_run_on_server, args=(server, target, value), daemon=True,
                             name=f"fmscript-server-{target.name}").start()
            return None
        result, last_error, error = _run_on_server(server, target, value)
        if error is not None:
            raise StepError(f"the script “{target.name}” failed on the server: {error.message}", code=error.code)
        session.script_result = result
        session.last_error = last_error
        return KEEP_ERROR
    return run


# ------------------------------------------------------------------------------------------------ error log

class ErrorLog:
    """Appends ScriptErrors.log lines in Claris's order: timestamp, session, file, account, script [index],
    step [line], error code, custom debug info."""

    def __init__(self, path: Path, debug_info, session_number: int):
        self.path, self.debug_info, self.session_number = path, debug_info, session_number
        self.lock = threading.Lock()

    def __call__(self, frame, cs, pc: int, code: int) -> None:
        session = frame.session
        now = _dt.datetime.now().astimezone()
        stamp = now.strftime("%Y-%m-%d %H:%M:%S.") + f"{now.microsecond // 1000:03d} " + now.strftime("%z")
        names = list(session.scripts)
        index = names.index(cs.name.casefold()) + 1 if cs.name.casefold() in names else 0
        info = ""
        if self.debug_info is not None:
            saved = (session.last_error, session.last_error_detail)
            try:
                info = to_text(self.debug_info(frame))
            except FMScriptError:
                info = "?"
            finally:
                session.last_error, session.last_error_detail = saved
        path = session.data.path()
        fields = [stamp, f"@{self.session_number}", Path(path).name if path else "Untitled",
                  _account(session), f"{cs.name} [{index}]", f"{cs.steps[pc].name} [{cs.spans[pc].line}]",
                  str(code), info.replace("\r", " ").replace("\n", " ").replace("\t", " ")]
        with self.lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            with os.fdopen(fd, "a", encoding="utf-8") as out:
                out.write("\t".join(fields) + "\n")


def _account(session) -> str:
    acct = session.extensions.get("account") or {}
    return acct.get("name", "Admin") if isinstance(acct, dict) else "Admin"


def log_path() -> Path:
    """ScriptErrors.log in the Documents folder (``FMSCRIPT_DOCUMENTS``), as FileMaker Pro writes it."""
    folder = Path(os.environ.get("FMSCRIPT_DOCUMENTS") or Path.home() / "Documents")
    folder.mkdir(parents=True, exist_ok=True)
    return folder / "ScriptErrors.log"


@step("Set Error Logging", labels=("Custom debug info",), calc_labels=("Custom debug info",))
def set_error_logging(st: S.Step, c):
    """Turns logging of script errors to ScriptErrors.log on or off, with an optional debug calculation."""
    words = st.words()
    on = "Off" not in words
    info_opt = st.get("Custom debug info")
    info = c.calc(info_opt) if info_opt is not None and info_opt.value is not None else None

    def run(f):
        ext = f.session.extensions
        if on:
            ext["error_log"] = ErrorLog(log_path(), info, 1)
        else:
            ext.pop("error_log", None)
    return run
