"""The secrets a script holds before anything has run: what :func:`fmscript.redact.secrets_in` finds in its
text, and the literal API key of every Configure AI Account step.  The parse cache and the REPL's history
mask them before they write anything."""
from __future__ import annotations

from ..calc import ast as C
from ..errors import FMScriptError
from ..redact import secrets_in
from ..value_object import ValueObject
from .steptable import StepTable


#: The option of a step whose literal value is a secret (an API key, Send Mail's SMTP password).
SECRET_OPTIONS = {"Configure AI Account": "API key", "Send Mail": "Password"}


def script_secrets(sf) -> set[str]:
    """The secrets in a parsed script: those :func:`secrets_in` finds in its text, and the literal API key of
    every Configure AI Account step (which is not registered until the step runs) and SMTP password of every
    Send Mail step."""
    def literals(value, out: set[str]) -> None:
        if isinstance(value, C.Str):
            out.add(value.value)
        elif isinstance(value, ValueObject):
            for name in value._fields:
                literals(getattr(value, name, None), out)
        elif isinstance(value, (list, tuple)):
            for v in value:
                literals(v, out)

    found = secrets_in(sf.source.text)
    for script in sf.scripts:
        for st in script.steps:
            label = SECRET_OPTIONS.get(getattr(st, "name", None))
            opt = st.get(label) if label else None
            if opt is not None:
                keys: set[str] = set()
                literals(getattr(opt.value, "node", None), keys)
                found.update(k for k in keys if len(k) >= 4)
    return found


def text_secrets(text: str, steps: StepTable) -> set[str]:
    """:func:`script_secrets` of script text as typed (text that does not parse: what :func:`secrets_in` finds)."""
    from .parse import parse_script_text

    try:
        return script_secrets(parse_script_text(text, "<text>", steps=steps))
    except FMScriptError:
        return secrets_in(text)
