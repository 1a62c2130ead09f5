"""Miscellaneous steps (FileMaker's Miscellaneous category): dialogs, the bell, comments.

``# (Comment)`` is registered here so that ``check`` knows it; the compiler skips it.
"""
from __future__ import annotations

import sys

from ...calc.values import to_text
from .. import ast as S
from . import step
from .data_access import data_errors, database

step("# (Comment)", control_flow=True)(None)


@step("Show Custom Dialog", labels=("Title", "Message", "Buttons", "Input fields", "Default Button"),
      calc_labels=("Title", "Message"),
      note="Nothing is asked: the title and message go to stdout (embedders get a callback); "
           "`Get ( LastMessageChoice )` is 1 and input fields keep their values.")
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


@step("Beep", note="Rings the terminal bell on stderr, and only on a terminal.")
def beep(st: S.Step, c):
    """Rings the terminal bell (on stderr, only on a terminal)."""
    def run(f):
        if sys.stderr.isatty():
            sys.stderr.write("\a")
            sys.stderr.flush()
    return run


@step("Refresh Portal", labels=("Object Name",), calc_labels=("Object Name",), guard=data_errors,
      note="Works out the portal's rows again (its filter and sort order); the portal is named by its object "
           "name from fmscript db portal (none: the active portal, else the layout's first).")
def refresh_portal(st: S.Step, c):
    """Re-evaluates a portal's filter and sort: rows created or changed since it was worked out move to where
    they now belong (FileMaker keeps a portal's rows until it is refreshed or the record is committed)."""
    opt = st.get("Object Name") or (st.unlabelled()[0] if st.unlabelled() else None)
    name = c.text(opt) if opt is not None else None  # none: the active portal (else the layout's first)

    def run(f):
        database(f).refresh_portal(to_text(name(f)) if name is not None else None)
    return run
