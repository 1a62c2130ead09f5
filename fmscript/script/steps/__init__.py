"""The script step registry: each step is one compile function registered once with its labels.

``@step("Set Variable", labels=("Value", "Repetition"))`` registers a function
``compile(step: ast.Step, c: StepCompiler) -> run(frame) -> next_pc | None``.  English and zh-Hans names,
aliases and label translations come from the catalogue in ``stdlib/``, so a step is written once.
Steps of FileMaker's catalogue that are not registered still parse; running one gives error 3.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable

from ..errors import ScriptRuntimeError


class StepError(ScriptRuntimeError):
    """A step failed with a FileMaker error number (what ``Get ( LastError )`` then reports)."""


class StepDef:
    """A registered step: its compile function, the labels it takes, and its one-line description."""

    __slots__ = ("name", "compile", "labels", "calc_labels", "validate", "doc", "family")

    def __init__(self, name: str, compile: Callable | None, labels: frozenset[str], calc_labels: frozenset[str],
                 validate: Callable | None = None, doc: str = "", family: str = ""):
        self.name, self.compile, self.labels, self.calc_labels = name, compile, labels, calc_labels
        self.validate, self.doc, self.family = validate, doc, family


STEPS: dict[str, StepDef] = {}
_FAMILIES = ("control", "records", "files", "ai")
_loaded = False


def step(name: str, *, labels: tuple[str, ...] = (), calc_labels: tuple[str, ...] | None = None,
         validate: Callable | None = None):
    """Register the compile function of a step (``name`` is the catalogue's English name)."""

    def deco(fn: Callable | None):
        doc = ((fn.__doc__ if fn else "") or "").strip().split("\n\n")[0].replace("\n", " ")
        fam = fn.__module__.rsplit(".", 1)[-1] if fn else "control"
        STEPS[name] = StepDef(name, fn, frozenset(labels),
                              frozenset(labels if calc_labels is None else calc_labels), validate, doc, fam)
        return fn

    return deco


def registry() -> dict[str, StepDef]:
    global _loaded
    if not _loaded:
        _loaded = True
        for fam in _FAMILIES:
            try:
                importlib.import_module(f"{__name__}.{fam}")
            except ModuleNotFoundError as e:
                if e.name != f"{__name__}.{fam}":
                    raise
    return STEPS
