"""``fmscript snippet to-text|from-text`` and ``fmscript import-xml``."""
from __future__ import annotations

import sys
from pathlib import Path

from ..errors import UsageError


def _read(path: str) -> bytes:
    try:
        return sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror or e}") from None


def _write(text: str, out: str | None) -> None:
    if out is None:
        sys.stdout.write(text)
        return
    p = Path(out)
    tmp = p.with_name(p.name + ".part")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(p)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise UsageError(f"cannot write {out}: {e.strerror or e}") from None


def cmd_snippet(args) -> int:
    from . import snippet
    from ..source import decode_script

    data = _read(args.file)
    if args.direction == "to-text":
        text, problems = snippet.to_text(data, args.file)
    else:
        text, problems = snippet.from_text(decode_script(data, args.file), args.file)
    _write(text, args.output)
    for p in problems:
        sys.stderr.write(f"warning: {p}\n")
    return 0


def cmd_import_xml(args) -> int:
    from .importer import import_xml

    def warn(message: str) -> None:
        sys.stderr.write(f"warning: {message}\n")

    summary = import_xml(args.file, args.output, args.scripts, warn)
    sys.stderr.write(f"imported {args.file} into {args.output}"
                     + (f" and {args.scripts}/" if args.scripts else "") + "\n")
    for line in summary.lines():
        sys.stderr.write(f"  {line}\n")
    return 0


def add_commands(sub) -> None:
    s = sub.add_parser("snippet", help="convert between FileMaker's clipboard XML (fmxmlsnippet) and script text")
    s.add_argument("direction", choices=["to-text", "from-text"])
    s.add_argument("file", metavar="FILE", help="the snippet (.xml) or script (.fmscript); - for stdin")
    s.add_argument("-o", "--output", metavar="OUT", help="write here instead of stdout")
    s.set_defaults(func=cmd_snippet)

    x = sub.add_parser("import-xml", help="import FileMaker's Save a Copy as XML: a SQLite file and the scripts")
    x.add_argument("file", metavar="SOLUTION.xml", help="the export (UTF-16 or UTF-8)")
    x.add_argument("-o", "--output", metavar="DB", required=True, help="the SQLite file to write (replaced whole)")
    x.add_argument("--scripts", metavar="DIR", help="write every script as DIR/<folders>/<name>.fmscript")
    x.set_defaults(func=cmd_import_xml)
