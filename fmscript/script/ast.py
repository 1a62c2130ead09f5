"""Script AST.  Names are canonical English: ``设置变量 [ $x ; 值: 1 ]`` and ``Set Variable [ $x ; Value: 1 ]``
give equal trees (positions and the spelling as written are kept but not compared)."""
from __future__ import annotations

from ..calc import ast as C
from ..source import Source
from ..value_object import ValueObject


class Word(ValueObject):
    """A bare constant or flag option: ``Table``, ``On``, ``Restore``, ``Verify SSL Certificates``."""

    __slots__ = ("name",)


class LayoutRef(ValueObject):
    """``“Layout” (Occurrence)`` as FileMaker prints a layout choice."""

    __slots__ = ("name", "occurrence")
    _defaults = {"occurrence": None}


class Calc(ValueObject):
    """A calculation: its AST (compared), its text and where it starts (not compared)."""

    __slots__ = ("node", "text", "offset")
    _defaults = {"text": "", "offset": 0}
    _nocompare = frozenset({"text", "offset"})


class Missing(Calc):
    """``<unknown>``: how FileMaker prints a reference to a layout, field or script that was deleted.

    It is the calculation of a name no object has, so looking it up fails as the missing object does
    (layout 105, script 104; as a field to set, 102)."""

    __slots__ = ()


class Raw(ValueObject):
    """Option text of a step fmscript does not run (kept as written)."""

    __slots__ = ("text",)


Value = Word | LayoutRef | Calc | Raw | None


class Option(ValueObject):
    """One part of a step's brackets: ``label`` is the canonical English label (None: unlabelled)."""

    __slots__ = ("label", "value", "pos", "label_text")
    _defaults = {"pos": 0, "label_text": None}
    _nocompare = frozenset({"pos", "label_text"})


class Step(ValueObject):
    """A step: ``name`` is the canonical English name; ``written`` the spelling used in the text."""

    __slots__ = ("name", "options", "comment", "disabled", "pos", "written")
    _defaults = {"options": (), "comment": None, "disabled": False, "pos": 0, "written": ""}
    _nocompare = frozenset({"pos", "written"})

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


class Script:
    __slots__ = ("name", "steps", "pos")

    def __init__(self, name: str, steps: list[Step], pos: int = 0):
        self.name, self.steps, self.pos = name, steps, pos


class ScriptFile:
    __slots__ = ("source", "scripts", "warnings")

    def __init__(self, source: Source, scripts: list[Script], warnings: list | None = None):
        self.source, self.scripts, self.warnings = source, scripts, warnings if warnings is not None else []

    def script(self, name: str | None) -> Script | None:
        if name is None:
            return self.scripts[0] if self.scripts else None
        key = name.casefold()
        for s in self.scripts:
            if s.name.casefold() == key:
                return s
        return None
