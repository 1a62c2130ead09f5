"""The bilingual catalogue in ``stdlib/``: step names, option labels, constants and ``Get`` names.

Each TSV row lists a canonical English name, its zh-Hans names and accepted aliases.  Lookups are
case-insensitive and ignore runs of whitespace, so ``set   variable`` and ``设置变量`` both find
``Set Variable``.
"""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

_WS = re.compile(r"[\s\u3000]+")


def stdlib_dir() -> Path:
    here = Path(__file__).resolve().parent
    installed = here / "stdlib"
    return installed if installed.is_dir() else here.parent / "stdlib"


def norm(name: str) -> str:
    """The lookup key of a name: casefolded, whitespace collapsed, full-width forms folded."""
    name = name.replace("（", "(").replace("）", ")").replace("，", ",").replace("／", "/")
    return _WS.sub(" ", name.strip()).casefold()


class StepInfo:
    """A catalogue row: English name, zh-Hans names, aliases, category, syntax template, first version."""

    __slots__ = ("name", "zh", "aliases", "category", "syntax", "since")

    def __init__(self, name, zh, aliases, category, syntax, since):
        self.name, self.zh, self.aliases = name, zh, aliases
        self.category, self.syntax, self.since = category, syntax, since

    @property
    def zh_name(self) -> str:
        return self.zh[0] if self.zh else self.name


class NameInfo:
    """A label, constant or Get name: English name, zh-Hans names, aliases (labels: value or flag)."""

    __slots__ = ("name", "zh", "aliases", "kind")

    def __init__(self, name, zh, aliases, kind="value"):
        self.name, self.zh, self.aliases, self.kind = name, zh, aliases, kind


def _rows(filename: str) -> list[dict[str, str]]:
    path = stdlib_dir() / filename
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    if not lines:
        return []
    header = lines[0].split("\t")
    out = []
    for line in lines[1:]:
        if not line.strip():
            continue
        cells = line.split("\t")
        cells += [""] * (len(header) - len(cells))
        out.append(dict(zip(header, cells)))
    return out


def _split(cell: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in cell.split("|") if p.strip())


class _Table:
    def __init__(self, items, names_of):
        self.items = items
        self.names_of = names_of
        self.index: dict[str, object] = {}
        for item in items:
            self.add(item)

    def add(self, item, replace: bool = False) -> None:
        if item not in self.items:
            self.items.append(item)
        for n in self.names_of(item):
            if replace:
                self.index[norm(n)] = item
            else:
                self.index.setdefault(norm(n), item)

    def get(self, name: str):
        return self.index.get(norm(name))


@lru_cache(maxsize=1)
def steps() -> _Table:
    items = [StepInfo(r["name"], _split(r.get("zh", "")), _split(r.get("aliases", "")), r.get("category", ""),
                      r.get("syntax", ""), r.get("since", "")) for r in _rows("steps.tsv")]
    return _Table(items, lambda s: (s.name, *s.zh, *s.aliases))


def _names(filename: str, first: str) -> _Table:
    items = [NameInfo(r[first], _split(r.get("zh", "")), _split(r.get("aliases", "")), r.get("kind") or "value")
             for r in _rows(filename)]
    return _Table(items, lambda s: (s.name, *s.zh, *s.aliases))


@lru_cache(maxsize=1)
def labels() -> _Table:
    return _names("labels.tsv", "label")


@lru_cache(maxsize=1)
def constants() -> _Table:
    return _names("constants.tsv", "constant")


@lru_cache(maxsize=1)
def gets() -> _Table:
    return _names("get.tsv", "name")


def step(name: str) -> StepInfo | None:
    return steps().get(name)


def label(name: str) -> str | None:
    info = labels().get(name)
    return info.name if info else None


def constant(name: str) -> str | None:
    info = constants().get(name)
    return info.name if info else None


def get_name(name: str) -> str | None:
    """English name of a ``Get ( … )`` argument written in either language."""
    info = gets().get(name)
    return info.name if info else None


FLAG = "flag"  # a label written bare (``Verify SSL Certificates``), not ``Label: value``


def syntax_labels(syntax: str) -> list[str]:
    """Option labels (canonical English) that FileMaker's syntax template of a step names, in its order."""
    if "[" not in syntax:
        return []
    inner = syntax[syntax.index("[") + 1: syntax.rindex("]") if "]" in syntax else len(syntax)]
    out: list[str] = []
    for part in re.split(r"\s;\s", inner):
        part = part.strip()
        head = part.split(":", 1)[0].strip() if ":" in part and "::" not in part.split(":", 1)[0] + ":" else part
        info = labels().get(head)
        if info is None or (":" not in part and info.kind != FLAG):
            continue
        if info.name not in out:
            out.append(info.name)
    return out


def all_step_names() -> list[str]:
    """Every accepted spelling (for suggestions and completion)."""
    names = []
    for s in steps().items:
        names += [s.name, *s.zh, *s.aliases]
    return names
