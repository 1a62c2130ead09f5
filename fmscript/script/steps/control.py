"""Control steps (FileMaker's Control category): variables, sub-scripts, error capture, pauses.

If / Else If / Else / End If and Loop / Exit Loop If / End Loop are registered here (so that ``check``
knows them) but compiled into jumps by :mod:`fmscript.script.compile`.
"""
from __future__ import annotations

import time

from ...calc import ast as C
from ...errors import E_CALC_SYNTAX, E_RECURSION, E_SCRIPT_MISSING, ScriptHalted, StepError
from .. import ast as S
from ...limits import MAX_CALL_DEPTH
from ..run import KEEP_ERROR, ExitScript, execute
from ..runtime import Frame
from . import step

for _name in ("If", "Else If", "Else", "End If", "Loop", "Exit Loop If", "End Loop"):
    step(_name, control_flow=True)(None)


def _check_set_variable(st: S.Step):
    target = st.unlabelled()
    if not target or not isinstance(target[0].value, S.Calc) or not isinstance(target[0].value.node, C.Var):
        raise StepError("Set Variable needs a variable first: Set Variable [ $name ; Value: calculation ]",
                        code=E_CALC_SYNTAX)


@step("Set Variable", labels=("Value", "Repetition"), validate=_check_set_variable)
def set_variable(st: S.Step, c):
    """Sets a $local or $$global variable (optionally one repetition) to a calculation's value."""
    parts = st.unlabelled()
    if not parts:  # validate reported it; a file checked after a parse error still compiles its steps
        raise c.error("Set Variable needs a variable first: Set Variable [ $name ; Value: calculation ]")
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


@step("Halt Script", note="In the REPL, it stops the current input; the session goes on.")
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
            from ..check import missing_script_message
            raise StepError(missing_script_message(script_name, (s.name for s in session.scripts.values())),
                            code=E_SCRIPT_MISSING)
        if session.call_depth >= MAX_CALL_DEPTH:
            raise StepError(f"scripts call each other more than {MAX_CALL_DEPTH} levels deep", code=E_RECURSION)
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


@step("Allow User Abort", note="Ctrl-C in the terminal always interrupts a run (exit code 130).")
def allow_user_abort(st: S.Step, c):
    """Whether Ctrl-C may stop the script (fmscript always lets the terminal interrupt)."""
    on = _on_off(st, c)

    def run(f):
        f.session.allow_abort = on
    return run


@step("Pause/Resume Script", labels=("Duration (seconds)",),
      note="`Indefinitely` does not wait, since nobody could resume the script.")
def pause_resume(st: S.Step, c):
    """Waits the given number of seconds (``Indefinitely`` does not wait: nobody can resume it)."""
    opt = st.get("Duration (seconds)") or (st.unlabelled()[0] if st.unlabelled() else None)
    secs = c.number(opt, default="0")

    def run(f):
        n = float(secs(f))
        if n > 0:
            time.sleep(n)
    return run
