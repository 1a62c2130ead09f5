"""File steps (FileMaker's Files category): Save Records as JSONL.
"""
from __future__ import annotations

from .. import ast as S
from . import step
from .data_access import DIALOG, calc_options, data_errors, database, name_of

@step("Save Records as JSONL", labels=("Format for fine-tuning", "Table", "System Prompt", "User Prompt",
                                       "Assistant Prompt", "Completion Field", "Create folders") + DIALOG,
      calc_labels=("System Prompt", "User Prompt", "Assistant Prompt"), guard=data_errors)
def save_records_as_jsonl(st: S.Step, c):
    """Writes the found set as JSON Lines: chat examples for fine-tuning, or one object per record."""
    fmt = st.get("Format for fine-tuning")
    fine_tuning = c.on_off(fmt, False) if fmt is not None else ("Format for fine-tuning" in st.words())
    table_opt = st.get("Table")
    table = name_of(c, table_opt) if table_opt is not None else None
    comp_opt = st.get("Completion Field")
    completion = name_of(c, comp_opt) if comp_opt is not None else None
    system = c.calc(st.get("System Prompt")) if st.get("System Prompt") else None
    user = c.calc(st.get("User Prompt")) if st.get("User Prompt") else None
    assistant = c.calc(st.get("Assistant Prompt")) if st.get("Assistant Prompt") else None
    outs = calc_options(st)
    if not outs:
        raise c.incomplete("Save Records as JSONL has no output file")
    dest = c.text(outs[0])
    create = c.on_off(st.get("Create folders"), False) or "Create folders" in st.words()
    if fine_tuning and user is None:
        raise c.incomplete("Save Records as JSONL with Format for fine-tuning: On has no User Prompt")

    def run(f):
        from ...data import prompt, transfer
        db = database(f)
        occ = table(f) if table is not None else db.context().occurrence
        rows = prompt.save_records_as_jsonl(f, occ, fine_tuning=fine_tuning,
                                            completion_field=completion(f) if completion else None,
                                            system=system, user=user, assistant=assistant)
        path = transfer.output_path(f, dest(f), create)
        transfer.write_text(path, prompt.rows_to_jsonl(rows))
    return run
