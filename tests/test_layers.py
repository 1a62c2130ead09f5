"""The layers hold: import rules (import-linter), no private names across modules, the step library laid
out by FileMaker's categories, and parsing that never loads the step library."""
import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from fmscript import catalog
from fmscript.script.steps import builtin_steps

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "fmscript"


def test_import_contracts_hold(tmp_path):
    """`lint-imports` checks the contracts in pyproject.toml ([tool.importlinter])."""
    # lint-imports run by this interpreter, from another folder: it puts its working directory on sys.path, and the
    # contracts are about the fmscript this test process imports (the installed one under CI), not the checkout.
    lint = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"
    r = subprocess.run([sys.executable, "-c", lint, "--no-cache", "--config", str(ROOT / "pyproject.toml")],
                       cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert re.search(r"Contracts: \d+ kept, 0 broken", r.stdout), r.stdout[-2000:]


# Private names other modules still reach into, each to go on the branch that owns the module.
KNOWN_CROSSINGS = {
    ("fmscript/calc/functions/logic.py", "_split_binding"),  # calc: one Let/While binder
    ("fmscript/calc/functions/logic.py", "_rep_number"),  # calc
    ("fmscript/calc/functions/records.py", "_time_text"),  # data: public API for calc
    ("fmscript/ai/modelstore.py", "_download"),  # ai: mlx_lm.utils._download
    ("fmscript/data/transfer.py", "_NUMERIC"),  # data: data/values.py's number pattern
    ("fmscript/conformance/__init__.py", "_now"),  # calc: conformance.py freezes calc.functions.get's clock
}


def _private_crossings():
    """``from module import _name`` and ``module._name`` where ``module`` is another imported module."""
    found = set()
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(ROOT).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        modules = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                for a in node.names:
                    if a.name.startswith("_") and not a.name.startswith("__"):
                        found.add((rel, a.name))
                    if node.module is None or node.level:  # from . import x: x may be a module
                        modules.add(a.asname or a.name)
            elif isinstance(node, ast.Import):
                modules.update((a.asname or a.name).split(".")[0] for a in node.names)
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                    and node.value.id in modules and node.attr.startswith("_") and not node.attr.startswith("__"):
                found.add((rel, node.attr))
    return found


def test_no_private_name_crosses_a_module_boundary():
    assert _private_crossings() - KNOWN_CROSSINGS == set()


def _slug(category: str) -> str:
    return re.sub(r"\W+", "_", category.strip().lower()).strip("_")


def test_each_step_lives_in_the_module_of_its_filemaker_category():
    """found_sets.py holds the Found Sets steps: the category column of stdlib/steps.tsv decides."""
    table = builtin_steps()
    misplaced = []
    for name, d in table.items():
        info = catalog.step(name)
        assert info is not None, f"{name} is not in the catalogue"
        if d.module and info.category != "fmscript":  # fmscript's own steps sit beside their family
            if d.module.rsplit(".", 1)[-1] != _slug(info.category):
                misplaced.append((name, d.module, info.category))
        assert d.family == info.category
    assert misplaced == []


def test_step_modules_are_discovered_not_listed():
    """Every module of the package is loaded, and no module list names one that does not exist."""
    names = {d.module.rsplit(".", 1)[-1] for d in builtin_steps().values() if d.module}
    files = {p.stem for p in (PACKAGE / "script" / "steps").glob("*.py") if not p.stem.startswith("_")}
    assert names <= files
    assert {"control", "miscellaneous", "navigation", "found_sets", "records", "editing", "files", "ai"} <= names
    source = (PACKAGE / "script" / "steps" / "__init__.py").read_text(encoding="utf-8")
    assert "os.scandir" in source and "_FAMILIES" not in source


def test_parsing_and_compiling_never_import_the_step_library(tmp_path):
    probe = ("import sys\n"
             "from fmscript.script.steptable import StepTable\n"
             "from fmscript.script.parse import parse_collect\n"
             "from fmscript.script.compile import compile_script\n"
             "sf, errors = parse_collect('Set Variable [ $x ; Value: 1 ]', steps=StepTable())\n"
             "compile_script(sf.scripts[0], sf.source, None, [], steps=StepTable())\n"
             "print(sorted(m for m in sys.modules if m.startswith('fmscript.script.steps')))\n")
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, FMSCRIPT_NO_CACHE="1"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


@pytest.mark.parametrize("name", ["Set Field", "Perform Find", "Beep"])
def test_a_builtin_step_carries_its_description(name):
    d = builtin_steps().get(name)
    assert d.implemented and d.doc
    assert d.note or name == "Set Field"  # its "differs from FileMaker" note is part of the registration
