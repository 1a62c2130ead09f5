"""``:help`` text: steps and ``Get`` names from the catalogue, functions from the calculation registry,
commands from the REPL's command registry."""
from __future__ import annotations

import difflib

from .. import catalog

KEYS = """keys:
  Enter        runs the input when it is complete; inside an open If/Loop, bracket or string it adds a line
  Esc Enter    runs the input now (Alt-Enter on most terminals)
  Tab          completes steps, option labels, functions, $variables, Table::Field, accounts and models
  Up / Down    history (kept in the fmscript home)     Ctrl-R  search it     Right  take the grey suggestion
  Ctrl-C       cancels the input, or interrupts a running script
  Ctrl-D       leaves the REPL"""

INTRO = """Type a step (Set Variable [ $x ; Value: 1 ], 设置变量 [ $x ; 值: 1 ]) to run it, a calculation
($x * 2, Get ( CurrentDate )) to see its value, or Script "Name" … End Script to define a script."""


def help_text(arg: str = "") -> str:
    from .commands import COMMANDS

    a = arg.strip()
    if not a:
        width = max(len(c.name) + len(c.args) for c in COMMANDS.values()) + 3
        lines = [INTRO, "", "commands:"]
        for c in COMMANDS.values():
            left = f":{c.name} {c.args}".rstrip()
            lines.append(f"  {left:<{width}} {c.help}")
        lines += ["", KEYS, "", ":help STEP, :help FUNCTION or :help Get(Name) for one of them."]
        return "\n".join(lines)
    if a.startswith(":"):
        c = COMMANDS.get(a[1:].casefold())
        if c:
            return f":{c.name} {c.args}".rstrip() + f"\n  {c.help}"
    return step_help(a) or function_help(a) or get_help(a) or _unknown(a)


def step_help(name: str) -> str | None:
    from ..script.steps import builtin_steps

    table = builtin_steps()
    step_labels, label_zh, label_kind, step_notes = table.labels_of, table.label_zh, table.label_kind, table.notes
    info = table.step_info(name.strip().rstrip("[").strip())
    if info is None:
        return None
    d = table.get(info.name)
    implemented = d is not None and d.implemented
    lines = [f"{info.name}" + (f"  ·  {' / '.join(info.zh)}" if info.zh else "") + f"   [{info.category} step]"]
    lines.append(f"  {info.syntax}")
    if implemented and d.doc:
        lines.append(f"  {d.doc.replace('``', '')}")
    elif not implemented:
        lines.append("  not implemented by fmscript: it parses; running it gives error 3")
    labels = step_labels(info.name)
    if labels:
        lines.append("  options:")
        for l in labels:
            zh = label_zh(l)
            lines.append(f"    {l}" + (f" ({zh})" if zh else "") + (" — flag" if label_kind(l) == "flag" else ""))
    notes = step_notes(info.name) if implemented else ""
    if notes:
        lines.append("  differs from FileMaker: " + notes.replace("``", "`"))
    return "\n".join(lines)


def function_help(name: str) -> str | None:
    from ..calc.functions import lookup

    n = name.strip()
    if "(" in n:
        n = n.split("(", 1)[0].strip()
    d = lookup(n) if n else None
    if d is None or n.casefold() == "get" and "(" in name and name.split("(", 1)[1].strip(" )"):
        return None
    lines = [f"{d.signature}   [{d.category} function]"]
    if d.doc:
        lines.append("  " + d.doc.replace("``", "`"))
    if d.names:
        lines.append("  also: " + ", ".join(d.names))
    return "\n".join(lines)


def get_help(name: str) -> str | None:
    from ..calc.functions import GET_DOCS, registry

    n = name.strip()
    if n.casefold().startswith("get") and "(" in n:
        n = n.split("(", 1)[1].rstrip(") ").strip()
    info = catalog.gets().get(n)
    if info is None:
        return None
    registry()
    doc = GET_DOCS.get(info.name, "")
    zh = f"  ·  Get ( {info.zh[0]} )" if info.zh else ""
    return f"Get ( {info.name} ){zh}   [Get function]" + (f"\n  {doc.replace('``', '')}" if doc else "")


def _unknown(name: str) -> str:
    from ..calc.functions import registry

    pool = {catalog.norm(n): n for n in catalog.all_step_names()}
    pool.update({k: d.name for k, d in registry().items()})
    close = difflib.get_close_matches(catalog.norm(name), list(pool), n=3, cutoff=0.6)
    hint = ("; did you mean " + ", ".join(f"“{pool[c]}”" for c in close) + "?") if close else ""
    return f"no step, function or command named “{name}”{hint}"
