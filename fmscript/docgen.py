"""``fmscript docs [--check]``: regenerates every generated reference in ``docs/`` from the registries.

* ``docs/steps.md``: every step of the catalogue (``stdlib/steps.tsv``) with its English and zh-Hans names, its
  options with their zh-Hans labels, whether fmscript implements it, and where fmscript differs from FileMaker;
* ``docs/functions.md``: the calculation functions, rendered by :mod:`fmscript.docgen_functions` (the
  calculation library's generator) when it is present.

``--check`` writes nothing and exits 1 when a committed file is out of date (the test suite runs it).
"""
from __future__ import annotations

import re
import sys
from pathlib import Path


# Where fmscript's behaviour differs from FileMaker's for a step, beyond the step's own docstring.
DIFFERENCES: dict[str, str] = {
    "Show Custom Dialog": "Nothing is asked: the title and message go to stdout (embedders get a callback); "
                          "`Get ( LastMessageChoice )` is 1 and input fields keep their values.",
    "Pause/Resume Script": "`Indefinitely` does not wait, since nobody could resume the script.",
    "Allow User Abort": "Ctrl-C in the terminal always interrupts a run (exit code 130).",
    "Beep": "Rings the terminal bell on stderr, and only on a terminal.",
    "Halt Script": "In the REPL, it stops the current input; the session goes on.",
    "Perform Find": "Stored requests are written in the step in a readable form (see docs/data.md).",
    "Sort Records": "The stored sort order is written in the step (see docs/data.md).",
    "Open Record/Request": "Records are opened implicitly when a field is set; the step only checks the record.",
    "Commit Records/Requests": "One SQLite transaction; validation options are accepted and ignored.",
    "Import Records": "CSV, TSV and JSONL files; fields are matched by name, a missing table is created.",
    "Export Records": "CSV, TSV or JSONL, chosen by the file's extension.",
    "Configure AI Account": "Adds the `Local` provider (zh-Hans 本地): the embedded engine, no network, no key. "
                            "An `https` endpoint without Verify SSL Certificates prints a warning.",
    "Fine-Tune Model": "Local jobs run in a worker process of the fmscript home. A tuned model of the same name "
                       "stays usable until the new job succeeds, then is replaced atomically (the AI Model Server "
                       "deletes it first).",
    "Generate Response from Model": "Greedy decoding by default on the Local provider.",
    "Wait for Fine-Tune Job": "fmscript's own step: FileMaker has no way to wait for a job from a script.",
}

FLAG = "flag"


def _catalog():
    from . import catalog
    return catalog


def syntax_labels(syntax: str) -> list[str]:
    """Option labels (canonical English) that FileMaker's syntax template of a step names."""
    cat = _catalog()
    if "[" not in syntax:
        return []
    inner = syntax[syntax.index("[") + 1: syntax.rindex("]") if "]" in syntax else len(syntax)]
    out: list[str] = []
    for part in re.split(r"\s;\s", inner):
        part = part.strip()
        head = part.split(":", 1)[0].strip() if ":" in part and "::" not in part.split(":", 1)[0] + ":" else part
        info = cat.labels().get(head)
        if info is None or (":" not in part and info.kind != FLAG):
            continue
        if info.name not in out:
            out.append(info.name)
    return out


def step_labels(name: str) -> list[str]:
    """The options of a step: those it is registered with (implemented), else those of its syntax."""
    from .steps import registry

    cat = _catalog()
    info = cat.step(name)
    d = registry().get(info.name if info else name)
    from_syntax = syntax_labels(info.syntax) if info else []
    if d is not None and d.labels:
        ordered = [l for l in from_syntax if l in d.labels]
        return ordered + sorted(l for l in d.labels if l not in ordered)
    return from_syntax


def label_zh(label: str) -> str:
    info = _catalog().labels().get(label)
    return info.zh[0] if info and info.zh else ""


def label_kind(label: str) -> str:
    info = _catalog().labels().get(label)
    return info.kind if info else "value"


def step_notes(name: str) -> str:
    """Where fmscript differs: the rest of the step's docstring plus :data:`DIFFERENCES`."""
    from .steps import registry

    d = registry().get(name)
    notes = []
    if d is not None and d.compile is not None and d.compile.__doc__:
        paras = [" ".join(p.split()) for p in d.compile.__doc__.strip().split("\n\n")[1:]]
        notes += [p for p in paras if p]
    if name in DIFFERENCES:
        notes.append(DIFFERENCES[name])
    return " ".join(notes)


def _cell(text: str) -> str:
    return " ".join(text.replace("``", "`").replace("|", "\\|").split())


def render_steps_md() -> str:
    """The Markdown reference of every step of the catalogue."""
    from .steps import registry

    cat = _catalog()
    impl = registry()
    items = cat.steps().items
    done = sum(1 for s in items if _implemented(impl.get(s.name)))
    out = [
        "# Script steps",
        "",
        "<!-- Generated by `fmscript docs` from stdlib/steps.tsv, stdlib/labels.tsv and the step registry"
        " (fmscript/steps). Do not edit by hand. -->",
        "",
        f"Every step of FileMaker's catalogue ({len(items)} steps) with its English and zh-Hans names. "
        f"fmscript runs {done} of them; every other step parses (so scripts copied from FileMaker load and "
        "`fmscript check` reports them as warnings) and, when run, gives FileMaker's error 3 "
        "(command is unavailable) under the usual error-capture rules.",
        "",
        "Options are listed with their zh-Hans labels; labels of both languages may be mixed inside one step. "
        "A *flag* is written bare (`Verify SSL Certificates`); a value option as `Label: value`.",
        "",
    ]
    by_cat: dict[str, list] = {}
    for s in items:
        by_cat.setdefault(s.category or "Other", []).append(s)
    out.append("## Contents")
    out.append("")
    for c in by_cat:
        out.append(f"- [{c}](#{_anchor(c)}) ({len(by_cat[c])})")
    out.append("")
    for c, steps in by_cat.items():
        out.append(f"## {c}")
        out.append("")
        for s in steps:
            d = impl.get(s.name)
            implemented = _implemented(d)
            out.append(f"### {s.name}")
            out.append("")
            names = [f"zh-Hans: **{s.zh_name}**" if s.zh else "zh-Hans: —"]
            if len(s.zh) > 1:
                names.append("also " + ", ".join(s.zh[1:]))
            if s.aliases:
                names.append("English aliases: " + ", ".join(s.aliases))
            out.append(" · ".join(names))
            out.append("")
            out.append(f"FileMaker: `{s.syntax}`" + (f" (since {s.since})" if s.since and s.since != "fmscript"
                                                     else ""))
            out.append("")
            if implemented:
                out.append("**Implemented.** " + _cell(d.doc) if d.doc else "**Implemented.**")
            else:
                out.append("**Not implemented**: parses; running it gives error 3.")
            out.append("")
            labels = step_labels(s.name)
            if labels:
                out.append("| Option | zh-Hans | Kind |")
                out.append("|---|---|---|")
                for l in labels:
                    out.append(f"| {_cell(l)} | {_cell(label_zh(l)) or '—'} | {label_kind(l)} |")
                out.append("")
            notes = step_notes(s.name) if implemented else ""
            if notes:
                out.append("Differs from FileMaker: " + _cell(notes))
                out.append("")
    return "\n".join(out).rstrip() + "\n"


def _implemented(d) -> bool:
    return d is not None and (d.compile is not None or d.family == "control")


def _anchor(title: str) -> str:
    return re.sub(r"[^\w\- ]", "", title.lower()).strip().replace(" ", "-")


def generated_docs(docs_dir: str | Path | None = None) -> dict[Path, str]:
    """Every generated file and its content; ``docs_dir`` is the checkout's ``docs/`` (default: ./docs), so the
    command works from an installed package and never writes into site-packages."""
    out = Path(docs_dir) if docs_dir is not None else Path.cwd() / "docs"
    docs = {out / "steps.md": render_steps_md()}
    try:
        from .docgen_functions import render_functions_md
    except ImportError:
        pass
    else:
        docs[out / "functions.md"] = render_functions_md()
    return docs


def stale_docs(docs_dir: str | Path | None = None) -> list[Path]:
    """Generated files whose committed content differs from what the registries give now."""
    out = []
    for path, text in generated_docs(docs_dir).items():
        try:
            current = path.read_text(encoding="utf-8")
        except OSError:
            current = None
        if current != text:
            out.append(path)
    return out


def cmd_docs(args) -> int:
    docs = generated_docs(args.out)
    if args.check:
        stale = stale_docs(args.out)
        for p in stale:
            sys.stderr.write(f"{p} is out of date: run `fmscript docs`\n")
        if not stale:
            sys.stderr.write(f"{len(docs)} generated files are up to date\n")
        return 1 if stale else 0
    for path, text in docs.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        old = path.read_text(encoding="utf-8") if path.exists() else None
        if old != text:
            path.write_text(text, encoding="utf-8")
            sys.stderr.write(f"wrote {path}\n")
        else:
            sys.stderr.write(f"{path} unchanged\n")
    return 0


def add_commands(subparsers) -> None:
    p = subparsers.add_parser("docs", help="regenerate the reference in docs/ from the catalogue and registries")
    p.add_argument("--check", action="store_true", help="write nothing; exit 1 when a generated file is stale")
    p.add_argument("--out", metavar="DIR", help="the docs folder of a checkout (default: ./docs)")
    p.set_defaults(func=cmd_docs)


if __name__ == "__main__":  # pragma: no cover
    import argparse
    ap = argparse.ArgumentParser(prog="python -m fmscript.docgen")
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--out")
    sys.exit(cmd_docs(ap.parse_args()))
