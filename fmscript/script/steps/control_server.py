"""Control steps of scripts that run on a server: Perform Script on Server (with Callback) and Set Error Logging.

Perform Script on Server runs the script in a session of its own on the same file (a second SQLite connection:
it sees what is committed, as a FileMaker Server session does), with the parameter, and, when it waits, hands
back the result (``Get ( ScriptResult )``) and the error it ended with.  A server script that the caller does
not wait for runs in a thread; the caller's top-level run waits for it before it ends, and then runs its
callback script (Perform Script on Server with Callback) in the caller's session, in the order the server
scripts finished.  Set Error Logging appends FileMaker's tab-separated ScriptErrors.log lines for every step
that fails while it is on.
"""
from __future__ import annotations

import datetime as _dt
import os
import queue
import threading
from pathlib import Path

from ...calc import ast as C
from ...calc.values import to_text
from ...errors import (E_COMMAND_INVALID, E_COMMAND_UNAVAILABLE, E_RECURSION, E_SCRIPT_MISSING, FMScriptError,
                       ScriptHalted, StepError)
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
    server.scripts, server.find_script = session.scripts, session.find_script
    server.solution_names = session.solution_names
    server.accounts = dict(session.accounts)
    server.base_dir = session.base_dir
    server.call_depth = session.call_depth + 1
    server.data = open_database(path)
    server.extensions["server_session"] = True
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
        except FMScriptError as e:  # the record it left open fails validation: not committed
            error = error or e
        finally:
            server.data.close()
    return result, server.last_error, error


def _find_script(session: Session, name: str):
    target = session.script(name)
    if target is None:
        from ..check import missing_script_message
        raise StepError(missing_script_message(name, session.script_names()),
                        code=E_SCRIPT_MISSING)
    return target


class ServerScripts:
    """The server scripts a session started without waiting: each runs in a thread; when the caller's top-level
    script has ended (the interpreter's ``after_run``), they are waited for in the order they finish and each
    one's callback script runs in the caller's session."""

    def __init__(self, session: Session):
        self.session, self.finished, self.pending = session, queue.Queue(), 0

    @classmethod
    def of(cls, session: Session) -> "ServerScripts":
        obj = session.extensions.get("server_scripts")
        if not isinstance(obj, cls):
            obj = session.extensions["server_scripts"] = cls(session)
        return obj

    def start(self, server: Session, target, param, callback=None, callback_param=None) -> None:
        def work():
            out = ("", 0, None)
            try:
                out = _run_on_server(server, target, param)
            finally:  # even a crash of the thread must not leave the caller waiting for it
                self.finished.put((out, callback, callback_param))
        self.pending += 1
        hooks = self.session.extensions.setdefault("after_run", [])
        if self not in hooks:
            hooks.append(self)
        threading.Thread(target=work, daemon=True, name=f"fmscript-server-{target.name}").start()

    def __call__(self, ok: bool) -> None:
        error = None
        while self.pending:
            (result, _, _), callback, callback_param = self.finished.get()
            self.pending -= 1
            if ok and error is None and callback is not None:
                try:
                    self.run_callback(callback, callback_param, result)
                except FMScriptError as e:
                    error = e
        if error is not None:
            raise error

    def run_callback(self, callback, param, server_result) -> None:
        """The callback runs as a top-level script of the caller's session.  Its Parameter is evaluated now,
        outside any script (no ``$`` variables), where Get ( ScriptResult ) is the server script's result."""
        session = self.session
        session.script_result = server_result
        try:
            value = param(Frame(session, callback.name, "")) if param is not None else ""
        finally:
            session.script_result = ""
        ok = False
        try:
            execute(callback, Frame(session, callback.name, value))
            ok = True
        except ScriptHalted:
            ok = True
        finally:
            session.data.end_run(ok)


@step("Perform Script On Server", labels=("Wait for completion", "Specified", "Parameter"),
      note="The server session is a second connection to the same SQLite file in this process (a thread when "
           "it does not wait); an in-memory file gives error 3.")
def perform_script_on_server(st: S.Step, c):
    """Runs a script of the file in a session of its own, with a parameter; waits for its result when asked."""
    names = [o for o in st.unlabelled()]
    if not names or names[0].value is None:
        raise c.incomplete("Perform Script on Server has no script to perform", E_SCRIPT_MISSING)
    name = c.text(names[0])
    param = c.calc(st.get("Parameter"))
    wait = c.on_off(st.get("Wait for completion"), True)

    def run(f):
        session = f.session
        target = _find_script(session, name(f))
        if session.call_depth >= MAX_CALL_DEPTH:
            raise StepError(f"scripts call each other more than {MAX_CALL_DEPTH} levels deep", code=E_RECURSION)
        value = param(f)
        session.data.commit()  # the server sees what the client has committed
        server = _server_session(session)
        if not wait:
            ServerScripts.of(session).start(server, target, value)
            return None
        result, last_error, error = _run_on_server(server, target, value)
        if error is not None:
            raise StepError(f"the script “{target.name}” failed on the server: {error.message}", code=error.code)
        session.script_result = result
        session.last_error = last_error
        return KEEP_ERROR
    return run


STATES = ("Continue", "Halt", "Exit", "Resume", "Pause")


def _quoted_word(value) -> str | None:
    """FileMaker's text quotes a choice (State: “Continue”): the word inside the quotes."""
    node = getattr(value, "node", None)
    return node.value if isinstance(node, C.Str) else None


@step("Perform Script On Server with Callback",
      labels=("Specified", "Parameter", "Callback script specified", "State"),
      note="The callback runs when the caller's top-level script has ended (the run waits for the server script); "
           "State has no effect, since fmscript never has a paused script to continue, halt or exit. An in-memory "
           "file, or a script already running on the server, gives error 3.")
def perform_script_on_server_with_callback(st: S.Step, c):
    """Runs a script in a session of its own without waiting, then runs a callback script in this session."""
    split = next((i for i, o in enumerate(st.options) if o.label == "Callback script specified"), len(st.options))
    server_opts, callback_opts = st.options[:split], st.options[split + 1:]
    if split < len(st.options) and not isinstance(st.options[split].value, (S.Word, type(None))):
        # FileMaker's own text names the callback after its label: “Callback script: “Name””
        callback_opts = (st.options[split].replace(label=None),) + callback_opts

    def part(opts):
        names = [o for o in opts if o.label is None and not isinstance(o.value, S.Word)]
        prm = next((o for o in opts if o.label == "Parameter"), None)
        return (c.text(names[0]) if names and names[0].value is not None else None), \
            c.calc(prm) if prm is not None else None

    name, param = part(server_opts)
    if name is None:
        raise c.incomplete("Perform Script on Server with Callback has no script to perform", E_SCRIPT_MISSING)
    callback_name, callback_param = part(callback_opts)
    state = st.get("State")
    if state is not None and not (isinstance(state.value, S.Word) and state.value.name in STATES
                                  or _quoted_word(state.value) in STATES):
        raise c.error(f"State is one of {', '.join(STATES)}", code=E_COMMAND_INVALID)

    def run(f):
        session = f.session
        if session.extensions.get("server_session"):
            raise StepError("Perform Script on Server with Callback cannot run in a script that is itself running "
                            "on the server (FileMaker Server does not support it)", code=E_COMMAND_UNAVAILABLE)
        target = _find_script(session, name(f))
        callback = _find_script(session, callback_name(f)) if callback_name is not None else None
        value = param(f) if param is not None else ""
        session.data.commit()
        server = _server_session(session)
        ServerScripts.of(session).start(server, target, value, callback, callback_param)
        return None
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
