"""The one prompt builder: records → chat examples for fine-tuning.

Shared by Fine-Tune Model's Table option (:func:`table_training_rows`) and Save Records as JSONL
(:func:`save_records_as_jsonl`), as ``conventions.md`` asks:

* the user content is one ``Field Name: value`` line per field, in the table's field order, leaving out the
  completion field, global fields and fmscript's internal columns;
* the assistant content is the completion field's value;
* the Table option adds no system message; Save Records as JSONL with "format for fine-tuning" Off adds
  :data:`BUILTIN_SYSTEM_PROMPT`.
"""
from __future__ import annotations

import json

from ..calc.values import to_text
from ..errors import E_FIELD_MISSING, E_TABLE_MISSING, DataError
from .values import from_storage

#: The system message Save Records as JSONL (format for fine-tuning Off) puts first.  FileMaker does not
#: publish its own wording; this is fmscript's, documented in docs/data.md.
BUILTIN_SYSTEM_PROMPT = ("You are a helpful assistant. Answer the user's request using the information "
                         "given in the record's fields.")


def _text(raw, ftype: str) -> str:
    """A stored value as prompt text: FileMaker's display text, line breaks as ``\\n``."""
    return to_text(from_storage(raw, ftype)).replace("\r\n", "\n").replace("\r", "\n")


def _resolve(frame, table_occurrence: str, completion_field: str | None):
    db = frame.session.data
    occ = (table_occurrence or "").strip()
    ti = db.table_of(occ) if occ else None
    if ti is None:
        raise DataError(f"there is no table occurrence named “{occ}”", code=E_TABLE_MISSING)
    comp = None
    if completion_field:
        t, sep, name = completion_field.rpartition("::")
        if sep and db.table_of(t) is not ti:
            raise DataError(f"the completion field “{completion_field}” is not a field of “{occ}”",
                            code=E_FIELD_MISSING)
        comp = ti.field(name.strip())
        if comp is None:
            raise DataError(f"the completion field “{completion_field}” is missing", code=E_FIELD_MISSING)
    db.commit()
    ctx = db.context(occ)
    return db, ti, ctx, comp


def _record_ids(db, ctx) -> tuple[list[int], bool]:
    """The records to send: the related records of the current record when the occurrence is related to the
    current layout's (the spec: "each related record when a related table is specified"), else the
    occurrence's found set.  The flag says whether they are related records."""
    related = db.related_records(ctx.occurrence)
    return (list(ctx.found), False) if related is None else (related, True)


def record_messages(values: dict, ti, completion) -> tuple[str, str]:
    """(user content, assistant content) of one record's raw values."""
    lines = []
    for fi in ti.fields:
        if fi.is_global or (completion is not None and fi.name.casefold() == completion.name.casefold()):
            continue
        lines.append(f"{fi.name}: {_text(values.get(fi.name), fi.type)}")
    answer = _text(values.get(completion.name), completion.type) if completion is not None else ""
    return "\n".join(lines), answer


def table_training_rows(frame, table_occurrence: str, completion_field: str) -> list[dict]:
    """Fine-Tune Model [ Training Data: Table ; occurrence ; Completion Field: … ]: one chat example per
    record of the occurrence's current found set, in found-set order (for an occurrence related to the current
    layout's: per related record of the current record, in the relationship's order), without a system
    message."""
    db, ti, ctx, comp = _resolve(frame, table_occurrence, completion_field)
    if comp is None:
        raise DataError("the Table option needs a completion field", code=E_FIELD_MISSING)
    rows = []
    for rid in _record_ids(db, ctx)[0]:
        user, answer = record_messages(db.record_values(ti, rid), ti, comp)
        rows.append({"messages": [{"role": "user", "content": user},
                                  {"role": "assistant", "content": answer}]})
    return rows


def rows_to_jsonl(rows: list[dict]) -> str:
    """JSON Lines text: one compact object per line, UTF-8 characters kept as they are."""
    return "".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in rows)


def save_records_as_jsonl(frame, table_occurrence: str, *, fine_tuning: bool = False,
                          completion_field: str | None = None, system=None, user=None, assistant=None) -> list[dict]:
    """The objects Save Records as JSONL writes for the occurrence's found set (or, for an occurrence related
    to the current layout's, for the current record's related records).

    * ``fine_tuning`` True: ``system``/``user``/``assistant`` are calculations (``f → value``) evaluated
      with each record current; an empty system prompt is left out.
    * ``fine_tuning`` False with a completion field: the built-in system prompt, the record's other fields as
      the user (the shared builder), the completion field as the assistant.
    * ``fine_tuning`` False without a completion field: each record as a plain object ``{field: value}``.
    """
    from .values import export_value

    db, ti, ctx, comp = _resolve(frame, table_occurrence, completion_field)
    rows = []
    ids, related = _record_ids(db, ctx)

    def message(frame) -> dict:
        msgs = []
        s = to_text(system(frame)) if system is not None else ""
        if s:
            msgs.append({"role": "system", "content": s})
        msgs.append({"role": "user", "content": to_text(user(frame)) if user is not None else ""})
        msgs.append({"role": "assistant", "content": to_text(assistant(frame)) if assistant is not None else ""})
        return {"messages": msgs}

    if fine_tuning and related:
        for rid in ids:  # each related record stands for its occurrence while the prompts are evaluated
            with db.related_row(ctx.occurrence, rid):
                rows.append(message(frame))
        return rows
    if fine_tuning:
        saved = ctx.index
        try:
            for i, rid in enumerate(ctx.found):
                ctx.index = i  # the record stands for its occurrence also when that is not the layout's
                with db.related_row(ctx.occurrence, rid):
                    rows.append(message(frame))
        finally:
            ctx.index = saved
        return rows
    for rid in ids:
        values = db.record_values(ti, rid)
        if comp is None:
            rows.append({fi.name: export_value(values.get(fi.name), fi.type) for fi in ti.record_fields})
            continue
        u, a = record_messages(values, ti, comp)
        rows.append({"messages": [{"role": "system", "content": BUILTIN_SYSTEM_PROMPT},
                                  {"role": "user", "content": u},
                                  {"role": "assistant", "content": a}]})
    return rows
