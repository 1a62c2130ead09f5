"""The installed package is the product: the wheel holds every module and data file of the source tree, and
what a user imports (``fmscript.Interpreter``, the error classes) is visible to ``dir()`` and IDEs."""
from __future__ import annotations

import importlib.resources
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import fmscript

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "fmscript"
# Folders that install under fmscript/ from the top of the repository (setup.py's package_dir).
MAPPED = {"grammar": ROOT / "grammar", "stdlib": ROOT / "stdlib"}
DATA = ["py.typed", "grammar/calc.lark", "stdlib/steps.tsv", "stdlib/labels.tsv", "stdlib/get.tsv",
        "stdlib/constants.tsv", "conformance/calc-vectors.tsv", "conformance/README.md", "ai/corpus.txt",
        "ai/ext/fmext.cpp", "ai/ext/CMakeLists.txt"]


def source_files() -> set[str]:
    """Every file the package must ship, as paths inside the package."""
    out = {p.relative_to(SOURCE).as_posix() for p in SOURCE.rglob("*.py") if "__pycache__" not in p.parts}
    # The Admin Console's pages and assets (package data: the console works offline from the wheel alone).
    console = SOURCE / "server" / "console"
    out |= {p.relative_to(SOURCE).as_posix() for d in ("templates", "static") for p in (console / d).iterdir()
            if p.is_file()}
    for name, folder in MAPPED.items():
        out |= {f"{name}/{p.name}" for p in folder.iterdir() if p.suffix in (".lark", ".tsv", ".md")}
    return out | set(DATA)


def test_every_module_folder_is_a_package():
    # A folder of modules without __init__.py works from a checkout but is left out of the wheel.
    folders = {p.parent for p in SOURCE.rglob("*.py") if "__pycache__" not in p.parts}
    assert sorted(str(f.relative_to(ROOT)) for f in folders if not (f / "__init__.py").exists()) == []


def test_the_imported_package_holds_every_file():
    installed = Path(str(importlib.resources.files("fmscript")))

    def present(f: str) -> bool:
        top = f.split("/", 1)[0]
        if installed == SOURCE and top in MAPPED:  # a checkout: these folders sit at the top of the repository
            return (ROOT / f).is_file()
        return (installed / f).is_file()

    missing = sorted(f for f in source_files() if not present(f))
    assert missing == [], f"{Path(fmscript.__file__).parent} lacks {missing}"


@pytest.mark.slow
def test_the_built_wheel_holds_every_file(tmp_path):
    # Build from a clean copy: a stale build/ folder in the checkout would hide a module the wheel leaves out.
    src = tmp_path / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "build", "*.egg-info", ".venv")
    for name in ("fmscript", "grammar", "stdlib"):
        shutil.copytree(ROOT / name, src / name, ignore=ignore)
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy(ROOT / name, src / name)
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                        "-w", str(tmp_path), str(src)], capture_output=True, text=True, timeout=600,
                       cwd=str(tmp_path), env={**os.environ, "PIP_NO_INPUT": "1"})
    assert r.returncode == 0, r.stdout + r.stderr
    wheel, = tmp_path.glob("fmscript-*.whl")
    names = {n.split("/", 1)[1] for n in zipfile.ZipFile(wheel).namelist() if n.startswith("fmscript/")}
    assert sorted(source_files() - names) == []
    # Nothing from the checkout's other folders (tests, docs, build leftovers) leaks into the wheel.
    assert not [n for n in zipfile.ZipFile(wheel).namelist() if n.startswith(("tests/", "docs/", "build/"))]


def test_public_names_are_visible_to_dir_and_ide():
    names = dir(fmscript)
    for name in ("Interpreter", "FMScriptError", "ParseError", "ScriptRuntimeError", "UsageError", "__version__"):
        assert name in names
        assert name in fmscript.__all__
    assert fmscript.Interpreter.__name__ == "Interpreter"
    assert issubclass(fmscript.ParseError, fmscript.FMScriptError)
    # Type checkers see the lazily loaded Interpreter through the TYPE_CHECKING import.
    init = importlib.resources.files("fmscript").joinpath("__init__.py").read_text(encoding="utf-8")
    assert "from .interpreter import Interpreter" in init


def test_conformance_and_docs_run_outside_a_checkout(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    r = subprocess.run([sys.executable, "-m", "fmscript", "conformance"], capture_output=True, text=True,
                       cwd=str(tmp_path), env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "total" in r.stdout and "%" in r.stdout
    r = subprocess.run([sys.executable, "-m", "fmscript", "docs", "--check", "--out", str(ROOT / "docs")],
                       capture_output=True, text=True, cwd=str(tmp_path), env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    # Without --out the command looks in ./docs, never in site-packages.
    r = subprocess.run([sys.executable, "-m", "fmscript", "docs", "--check"], capture_output=True, text=True,
                       cwd=str(tmp_path), env=env, timeout=300)
    assert r.returncode == 1 and str(tmp_path / "docs") in r.stderr


def test_a_subprocess_imports_the_same_fmscript_as_the_tests(tmp_path):
    """Tests start ``sys.executable`` with the environment they run in (conftest sets PYTHONSAFEPATH): from the
    checkout or from anywhere else, the child imports the fmscript this process imported, never the source tree
    beside it unless that is what this process uses."""
    probe = [sys.executable, "-c", "import fmscript, pathlib; print(pathlib.Path(fmscript.__file__).resolve())"]
    mine = str(Path(fmscript.__file__).resolve())
    for cwd in (ROOT, tmp_path):
        r = subprocess.run(probe, capture_output=True, text=True, cwd=str(cwd), timeout=60)
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == mine, cwd


# What the test layout forbids: import paths bent by hand (the source tree would shadow the installed package).
_BENT_PATHS = [re.compile(r"\bsys\.path\.(insert|append|extend)\b"), re.compile(r"^\s*(from|import)\s+conftest\b", re.M),
               re.compile(r"PYTHONPATH.*\bROOT\b|\bROOT\b.*PYTHONPATH")]


def test_the_tests_bend_no_import_paths():
    tests = ROOT / "tests"
    # A tests/__init__.py would make pytest put the repository root on sys.path, and import the source tree.
    assert not (tests / "__init__.py").exists()
    # Its test folders are packages: pytest then puts only tests/ on sys.path, and they share code by relative imports.
    assert [str(d.relative_to(ROOT)) for d in sorted({p.parent for p in tests.rglob("test_*.py")})
            if d != tests and not (d / "__init__.py").exists()] == []
    found = [f"{p.relative_to(ROOT)}: {m.group(0)!r}" for p in sorted(tests.rglob("*.py")) if p.resolve() != Path(__file__).resolve()
             for rx in _BENT_PATHS for m in rx.finditer(p.read_text(encoding="utf-8"))]
    assert found == []
