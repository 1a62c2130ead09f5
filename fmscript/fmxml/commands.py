"""``fmscript snippet to-text|from-text`` (and, when present, ``fmscript import-xml``)."""
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


def add_commands(sub) -> None:
    s = sub.add_parser("snippet", help="convert between FileMaker's clipboard XML (fmxmlsnippet) and script text")
    s.add_argument("direction", choices=["to-text", "from-text"])
    s.add_argument("file", metavar="FILE", help="the snippet (.xml) or script (.fmscript); - for stdin")
    s.add_argument("-o", "--output", metavar="OUT", help="write here instead of stdout")
    s.set_defaults(func=cmd_snippet)
