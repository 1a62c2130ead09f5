"""Control steps (FileMaker's Control category): variables, sub-scripts, error capture, pauses.

If / Else If / Else / End If and Loop / Exit Loop If / End Loop are registered here (so that ``check``
knows them) but compiled into jumps by :mod:`fmscript.script.compile`.
"""
from __future__ import annotations

import time

from ...calc import ast as C
from ...calc.values import to_bool
from ...errors import (E_CALC_SYNTAX, E_COMMAND_INVALID, E_FIELD_ACCESS_DENIED, E_FIELD_CANNOT_BE_MODIFIED,
                       E_FILE_MISSING, E_INVALID_DATE, E_INVALID_NUMBER, E_INVALID_TIME, E_RECORD_ACCESS_DENIED,
                       E_RECORD_IN_USE, E_RECORD_MISSING, E_RECURSION, E_SCRIPT_MISSING, E_VALID_VALUE_REQUIRED,
                       E_VALUE_FAILED_CALC,
                       E_VALUE_NOT_EXISTING, E_VALUE_NOT_IN_LIST, E_VALUE_NOT_IN_RANGE, E_VALUE_NOT_UNIQUE,
                       FMScriptError, ScriptHalted, StepError)
from .. import ast as S
from ...limits import MAX_CALL_DEPTH
from ..run import KEEP_ERROR, ExitScript, execute
from ..parse import MISSING_FROM_FILE
from ..runtime import Frame
from . import step

for _name in ("If", "Else If", "Else", "End If", "Loop", "Exit Loop If", "End Loop"):
    step(_name, control_flow=True)(None)


def _check_set_variable(st: S.Step):
    target = st.unlabelled()
    if not target or target[0].value is None:
        return  # FileMaker saves Set Variable without its name: it fails when it runs (compiled as incomplete)
    if not isinstance(target[0].value, S.Calc) or not isinstance(target[0].value.node, C.Var):
        raise StepError("Set Variable needs a variable first: Set Variable [ $name ; Value: calculation ]",
                        code=E_CALC_SYNTAX)


@step("Set Variable", labels=("Value", "Repetition"), validate=_check_set_variable)
def set_variable(st: S.Step, c):
    """Sets a $local or $$global variable (optionally one repetition) to a calculation's value."""
    parts = st.unlabelled()
    if not parts or parts[0].value is None:
        raise c.incomplete("Set Variable has no variable name", E_COMMAND_INVALID)
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
    if not names or names[0].value is None:
        raise c.incomplete("Perform Script has no script to perform", E_SCRIPT_MISSING)
    name = c.text(names[0])
    param = c.calc(st.get("Parameter"))
    other_file = MISSING_FROM_FILE.match(names[0].value.text) if isinstance(names[0].value, S.Missing) else None

    def run(f):
        if other_file is not None:  # FileMaker printed it so: the script's file could not be opened
            raise StepError(f"the file “{other_file.group(1)}” that holds this script is not open (FileMaker "
                            "printed the script as <unknown>)", code=E_FILE_MISSING)
        session = f.session
        script_name = name(f)
        target = session.script(script_name)
        if target is None:
            from ..check import missing_script_message
            raise StepError(missing_script_message(script_name, session.script_names()),
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


# -- transactions (FileMaker 19.6+): the state lives in the file, fmscript/data/transactions.py ----------

#: Errors of a step that "can't create, update, or delete data as expected" (Claris): with Revert
#: Transaction on Error on, they revert the open transaction.
_REVERTING = frozenset((E_RECORD_MISSING, E_RECORD_IN_USE, E_RECORD_ACCESS_DENIED, E_FIELD_CANNOT_BE_MODIFIED,
                        E_FIELD_ACCESS_DENIED, E_INVALID_DATE, E_INVALID_TIME, E_INVALID_NUMBER,
                        E_VALUE_NOT_IN_RANGE, E_VALUE_NOT_UNIQUE, E_VALUE_NOT_EXISTING, E_VALUE_NOT_IN_LIST,
                        E_VALUE_FAILED_CALC, E_VALID_VALUE_REQUIRED))


def _reverts_transaction(code: int) -> bool:
    return code in _REVERTING


def _transaction_block(run):
    """A step between Open Transaction and its Commit Transaction: skipped after a revert (FileMaker
    jumps to the matching Commit Transaction), and its data errors revert the transaction."""
    marks_level = getattr(run, "transaction_step", False)

    def in_transaction(f):
        db = f.session.data
        if db.transaction_skip and not marks_level:  # Open and Commit Transaction count the levels skipped
            return KEEP_ERROR
        try:
            r = run(f)
        except FMScriptError as e:
            if db.transaction_depth and db.revert_on_error and _reverts_transaction(e.code):
                db.revert_transaction()
            raise
        if db.transaction_skip:  # a sub-script reverted the transaction: skip to Commit Transaction
            error = db.transaction_error
            if error is not None:
                f.session.last_error, f.session.last_error_detail = error
            return KEEP_ERROR
        return r
    in_transaction.transaction_step = marks_level
    return in_transaction


def _transactions(c) -> list[int]:
    stack = getattr(c, "transaction_blocks", None)
    if stack is None:
        stack = c.transaction_blocks = []
    return stack


@step("Open Transaction", labels=("Skip auto-enter options", "Skip data entry validation",
                                  "Override ESS locking conflicts"),
      note="Changes are held in one SQLite transaction with a savepoint per record. `Skip auto-enter options` "
           "and `Override ESS locking conflicts` are accepted and ignored. An Open Transaction inside an open "
           "one nests (its Commit Transaction closes that level only); a script that ends with a transaction "
           "open reverts it.")
def open_transaction(st: S.Step, c):
    """Starts a transaction: record changes are held until Commit Transaction, or thrown away together."""
    _transactions(c).append(len(c.code))
    skip_validation = "Skip data entry validation" in st.words() or st.get("Skip data entry validation") is not None

    def run(f):
        db = f.session.data
        db.attach(f.session)
        if db.transaction_skip:  # inside a reverted transaction: one more Commit Transaction to pass
            db.transaction_skip += 1
            return KEEP_ERROR
        first = not db.transaction_depth
        db.open_transaction()
        if first:
            db.transaction_skip_validation = skip_validation
    run.transaction_step = True
    return run


@step("Commit Transaction")
def commit_transaction(st: S.Step, c):
    """Commits every change made since the matching Open Transaction, or none of them."""
    stack = _transactions(c)
    if stack:
        start = stack.pop()
        for i in range(start + 1, len(c.code)):
            c.code[i] = _transaction_block(c.code[i])

    def run(f):
        db = f.session.data
        if db.passed_commit_transaction():
            if not db.transaction_skip:
                db.transaction_error = None
            return KEEP_ERROR
        db.commit_transaction(db.transaction_skip_validation)
    run.transaction_step = True
    return run


@step("Revert Transaction", labels=("Condition", "Error Code", "Error Message"),
      note="It reverts the whole transaction, also inside a nested one.")
def revert_transaction(st: S.Step, c):
    """Throws away every change since Open Transaction and goes on after the matching Commit Transaction;
    an Error Code from 5000 to 5499 (and its Error Message) becomes Get ( LastError )."""
    cond = c.calc(st.get("Condition"), default="1") if st.get("Condition") else None
    code = c.number(st.get("Error Code")) if st.get("Error Code") else None
    message = c.text(st.get("Error Message"))
    # In a sub-script with no Open Transaction of its own, the matching Commit Transaction is the caller's:
    # the sub-script ends there, and the caller skips to it.
    leaves_script = not _transactions(c)

    def run(f):
        if cond is not None and not to_bool(cond(f)):
            return None
        db = f.session.data
        db.revert_transaction()
        result = db.transaction_error = None
        if code is not None:
            n = int(code(f))
            if 5000 <= n <= 5499:
                f.session.last_error = n
                f.session.last_error_detail = message(f)
                db.transaction_error = (n, f.session.last_error_detail)
                result = KEEP_ERROR
        if leaves_script:
            raise ExitScript("")
        return result
    return run


@step("Set Revert Transaction on Error")
def set_revert_transaction_on_error(st: S.Step, c):
    """On (the default): a step that cannot change data as expected reverts the open transaction.
    Off: the script handles the error itself."""
    on = _on_off(st, c)

    def run(f):
        f.session.data.revert_on_error = on
    return run
