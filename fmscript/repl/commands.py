"""REPL meta commands: ``:vars``, ``:records``, ``:accounts``, ``:jobs``, ``:load``, ``:run``, ``:help``, ``:trace``,
``:scripts``, ``:quit``.

Each command is one function registered once with ``@command``; its one-line help feeds ``:help`` and
completion, as the calculation functions and steps do.
"""
from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Callable

from ..errors import FMScriptError, UsageError
from ..redact import redact


@dataclass(frozen=True)
class MetaCommand:
    name: str
    args: str
    help: str
    run: Callable


COMMANDS: dict[str, MetaCommand] = {}
ALIASES = {"q": "quit", "exit": "quit", "h": "help", "?": "help", "v": "vars"}


def command(name: str, args: str = ""):
    def deco(fn):
        COMMANDS[name] = MetaCommand(name, args, (fn.__doc__ or "").strip().split("\n")[0], fn)
        return fn
    return deco


def run_command(repl, line: str) -> None:
    word, _, rest = line[1:].strip().partition(" ")
    name = ALIASES.get(word.casefold(), word.casefold())
    cmd = COMMANDS.get(name)
    if cmd is None:
        import difflib
        close = difflib.get_close_matches(name, list(COMMANDS), n=1)
        hint = f"; did you mean :{close[0]}?" if close else "; :help lists them"
        raise UsageError(f"unknown command “:{word}”{hint}")
    cmd.run(repl, rest.strip())


def _raw(value):
    return "" if value is None else value


def _short(value, width: int = 70) -> str:
    from ..calc.values import to_text
    s = to_text(value).replace("\r\n", "¶").replace("\r", "¶").replace("\n", "¶")
    return s if len(s) <= width else s[: width - 1] + "…"


def _table(rows: list[list[str]], header: list[str]) -> str:
    cols = [header] + rows
    widths = [max(_wide_len(r[i]) for r in cols) for i in range(len(header))]
    out = []
    for r in cols:
        out.append("  ".join(c + " " * (w - _wide_len(c)) for c, w in zip(r, widths)).rstrip())
    return "\n".join(out)


def _wide_len(s: str) -> int:
    import unicodedata
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in s)


@command("vars")
def cmd_vars(repl, arg: str) -> None:
    """Show the REPL's $ variables and the session's $$ variables."""
    vs = repl.variables()
    if not vs:
        repl.out("no variables yet (Set Variable [ $x ; Value: 1 ])", "info")
        return
    locals_ = sorted((k, v) for k, v in vs.items() if not k.startswith("$$"))
    globals_ = sorted((k, v) for k, v in vs.items() if k.startswith("$$"))
    rows = [[k, redact(_short(v))] for k, v in locals_ + globals_]
    repl.out(_table(rows, ["variable", "value"]), "result")


@command("records", "[TABLE] [N]")
def cmd_records(repl, arg: str) -> None:
    """Show the found set of the current layout (or TABLE): the first N records (default 10)."""
    db = repl.database()
    if db is None or not db.tables():
        repl.out("no tables: start with --file DB, Import Records, or `fmscript db`", "info")
        return
    parts = arg.split()
    limit = 10
    if parts and parts[-1].isdigit():
        limit = int(parts.pop())
    occurrence = " ".join(parts) or None
    ctx = db.context(occurrence)
    ti = db.tables()[ctx.table.casefold()]
    found = ctx.found or []
    layout = db.window.layout if occurrence is None else ctx.occurrence
    head = (f"layout “{layout}” · table {ti.name} · {len(found)} found of {db.total_count(ti.name)}"
            + (f" · record {ctx.index + 1}" if found else "") + (" · find mode" if db.window.mode == "find" else ""))
    repl.out(head, "info")
    fields = [f for f in ti.fields if not f.is_global]
    rows = []
    for i, rid in enumerate(found[:limit]):
        values = db.record_values(ti, rid)
        mark = "▸" if i == ctx.index else " "
        rows.append([mark + str(i + 1)] + [redact(_short(_raw(values.get(f.name)), 30)) for f in fields])
    if rows:
        repl.out(_table(rows, ["#"] + [f.name for f in fields]), "result")
    if len(found) > limit:
        repl.out(f"… {len(found) - limit} more (:records {limit * 5})", "info")
    globals_ = [f for f in ti.fields if f.is_global]
    if globals_:
        shown = []
        for f in globals_:
            try:
                shown.append(f"{f.name} = {redact(_short(db.read_field(repl.frame, ctx.occurrence, f.name), 30))}")
            except FMScriptError:
                continue
        repl.out("globals: " + ", ".join(shown), "info")


@command("accounts")
def cmd_accounts(repl, arg: str) -> None:
    """Show the AI accounts of this session (API keys masked)."""
    accts = list(repl.session.accounts.values())
    if not accts:
        repl.out("no AI accounts yet (Configure AI Account [ Account Name: \"a\" ; Model Provider: Local ])", "info")
        return
    rows = []
    for a in accts:
        d = a.display() if hasattr(a, "display") else {"name": getattr(a, "name", str(a))}
        rows.append([d.get("name", ""), d.get("provider", ""), d.get("endpoint", "") or "-",
                     d.get("api_key", "") or "-", "on" if d.get("verify_ssl") else "off"])
    repl.out(redact(_table(rows, ["account", "provider", "endpoint", "api key", "verify ssl"])), "result")


@command("jobs", "[N]")
def cmd_jobs(repl, arg: str) -> None:
    """Show the newest fine-tuning jobs of the fmscript home (default 10)."""
    limit = int(arg) if arg.strip().isdigit() else 10
    try:
        from ..ai.local import LocalEngine
        jobs = LocalEngine().list_jobs(limit=limit)
    except ImportError as e:
        raise UsageError(f"the local engine is not available: {e}") from None
    if not jobs:
        repl.out("no fine-tuning jobs in this fmscript home", "info")
        return
    import time
    rows = []
    for j in jobs:
        created = j.get("created_at")
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(created / 1000)) if created else ""
        step = j.get("step") or j.get("current_step")
        total = j.get("total_steps")
        progress = f"{step}/{total}" if step is not None and total else ""
        rows.append([j.get("id", ""), j.get("status", ""), progress, j.get("model", "") or "",
                     j.get("fine_tuned_model", "") or "", when])
    repl.out(_table(rows, ["job", "status", "step", "base model", "tuned model", "created"]), "result")


@command("load", "FILE")
def cmd_load(repl, arg: str) -> None:
    """Load the scripts of a .fmscript file (run them with :run NAME)."""
    if not arg:
        raise UsageError(":load needs a file name: :load scripts.fmscript")
    path = _one_arg(arg)
    names = repl.load_file(path)
    repl.out(f"loaded {path}: " + ", ".join(f"“{n}”" for n in names), "info")


@command("run", "NAME [PARAM]")
def cmd_run(repl, arg: str) -> None:
    """Run a script by name (loaded, or of the loaded files' imported solution), with an optional parameter
    (a calculation)."""
    if not arg:
        raise UsageError(":run needs a script name; loaded: " + (", ".join(_script_names(repl)) or "none"))
    # A name of two words may be one of the solution's scripts not loaded yet.
    name, param = _name_and_rest(arg, repl.session.script_names())
    value = repl.evaluate_quiet(param) if param else ""
    result = repl.fm.run_script(name, value)
    if result != "":
        repl.show_value(result)


@command("scripts")
def cmd_scripts(repl, arg: str) -> None:
    """List the scripts loaded or defined in this session, then those of the loaded files' imported solution
    (marked: their files load when a script performs them or :run runs them)."""
    loaded = _script_names(repl)
    known = {n.casefold() for n in loaded}
    names = loaded + [f"{n} (not loaded yet)" for n in repl.session.script_names() if n.casefold() not in known]
    repl.out(", ".join(names) if names else "no scripts yet (:load FILE, or type Script \"Name\" … End Script)",
             "result" if names else "info")


@command("trace", "on|off")
def cmd_trace(repl, arg: str) -> None:
    """Print each executed step and the variables it changed."""
    a = arg.strip().casefold()
    if a in ("", "status"):
        repl.out(f"trace is {'on' if repl.trace else 'off'}", "info")
        return
    if a not in ("on", "off", "开", "关"):
        raise UsageError(":trace takes on or off")
    repl.set_trace(a in ("on", "开"))
    repl.out(f"trace {'on' if repl.trace else 'off'}", "info")


@command("help", "[STEP|FUNCTION|:COMMAND]")
def cmd_help(repl, arg: str) -> None:
    """Help on a step, a calculation function, a Get name or a command; alone: the commands and keys."""
    from .helptext import help_text
    repl.out(help_text(arg), "result")


@command("quit")
def cmd_quit(repl, arg: str) -> None:
    """Leave the REPL (Ctrl-D does the same)."""
    repl.quit = True


def _script_names(repl) -> list[str]:
    return [cs.name for cs in repl.session.scripts.values()]


def _one_arg(arg: str) -> str:
    try:
        parts = shlex.split(arg)
    except ValueError:
        parts = [arg]
    return parts[0] if len(parts) == 1 else arg.strip().strip("\"'")


def _name_and_rest(arg: str, names: list[str]) -> tuple[str, str]:
    """A script name (quoted, or the longest loaded name the text starts with) and the rest."""
    a = arg.strip()
    for q, e in (('"', '"'), ("“", "”"), ("'", "'")):
        if a.startswith(q):
            end = a.find(e, 1)
            if end > 0:
                return a[1:end], a[end + 1:].strip()
    for n in sorted(names, key=len, reverse=True):
        if a.casefold() == n.casefold() or a.casefold().startswith(n.casefold() + " "):
            return n, a[len(n):].strip()
    name, _, rest = a.partition(" ")
    return name, rest.strip()


def meta_names() -> list[str]:
    return [":" + n for n in COMMANDS]


__all__ = ["COMMANDS", "command", "run_command", "meta_names"]
