"""The data layer's seams: it imports nothing above it, keeps its private names to itself, and offers what the
rest of fmscript uses as the ``DataLayer`` protocol."""
from __future__ import annotations

import ast
import inspect
import subprocess
import sys
from pathlib import Path

import fmscript
from fmscript.data import protocol
from fmscript.data.database import Database

PACKAGE = Path(fmscript.__file__).parent
DATA = PACKAGE / "data"


def _imports(path: Path, package: str):
    """Absolute names of the modules a file imports (relative imports resolved against ``package``)."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            mod = ".".join(base + ([node.module] if node.module else []))
            yield mod
            yield from (f"{mod}.{a.name}" for a in node.names)


def test_data_never_imports_steps_or_script():
    bad = [(p.name, m) for p in sorted(DATA.glob("*.py")) for m in _imports(p, "fmscript.data")
           if m.startswith(("fmscript.steps", "fmscript.script", "fmscript.interpreter", "fmscript.cli"))]
    assert bad == []


def test_no_private_name_of_data_is_used_outside_its_module():
    uses = []
    for p in sorted(PACKAGE.rglob("*.py")):
        pkg = ".".join(p.relative_to(PACKAGE.parent).with_suffix("").parts[:-1])
        for m in _imports(p, pkg):
            head, _, last = m.rpartition(".")
            if head.startswith("fmscript.data") and last.startswith("_") and not last.startswith("__"):
                uses.append((str(p.relative_to(PACKAGE)), m))
    assert uses == []


def _private_names_of_data() -> set[str]:
    """``_name`` attributes and functions the data modules define (``self._x``, ``def _x``)."""
    names = set()
    for p in DATA.glob("*.py"):
        for n in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == "self":
                names.add(n.attr)
            elif isinstance(n, ast.FunctionDef):
                names.add(n.name)
    return {n for n in names if n.startswith("_") and not n.startswith("__")}


def test_no_module_outside_data_reaches_into_its_private_attributes():
    private = _private_names_of_data()
    assert {"_new_records", "_in_tx", "_row_cache"} <= private
    reaches = []
    for p in sorted(PACKAGE.rglob("*.py")):
        if p.parent == DATA:
            continue
        for n in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if isinstance(n, ast.Attribute) and n.attr in private and \
                    not (isinstance(n.value, ast.Name) and n.value.id in ("self", "cls")):
                reaches.append((str(p.relative_to(PACKAGE)), n.lineno, n.attr))
            elif isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in ("getattr", "hasattr") \
                    and len(n.args) > 1 and isinstance(n.args[1], ast.Constant) and n.args[1].value in private:
                reaches.append((str(p.relative_to(PACKAGE)), n.lineno, n.args[1].value))
    assert reaches == []


def test_database_offers_every_member_of_the_protocol_with_its_signature():
    db = Database(None)
    assert isinstance(db, protocol.DataLayer)
    for name in protocol.MEMBERS:
        assert hasattr(db, name), name
        want = getattr(protocol.DataLayer, name, None)
        if inspect.isfunction(want):
            assert list(inspect.signature(getattr(Database, name)).parameters) == \
                list(inspect.signature(want).parameters), name
    assert {"read_field", "context", "window", "select", "record_open_state", "end_run"} <= set(protocol.MEMBERS)


def test_protocol_and_paths_import_without_sqlite():
    code = ("import sys; import fmscript.data.protocol, fmscript.data.paths; "
            "print('sqlite3' in sys.modules, 'fmscript.data.database' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


class Lazy(protocol.DeferredDataLayer):
    """What runtime.NoData is: a placeholder that opens an in-memory database on first use."""

    __slots__ = ("db",)

    def __init__(self):
        self.db = None

    def opened(self):
        return self.db

    def open(self):
        if self.db is None:
            self.db = Database(None)
        return self.db


def test_a_deferred_data_layer_satisfies_the_protocol_and_opens_only_when_used():
    lazy = Lazy()
    lazy.end_run(True)
    lazy.close()
    assert lazy.path() is None and lazy.opened() is None  # nothing was opened for a script without data
    assert lazy.layout_names() == [] and lazy.window.mode == "browse"
    assert isinstance(lazy.opened(), Database)
    assert isinstance(lazy, protocol.DataLayer)
    assert all(name in dir(lazy) for name in protocol.MEMBERS)  # real members, not a __getattr__ fallback
    lazy.original_layout = "L"
    assert lazy.db.original_layout == "L"
