"""Script AST.  Names are canonical English: ``设置变量 [ $x ; 值: 1 ]`` and ``Set Variable [ $x ; Value: 1 ]``
give equal trees (positions and the spelling as written are kept but not compared)."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..calc import ast as C
from ..source import Source


@dataclass(frozen=True)
class Word:
    """A bare constant or flag option: ``Table``, ``On``, ``Restore``, ``Verify SSL Certificates``."""

    name: str


@dataclass(frozen=True)
class LayoutRef:
    """``“Layout” (Occurrence)`` as FileMaker prints a layout choice."""

    name: str
    occurrence: str | None = None


@dataclass(frozen=True)
class Calc:
    node: C.Node
    text: str = field(compare=False, default="")
    offset: int = field(compare=False, default=0)


@dataclass(frozen=True)
class Raw:
    """Option text of a step fmscript does not run (kept as written)."""

    text: str


Value = Word | LayoutRef | Calc | Raw | None


@dataclass(frozen=True)
class Option:
    label: str | None          # canonical English label, None for an unlabelled part
    value: Value
    pos: int = field(compare=False, default=0)
    label_text: str | None = field(compare=False, default=None)


@dataclass(frozen=True)
class Step:
    name: str                  # canonical English step name
    options: tuple[Option, ...] = ()
    comment: str | None = None  # text of a # comment
    disabled: bool = False
    pos: int = field(compare=False, default=0)
    written: str = field(compare=False, default="")

    # -- option access used by step implementations -------------------------------------------------
    def get(self, label: str) -> Option | None:
        for o in self.options:
            if o.label == label:
                return o
        return None

    def unlabelled(self) -> list[Option]:
        return [o for o in self.options if o.label is None and not isinstance(o.value, Word)]

    def words(self) -> set[str]:
        return {o.value.name for o in self.options if isinstance(o.value, Word) and o.label is None}

    def after(self, label: str) -> list[Option]:
        """Unlabelled options that follow a labelled one (``Training Data: File ; "$f"``)."""
        out, seen = [], False
        for o in self.options:
            if o.label == label:
                seen = True
                continue
            if seen:
                if o.label is not None:
                    break
                out.append(o)
        return out


@dataclass
class Script:
    name: str
    steps: list[Step]
    pos: int = 0


@dataclass
class ScriptFile:
    source: Source
    scripts: list[Script]
    warnings: list = field(default_factory=list)

    def script(self, name: str | None) -> Script | None:
        if name is None:
            return self.scripts[0] if self.scripts else None
        key = name.casefold()
        for s in self.scripts:
            if s.name.casefold() == key:
                return s
        return None
