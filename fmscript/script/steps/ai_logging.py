"""Set AI Call Logging (FileMaker's AI category): every AI call of the session to a log file.

The log itself is :mod:`fmscript.ai.calllog`; this step only says which file, in which detail.
"""
from __future__ import annotations

from pathlib import Path

from ...calc.values import to_text
from .. import ast as S
from . import step


def log_path(filename: str) -> Path:
    """Where FileMaker puts the log: the Documents folder (``Get ( DocumentsPath )``), unless the name is a path."""
    from ...calc.functions.get import documents_path
    from ...data.paths import to_native

    name = filename.strip() or "LLMDebug.log"
    native = Path(to_native(name)) if ("/" in name or ":" in name) else Path(name)
    if native.is_absolute():
        return native
    return Path(to_native(to_text(documents_path(None)))) / native


@step("Set AI Call Logging", labels=("Filename", "Verbose", "Truncate Messages"),
      calc_labels=("Filename",),
      note="Each call is one JSON line (time, call, provider, account, model, prompt, response, tokens, "
           "duration_ms, error; Verbose adds details: messages, parameters, tools, vectors). API keys are masked; "
           "the file is created owner-only.")
def set_ai_call_logging(st: S.Step, c):
    """Turns logging of AI calls on (to a file in Documents, default LLMDebug.log) or off (every log file)."""
    words = st.words()
    on = "Off" not in words
    filename = c.text(st.get("Filename"))
    verbose = "Verbose" in words or c.on_off(st.get("Verbose"), False)
    truncate = "Truncate Messages" in words or c.on_off(st.get("Truncate Messages"), False)

    def run(f):
        from ...ai.calllog import for_session
        log = for_session(f.session)
        if not on:
            log.turn_off()
            return
        log.turn_on(log_path(filename(f)), verbose=verbose, truncate=truncate)
    return run
