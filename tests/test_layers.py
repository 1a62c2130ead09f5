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


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _private_crossings():
    """``from module import _name``, and ``thing._name`` or ``getattr(thing, "_name")`` where ``thing`` was
    imported from another module (a module, or one of its classes or objects)."""
    found = set()
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(ROOT).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        modules = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                for a in node.names:
                    if _private(a.name):
                        found.add((rel, a.name))
                    modules.add(a.asname or a.name)  # a module, or a class or object of another module
            elif isinstance(node, ast.Import):
                modules.update((a.asname or a.name).split(".")[0] for a in node.names)
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                    and node.value.id in modules and _private(node.attr):
                found.add((rel, node.attr))
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                    and node.func.id in ("getattr", "setattr", "hasattr") and len(node.args) > 1 \
                    and isinstance(node.args[0], ast.Name) and node.args[0].id in modules \
                    and isinstance(node.args[1], ast.Constant) and _private(str(node.args[1].value)):
                found.add((rel, node.args[1].value))
    return found


def test_no_private_name_crosses_a_module_boundary():
    assert _private_crossings() == set()


def _slug(category: str) -> str:
    return re.sub(r"\W+", "_", category.strip().lower()).strip("_")


def test_each_step_lives_in_the_module_of_its_filemaker_category():
    """found_sets.py holds the Found Sets steps: the category column of stdlib/steps.tsv decides. A large
    category may be split into modules named after it (ai.py, ai_embeddings.py)."""
    table = builtin_steps()
    misplaced = []
    for name, d in table.items():
        info = catalog.step(name)
        assert info is not None, f"{name} is not in the catalogue"
        if d.module and info.category != "fmscript":  # fmscript's own steps sit beside their family
            module, slug = d.module.rsplit(".", 1)[-1], _slug(info.category)
            if module != slug and not module.startswith(slug + "_"):
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
