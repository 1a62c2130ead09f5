"""The steps one interpreter knows: what the parser, the compiler and the docs ask about a step.

The built-in steps fill one default table (:func:`fmscript.script.steps.builtin_steps`); each
``Interpreter`` copies it, as jinja's ``Environment`` copies ``DEFAULT_FILTERS``, so a step an embedder
registers extends that interpreter only.  The parser and the compiler are handed the table and never
import the step library.  Names come from the catalogue (``stdlib/``) unless a registration adds its own.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable

try:  # the built-in SHA-256 loads in microseconds; hashlib first loads OpenSSL
    from _sha256 import sha256
except ImportError:  # pragma: no cover - other Python builds
    from hashlib import sha256

from .. import catalog
from ..catalog import NameInfo, StepInfo, norm


class StepDef:
    """A registered step, its whole description: compile function, option labels (canonical English)
    with any zh-Hans names of its own, the options that are calculations, a parse-time ``validate``, a
    run-time ``guard`` wrapping its closure, its one-line doc and where it differs from FileMaker."""

    __slots__ = ("name", "compile", "labels", "calc_labels", "validate", "guard", "doc", "note",
                 "control_flow", "zh", "label_zh", "module")

    def __init__(self, name: str, compile: Callable | None, labels: Iterable[str] = (),
                 calc_labels: Iterable[str] | None = None, validate: Callable | None = None,
                 guard: Callable | None = None, doc: str = "", note: str = "", control_flow: bool = False,
                 zh: tuple[str, ...] = (), label_zh: dict[str, tuple[str, ...]] | None = None, module: str = ""):
        self.name, self.compile = name, compile
        self.labels = frozenset(labels)
        self.calc_labels = self.labels if calc_labels is None else frozenset(calc_labels)
        self.validate, self.guard, self.doc, self.note = validate, guard, doc, note
        self.control_flow = control_flow  # If, Loop…: the compiler turns these into jumps
        self.zh, self.label_zh, self.module = tuple(zh), dict(label_zh or {}), module

    @property
    def implemented(self) -> bool:
        return self.compile is not None or self.control_flow

    @property
    def family(self) -> str:
        """The step's FileMaker category, from the catalogue's category column."""
        info = catalog.step(self.name)
        return info.category if info is not None and info.name == self.name else "Extension"

    def details(self) -> str:
        """The rest of the compile function's docstring (after its first paragraph)."""
        doc = self.compile.__doc__ if self.compile is not None else ""
        paras = [" ".join(p.split()) for p in (doc or "").strip().split("\n\n")[1:]]
        return " ".join(p for p in paras if p)


def parse_labels(labels) -> tuple[tuple[str, ...], dict[str, tuple[str, ...]]]:
    """Option labels as given to ``register_step``: names, ``{"Message": "消息"}`` or ``[("Message", "消息")]``
    (a zh-Hans value may be one name or several)."""
    items = labels.items() if isinstance(labels, dict) else labels
    names: list[str] = []
    zh: dict[str, tuple[str, ...]] = {}
    for item in items:
        if isinstance(item, str):
            names.append(item)
            continue
        en, z = item
        names.append(en)
        z = (z,) if isinstance(z, str) else tuple(z)
        if z:
            zh[en] = z
    return tuple(names), zh


class StepTable:
    """Step definitions by canonical English name, plus the names (steps, labels, constants) that
    registrations added to the catalogue's for this table only."""

    def __init__(self, steps: dict[str, StepDef] | None = None):
        self.steps: dict[str, StepDef] = dict(steps or {})
        self._steps: dict[str, StepInfo] = {}  # norm(name) → added step names
        self._labels: dict[str, NameInfo] = {}
        self._constants: dict[str, NameInfo] = {}
        self._fingerprint: str | None = None

    def copy(self) -> "StepTable":
        t = StepTable(self.steps)
        t._steps, t._labels, t._constants = dict(self._steps), dict(self._labels), dict(self._constants)
        return t

    # -- what the parser and compiler ask ------------------------------------------------------------
    def get(self, name: str) -> StepDef | None:
        """The definition of a step by its canonical English name (None: not implemented)."""
        return self.steps.get(name)

    def __contains__(self, name: str) -> bool:
        return name in self.steps

    def items(self):
        return self.steps.items()

    def values(self):
        return self.steps.values()

    def step_info(self, written: str) -> StepInfo | None:
        """The catalogue row of a step name written in either language (registered names first)."""
        return self._steps.get(norm(written)) or catalog.step(written)

    def label_info(self, written: str) -> NameInfo | None:
        return self._labels.get(norm(written)) or catalog.labels().get(written)

    def label(self, written: str) -> str | None:
        info = self.label_info(written)
        return info.name if info else None

    def constant(self, written: str) -> str | None:
        info = self._constants.get(norm(written)) or catalog.constants().get(written)
        return info.name if info else None

    def step_names(self) -> list[str]:
        """Every accepted spelling of a step (for suggestions and completion)."""
        names = catalog.all_step_names()
        for s in dict.fromkeys(self._steps.values()):
            names += [s.name, *s.zh, *s.aliases]
        return names

    def steps_info(self) -> list[StepInfo]:
        """Every step row: the catalogue's, then those registered here."""
        own = list(dict.fromkeys(self._steps.values()))
        return [s for s in catalog.steps().items if s.name not in {o.name for o in own}] + own

    # -- what the docs, :help and completion ask -------------------------------------------------------
    def labels_of(self, name: str) -> list[str]:
        """The options of a step in FileMaker's order: those it is registered with, else its syntax's."""
        info = self.step_info(name)
        d = self.steps.get(info.name if info else name)
        from_syntax = catalog.syntax_labels(info.syntax) if info else []
        if d is not None and d.labels:
            ordered = [l for l in from_syntax if l in d.labels]
            return ordered + sorted(l for l in d.labels if l not in ordered)
        return from_syntax

    def label_zh(self, label: str) -> str:
        """The first zh-Hans name of an option label ("" when it has none)."""
        info = self.label_info(label)
        return info.zh[0] if info and info.zh else ""

    def label_kind(self, label: str) -> str:
        info = self.label_info(label)
        return info.kind if info else "value"

    def notes(self, name: str) -> str:
        """Where fmscript differs from FileMaker for a step: its docstring's details plus its note."""
        d = self.steps.get(name)
        if d is None:
            return ""
        return " ".join(p for p in (d.details(), d.note) if p)

    # -- registering ---------------------------------------------------------------------------------
    def add(self, d: StepDef, *, aliases: tuple[str, ...] = (), syntax: str = "",
            category: str = "Extension") -> None:
        """Add (or replace) a step; a name the catalogue does not know becomes known to this table."""
        self.steps[d.name] = d
        info = catalog.step(d.name)
        if info is None or info.name != d.name or d.zh or aliases:
            info = StepInfo(d.name, tuple(d.zh) or (info.zh if info else ()), tuple(aliases),
                            info.category if info else category, syntax or (info.syntax if info else d.name),
                            "fmscript")
            for n in (info.name, *info.zh, *info.aliases):
                self._steps[norm(n)] = info
        for label in d.labels:
            known = self.label_info(label)
            zh = d.label_zh.get(label, ())
            if known is None or known.name != label or any(self.label(z) != label for z in zh):
                merged = NameInfo(label, tuple(dict.fromkeys((*zh, *(known.zh if known else ())))),
                                  known.aliases if known else (), known.kind if known else "value")
                for n in (label, *merged.zh):
                    self._labels[norm(n)] = merged
        self._fingerprint = None

    def add_constant(self, name: str, zh: tuple[str, ...] = ()) -> None:
        """Make a bare word (e.g. a provider name after ``Model Provider:``) a constant for this table."""
        if self.constant(name) is None or any(self.constant(z) is None for z in zh):
            info = NameInfo(name, tuple(zh), ())
            for n in (name, *zh):
                self._constants[norm(n)] = info
            self._fingerprint = None

    def fingerprint(self) -> str:
        """What a parsed script depends on in this table (the parse cache's key includes it)."""
        if self._fingerprint is None:
            h = sha256()
            for name, d in sorted(self.steps.items()):
                h.update(f"{name}:{sorted(d.labels)}:{sorted(d.calc_labels)}:{d.validate is not None}\n".encode())
            for kind, table in (("s", self._steps), ("l", self._labels), ("c", self._constants)):
                for key, info in sorted(table.items()):
                    h.update(f"{kind}:{key}:{info.name}\n".encode())
            self._fingerprint = h.hexdigest()
        return self._fingerprint
