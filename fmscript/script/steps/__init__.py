"""The script step library: each step is one compile function registered once with its description.

``@step("Set Variable", labels=("Value", "Repetition"))`` registers a function
``compile(step: ast.Step, c: StepCompiler) -> run(frame) -> next_pc | None``.  English and zh-Hans names,
aliases and label translations come from the catalogue in ``stdlib/``, so a step is written once.  The
modules of this package are FileMaker's step categories (the catalogue's category column: ``found_sets``
holds the Found Sets steps; a large family may be split into ``<family>_<topic>`` modules, ``files_data`` for the
data file steps); they are found in the package's folder, not listed.  Steps of the catalogue that
are not registered still parse; running one gives error 3.

:data:`STEPS` holds the built-in definitions; :func:`builtin_steps` is the default table that each
``Interpreter`` copies.
"""
from __future__ import annotations

import importlib
import os
from collections.abc import Callable

from ..steptable import StepDef, StepTable

STEPS: dict[str, StepDef] = {}
_builtin: StepTable | None = None


def step(name: str, *, labels: tuple[str, ...] = (), calc_labels: tuple[str, ...] | None = None,
         validate: Callable | None = None, guard: Callable | None = None, note: str = "",
         control_flow: bool = False):
    """Register the compile function of a built-in step (``name`` is the catalogue's English name).

    ``guard(run) -> run`` wraps the compiled closure (e.g. SQLite failures → FileMaker errors);
    ``note`` says where fmscript differs from FileMaker (it goes to docs/steps.md and ``:help``)."""

    def deco(fn: Callable | None):
        STEPS[name] = define(name, fn, labels=labels, calc_labels=calc_labels, validate=validate, guard=guard,
                             note=note, control_flow=control_flow)
        return fn

    return deco


def define(name: str, fn: Callable | None, *, labels=(), calc_labels=None, validate=None, guard=None,
           note: str = "", control_flow: bool = False, zh: tuple[str, ...] = (),
           label_zh: dict[str, tuple[str, ...]] | None = None) -> StepDef:
    """A :class:`StepDef` whose one-line doc is the first paragraph of ``fn``'s docstring."""
    doc = ((fn.__doc__ if fn else "") or "").strip().split("\n\n")[0].replace("\n", " ")
    return StepDef(name, fn, labels, calc_labels, validate, guard, doc, note, control_flow, zh, label_zh,
                   fn.__module__ if fn else "")


def family_modules() -> list[str]:
    """The step modules of this package, found in its folder (``pkgutil.iter_modules`` would do the same
    but imports :mod:`inspect`, a tenth of fmscript's start-up)."""
    names = set()
    for folder in __path__:
        with os.scandir(folder) as entries:
            for e in entries:
                stem, ext = os.path.splitext(e.name)
                if ext in (".py", ".pyc") and stem.isidentifier() and not stem.startswith("_"):
                    names.add(stem)
    return sorted(names)


def load_families() -> None:
    """Import every step module of this package (each one registers its category's steps)."""
    for name in family_modules():
        importlib.import_module(f"{__name__}.{name}")


def builtin_steps() -> StepTable:
    """The default table of built-in steps (loaded once); copy it before adding to it."""
    global _builtin
    if _builtin is None:
        load_families()
        _builtin = StepTable(STEPS)
    return _builtin
