"""The VM: runs a compiled script's closures in a frame, with FileMaker's error capture.

A step closure returns ``None`` to go on, an index to jump, or :data:`KEEP_ERROR` to go on without
resetting ``Get ( LastError )``.  A failing step sets ``Get ( LastError )``; with error capture off the
error stops the run.  The compiler (:mod:`fmscript.script.compile`) only produces what runs here.
"""
from __future__ import annotations

from ..errors import FMScriptError
from ..limits import ensure_stack

KEEP_ERROR = -1


class ExitScript(Exception):
    """Internal: Exit Script unwinds to the script's caller."""

    def __init__(self, result):
        self.result = result


def execute(cs, frame) -> object:
    """Run a compiled script (:class:`~fmscript.script.compile.CompiledScript`) in a frame; returns its
    Exit Script result."""
    ensure_stack()  # a script performing itself MAX_CALL_DEPTH deep needs more than Python's default frames
    code = cs.code
    n = len(code)
    pc = 0
    session = frame.session
    try:
        while pc < n:
            try:
                r = code[pc](frame)
            except ExitScript:
                raise
            except FMScriptError as e:
                session.last_error = e.code
                session.last_error_detail = e.detail or e.message
                st = cs.steps[pc]
                session.last_error_location = f"{cs.name}\r{st.name}\r{cs.spans[pc].line}"
                log = session.extensions.get("error_log")
                if log is not None:  # Set Error Logging [ On ]
                    log(frame, cs, pc, e.code)
                if not frame.error_capture:
                    raise e.with_span(cs.spans[pc], st.name)
                pc += 1
                continue
            if r is None:
                session.last_error = 0
                pc += 1
            elif r == KEEP_ERROR:
                pc += 1
            else:
                session.last_error = 0
                pc = r
    except ExitScript as ex:
        session.last_error = 0
        return ex.result
    return ""
