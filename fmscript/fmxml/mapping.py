"""Save as XML's schema read into the data layer's own objects: field options (:mod:`fmscript.data.fielddefs`), the
relationship graph and portals (:mod:`fmscript.data.graph`), value lists, and the file's custom functions as
``Function`` blocks the imported scripts carry (:mod:`fmscript.script.custom_functions`).

Reading an element gives the options and the list of what fmscript cannot represent (each reported by the
importer, which keeps FileMaker's XML of the field in ``fmscript_import_fields`` either way).  Lookups name a
table occurrence; they become the data layer's lookup through the graph once the graph is known
(:func:`lookup_options`); a portal's filter and sort become :meth:`add_portal`'s (:func:`portal_options`).
"""
from __future__ import annotations

import re

from ..calc.functions import registry as builtin_functions
from ..errors import FMScriptError
from ..script.custom_functions import register_functions, split_functions
from ..source import Source
from .saxml import calc_text

#: SaXML's join predicate types → the graph's operators (both spellings FileMaker versions write).
JOIN_OPS = {"Equal": "=", "NotEqual": "≠", "Less": "<", "LessThan": "<", "LessOrEqual": "≤",
            "LessThanOrEqual": "≤", "Greater": ">", "GreaterThan": ">", "GreaterOrEqual": "≥",
            "GreaterThanOrEqual": "≥", "CartesianProduct": "×", "Cartesian": "×"}
SUMMARIES = {"Total": "total", "Count": "count", "Average": "average", "Minimum": "minimum", "Maximum": "maximum",
             "List": "list"}
#: FileMaker's "If no exact match" choices → the data layer's.
NO_MATCH = {"DoNotCopy": "none", "CopyNextLower": "lower", "CopyNextHigher": "higher", "CopyConstant": "constant",
            "UseConstant": "constant"}
STAMP_TYPES = {"Date": "date", "Time": "time", "Timestamp": "timestamp", "AccountName": "account"}


def _true(el, attr: str, default: str = "False") -> bool:
    return el is not None and el.get(attr, default) == "True"


def calc_of(el) -> str | None:
    """The text of an option's calculation (``<X><Calculation><Text>`` or ``<X><Calculated><Calculation>…``)."""
    if el is None:
        return None
    c = el.find("Calculated/Calculation")
    if c is None:
        c = el.find("Calculation")
    text = calc_text(c) if c is not None else None
    return text.replace("\r\n", "\n").replace("\r", "\n") if text is not None else None


def context_of(el) -> str | None:
    """The occurrence an option's calculation is evaluated from ("Evaluate this calculation from the context
    of"): FileMaker writes it as the ``<Calculation>``'s own ``<TableOccurrenceReference>`` (a ``table``
    attribute is read too); ``None`` when the export does not say."""
    if el is None:
        return None
    c = el.find("Calculated/Calculation")
    if c is None:
        c = el.find("Calculation")
    if c is None:
        return None
    ref = c.find("TableOccurrenceReference")
    return (ref.get("name") if ref is not None else c.get("table")) or None


def _literal(text: str) -> str | None:
    """The text of a calculation that is one quoted text constant, else None."""
    t = text.strip()
    if len(t) >= 2 and t[0] == t[-1] == '"' and '"' not in t[1:-1].replace('\\"', ""):
        return t[1:-1].replace('\\"', '"')
    return None


def field_options(f) -> tuple[dict, dict | None, list[str]]:
    """``(options, lookup, not mapped)`` of one ``<Field>``: the data layer's JSON form of its options, the
    FileMaker lookup waiting for the graph, and a phrase for each option fmscript cannot represent."""
    kind = f.get("fieldtype", "Normal")
    opts: dict = {}
    lookup = None
    problems: list[str] = []
    storage = f.find("Storage")
    if kind == "Calculated":
        text = calc_of(f)
        if text is None or not text.strip():
            problems.append("a calculation field without a calculation")
        else:
            opts.update(kind="calculation", calc=text, stored=_true(storage, "storeCalculationResults", "True"))
            if context_of(f):
                opts["context"] = context_of(f)
    elif kind == "Summary":
        info = f.find("SummaryInfo")
        if info is None:
            info = f.find("Summary")
        op = info.get("operation", "") if info is not None else ""
        ref = info.find(".//FieldReference") if info is not None else None
        if op not in SUMMARIES or ref is None:
            problems.append(f"the summary “{op or '?'}” (fmscript has total, count, average, minimum, maximum "
                            "and list)")
        else:
            opts.update(kind="summary", summary={"function": SUMMARIES[op], "of": ref.get("name", "")})
            if _true(info, "restartEachGroup") or _true(info, "running"):
                problems.append("a running summary (fmscript summarises the whole found set)")
    ae = f.find("AutoEnter")
    if ae is not None and kind == "Normal":
        auto: dict = {}
        t = ae.get("type", "")
        if t == "SerialNumber":
            s = ae.find("SerialNumber")
            if s is not None:
                auto["serial"] = {"next": s.get("nextvalue", s.get("nextValue", "1")),
                                  "increment": int(s.get("increment", "1") or 1),
                                  "generate": "commit" if s.get("generate") == "OnCommit" else "creation"}
        elif t.startswith(("Creation", "Modification")):
            when = "creation" if t.startswith("Creation") else "modification"
            stamp = STAMP_TYPES.get(t[len(when):])
            if stamp is None:
                problems.append(f"auto-enter {t} (fmscript enters dates, times, timestamps and account names)")
            else:
                auto[when] = stamp
        elif t == "ConstantData":
            auto["data"] = ae.findtext("ConstantData") or ""
        elif t == "Calculated":
            text = calc_of(ae)
            if text:
                auto["calc"] = text
                auto["replace"] = ae.get("overwriteExisting", ae.get("overwriteExistingValue", "True")) == "True"
                if context_of(ae):
                    auto["context"] = context_of(ae)
                if _true(ae, "alwaysEvaluate"):
                    problems.append("auto-enter “evaluate even if all referenced fields are empty” (fmscript "
                                    "evaluates when a referenced field changes)")
        elif t == "Looked_up":
            lk = ae.find("Looked_up")
            ref = lk.find("FieldReference") if lk is not None else None
            occ = ref.find("TableOccurrenceReference") if ref is not None else None
            ctx = lk.find("Context/TableOccurrenceReference") if lk is not None else None
            if ref is None or occ is None:
                problems.append("a lookup without its field")
            else:
                lookup = {"copy": ref.get("name", ""), "occurrence": occ.get("name", ""),
                          "context": ctx.get("name") if ctx is not None else None,
                          "skip_empty": _true(lk, "dontCopyIfEmpty")}
                how = lk.get("noMatchCopyOption", "DoNotCopy")
                if how not in NO_MATCH:
                    problems.append(f"the lookup's “{how}” when nothing matches (fmscript leaves the field as it is)")
                else:
                    lookup["no_match"] = NO_MATCH[how]
                    if how in ("CopyConstant", "UseConstant"):
                        constant = lk.get("constant")
                        for tag in ("ConstantData", "CopyConstantValue", "Constant"):
                            if constant is None and lk.find(tag) is not None:
                                constant = lk.findtext(tag) or ""
                        lookup["constant"] = constant or ""
        elif t in ("PreviousRecord", "LastVisited"):
            problems.append("auto-enter “value from last visited record”")
        elif t:
            problems.append(f"auto-enter {t}")
        if auto:
            opts["auto"] = auto
    val = f.find("Validation")
    if val is not None and kind == "Normal":
        rule: dict = {}
        if _true(val, "notEmpty"):
            rule["not_empty"] = True
        if _true(val, "unique"):
            rule["unique"] = True
        if _true(val, "existing"):
            problems.append("validation “existing value”")
        rng = val.find("Range")
        if rng is not None:
            rule["range"] = [rng.get("from", ""), rng.get("to", "")]
        vl = val.find(".//ValueListReference")
        if vl is not None and vl.get("name"):
            rule["value_list"] = vl.get("name")
        calc = val.find("Calculated")
        if calc is not None and calc.get("enable", "True") == "True":
            text = calc_of(val)
            if text:
                rule["calc"] = text
                if context_of(val):
                    rule["context"] = context_of(val)
        if val.find("MaximumSize") is not None:
            problems.append("validation “maximum number of characters”")
        if val.find("StrictDataType") is not None:
            problems.append("validation “strict data type”")
        msg = val.find("MessageCalc")
        if msg is not None and msg.get("enable", "True") == "True":
            text = calc_of(msg) or ""
            lit = _literal(text)
            if lit is None:
                problems.append("a validation message worked out by a calculation (fmscript shows its own)")
            else:
                rule["message"] = lit
        if rule:
            rule["when"] = "always" if val.get("type") == "Always" else "entry"
            opts["validate"] = rule
    return opts, lookup, problems


def lookup_options(db, table: str, lookup: dict) -> dict | str:
    """The data layer's lookup through the graph (start occurrence, occurrence, field to copy, "if no exact
    match", "don't copy contents if empty") from FileMaker's (field to copy from an occurrence, seen from a
    context occurrence of this table), or why it cannot be one."""
    ctx = lookup.get("context") or table
    if not db.graph_path(ctx, lookup["occurrence"]):
        return f"the lookup from “{lookup['occurrence']}” (not related to “{ctx}”)"
    out = {"start": ctx, "occurrence": lookup["occurrence"], "copy": lookup["copy"],
           "no_match": lookup.get("no_match", "none"), "skip_empty": bool(lookup.get("skip_empty", False))}
    if out["no_match"] == "constant":
        out["constant"] = lookup.get("constant", "")
    return out


def sort_text(side) -> tuple[str, list[str]]:
    """A relationship side's ``<SortSpecification>`` as the graph's sort text (``Occ::Field ascending; …``)."""
    spec = side.find("SortSpecification") if side is not None else None
    if spec is None or spec.get("value", "True") != "True":
        return "", []
    parts, problems = [], []
    for s in spec.iter("Sort"):
        ref = s.find(".//FieldReference")
        if ref is None:
            continue
        occ = ref.find("TableOccurrenceReference")
        name = (occ.get("name") + "::" if occ is not None and occ.get("name") else "") + ref.get("name", "")
        kind = s.get("type", "Ascending")
        if kind not in ("Ascending", "Descending"):
            problems.append(f"the {kind} sort of {name} (sorted ascending)")
        parts.append(f"{name} {'descending' if kind == 'Descending' else 'ascending'}")
    return "; ".join(parts), problems


def portal_options(portal) -> tuple[dict, list[str]]:
    """``add_portal``'s ``filter`` and ``sort`` from a layout's ``<Portal>`` (its ``<Calculation>`` and
    ``<SortSpecification>``), and what is not mapped.  "Allow deletion of portal records" is a bit of the
    portal's ``<Options>`` number, which Claris does not document: it is not read (Delete Portal Row on an
    imported portal needs ``fmscript db portal … --allow-deletion``)."""
    opts: dict = {}
    filt = calc_text(portal.find("Calculation")) if portal is not None else None
    if filt is not None and filt.strip():
        opts["filter"] = filt.replace("\r\n", "\n").replace("\r", "\n")
    sort, problems = sort_text(portal)
    if sort:
        opts["sort"] = sort
    return opts, problems


# -- custom functions ---------------------------------------------------------------------------------------
def function_block(name: str, params: list[str], body: str) -> str:
    """One ``Function "Name" ( a ; b )`` … ``End Function`` block, as :mod:`fmscript.script.custom_functions`
    reads it."""
    head = f'Function "{name}"' + (f" ( {' ; '.join(params)} )" if params else "")
    body = body.replace("\r\n", "\n").replace("\r", "\n").rstrip("\n")
    return f"{head}\n{body}\nEnd Function\n"


def usable_functions(defs: list[tuple[str, list[str], str]]) -> tuple[dict[str, str], dict[str, str]]:
    """``(blocks by casefolded name, why not by name)``: the custom functions that fmscript can register (each
    block compiled together with the others, as a script file carrying them will be); one that does not
    parse, or calls one that does not, is left out and reported."""
    left = {n.casefold(): (n, p, b) for n, p, b in defs}
    refused: dict[str, str] = {}
    while left:
        text = "".join(function_block(*d) for d in left.values())
        source = Source("<custom functions>", text)
        _, found, errors = split_functions(text, source)
        errors += register_functions(found, dict(builtin_functions()), source, builtin_functions())
        bad = set()
        for e in errors:
            offset = _offset(text, e)
            owner = _owner(text, offset)
            if owner is not None:
                bad.add(owner.casefold())
                refused.setdefault(owner, e.message)
        names = {f.name.casefold() for f in found}
        for k in list(left):
            if k not in names and k not in bad:
                bad.add(k)
                refused.setdefault(left[k][0], "its header cannot be read")
        if not bad:
            break
        for k in bad:
            left.pop(k, None)
    return {k: function_block(*d) for k, d in left.items()}, refused


def _offset(text: str, e: FMScriptError) -> int:
    if e.span is None:
        return -1
    lines = text.split("\n")
    return sum(len(ln) + 1 for ln in lines[:e.span.line - 1]) + e.span.col - 1


def _owner(text: str, offset: int) -> str | None:
    """The function whose block holds ``offset``."""
    owner = None
    for m in re.finditer(r'^Function "([^"\n]+)"', text, re.M):
        if m.start() <= offset:
            owner = m.group(1)
    return owner


def names_used(text: str, names: dict[str, str]) -> set[str]:
    """The casefolded custom function names a text mentions (as whole words)."""
    if not names:
        return set()
    words = {w.casefold() for w in re.findall(r"[^\W\d][\w.]*", text)}
    return {n for n in names if n in words}
