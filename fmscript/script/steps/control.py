"""Control steps: variables, sub-scripts, error capture, dialogs, pauses.

If / Else If / Else / End If and Loop / Exit Loop If / End Loop are registered here (so that ``check``
knows them) but compiled into jumps by :mod:`fmscript.script.compile`.
"""
from __future__ import annotations

import sys
import time

from ..calc import ast as C
from ..calc.values import to_num0, to_text
from ..errors import ScriptHalted
from ..script import ast as S
from ..script.compile import KEEP_ERROR, MAX_CALL_DEPTH, ExitScript, execute
from . import StepError, step

for _name in ("If", "Else If", "Else", "End If", "Loop", "Exit Loop If", "End Loop"):
    step(_name)(None)
step("# (Comment)")(None)


def _check_set_variable(st: S.Step):
    target = st.unlabelled()
    if not target or not isinstance(target[0].value, S.Calc) or not isinstance(target[0].value.node, C.Var):
        raise StepError("Set Variable needs a variable first: Set Variable [ $name ; Value: calculation ]",
                        code=1204)


@step("Set Variable", labels=("Value", "Repetition"), validate=_check_set_variable)
def set_variable(st: S.Step, c):
    """Sets a $local or $$global variable (optionally one repetition) to a calculation's value."""
    parts = st.unlabelled()
    setter = c.target(parts[0], "a variable")
    # “Value:” may be left out, as FileMaker's older text copies do.
    value = c.calc(st.get("Value") or (parts[1] if len(parts) > 1 else None))
    rep_opt = st.get("Repetition")
    if rep_opt is None or rep_opt.value is None:
        def run(f):
            setter(f, value(f))
        return run
    rep = c.number(rep_opt)

    def run_rep(f):
        setter(f, value(f), max(int(rep(f)), 1))
    return run_rep


@step("Exit Script", labels=("Script Result",))
def exit_script(st: S.Step, c):
    """Ends the current script and returns a result to the caller (``Get ( ScriptResult )``)."""
    opt = st.get("Script Result") or (st.unlabelled()[0] if st.unlabelled() else None)
    value = c.calc(opt)

    def run(f):
        raise ExitScript(value(f))
    return run


@step("Halt Script")
def halt_script(st: S.Step, c):
    """Stops every running script at once."""
    def run(f):
        raise ScriptHalted()
    return run


@step("Perform Script", labels=("Specified", "Parameter"))
def perform_script(st: S.Step, c):
    """Runs another script of the file by name, with a parameter; its Exit Script result is kept."""
    names = st.unlabelled()
    if not names:
        raise c.error("Perform Script needs a script name: Perform Script [ “Name” ; Parameter: … ]")
    name = c.text(names[0])
    param = c.calc(st.get("Parameter"))

    def run(f):
        session = f.session
        script_name = name(f)
        target = session.scripts.get(script_name.casefold())
        if target is None:
            raise StepError(f"there is no script named “{script_name}”", code=104)
        if session.call_depth >= MAX_CALL_DEPTH:
            raise StepError(f"scripts call each other more than {MAX_CALL_DEPTH} levels deep", code=1223)
        from ..runtime import Frame
        sub = Frame(session, target.name, param(f), f.error_capture)
        session.call_depth += 1
        try:
            result = execute(target, sub)
        finally:
            session.call_depth -= 1
        session.script_result = result
        return KEEP_ERROR
    return run


def _on_off(st, c, default=True):
    words = st.words()
    if "On" in words:
        return True
    if "Off" in words:
        return False
    if st.options:
        raise c.error(f"{st.name} takes On or Off: {st.name} [ On ]")
    return default


@step("Set Error Capture")
def set_error_capture(st: S.Step, c):
    """With capture on, a failing step sets Get ( LastError ) and the script goes on."""
    on = _on_off(st, c)

    def run(f):
        f.error_capture = on
    return run


@step("Allow User Abort")
def allow_user_abort(st: S.Step, c):
    """Whether Ctrl-C may stop the script (fmscript always lets the terminal interrupt)."""
    on = _on_off(st, c)

    def run(f):
        f.session.allow_abort = on
    return run


@step("Show Custom Dialog", labels=("Title", "Message", "Buttons", "Input fields", "Default Button"),
      calc_labels=("Title", "Message"))
def show_custom_dialog(st: S.Step, c):
    """Shows a title and a message (printed on stdout by the CLI); the first button counts as chosen."""
    parts = st.unlabelled()
    title_opt = st.get("Title") or (parts[0] if len(parts) >= 2 else None)
    msg_opt = st.get("Message") or (parts[1] if len(parts) >= 2 else parts[0] if len(parts) == 1 else None)
    title = c.text(title_opt)
    message = c.text(msg_opt)

    def run(f):
        s = f.session
        s.last_message_choice = 1
        if s.on_dialog is not None:
            s.on_dialog(title(f), message(f))
    return run


@step("Pause/Resume Script", labels=("Duration (seconds)",))
def pause_resume(st: S.Step, c):
    """Waits the given number of seconds (``Indefinitely`` does not wait: nobody can resume it)."""
    opt = st.get("Duration (seconds)") or (st.unlabelled()[0] if st.unlabelled() else None)
    secs = c.number(opt, default="0")

    def run(f):
        n = float(secs(f))
        if n > 0:
            time.sleep(n)
    return run


@step("Beep")
def beep(st: S.Step, c):
    """Rings the terminal bell (on stderr, only on a terminal)."""
    def run(f):
        if sys.stderr.isatty():
            sys.stderr.write("\a")
            sys.stderr.flush()
    return run
