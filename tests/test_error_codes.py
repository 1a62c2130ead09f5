"""FileMaker error numbers appear in fmscript/ only as the named constants of fmscript/errors.py.

The renderer prints ``error [N]`` from ``.code``; a literal number at a raise site drifts from the table, and a
number repeated in the message's prose prints twice (or, once the code changes, disagrees).  The scan reads
the source with :mod:`ast`, so comments and docstrings may still name numbers.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import fmscript
from fmscript import errors

PACKAGE = Path(fmscript.__file__).parent

#: FileMaker's numbers fmscript names (0, "no error", is not one of them).
CODES = {v for k, v in vars(errors).items() if k.startswith("E_") and isinstance(v, int) and v != 0}

#: The error classes whose second positional argument would be the code.
ERROR_CLASSES = {"FMScriptError", "ScriptRuntimeError", "StepError", "CalcError", "DataError", "ParseError",
                 "CheckWarning", "UsageError"}

_NUMBER_IN_PROSE = re.compile(r"\berror\s*\[?(-?\d+)\b|\((-?\d+)\)", re.IGNORECASE)


def _int(node) -> int | None:
    """The value of an integer literal (``102``, ``-1``), else None."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        v = _int(node.operand)
        return None if v is None else -v
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    return None


def _ints(node) -> list[int]:
    """The integer literals of a literal or of a tuple/list/set of them."""
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return [v for e in node.elts for v in _ints(e)]
    v = _int(node)
    return [] if v is None else [v]


def _name(func) -> str:
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def _is_code(node) -> bool:
    """``code``, ``e.code``, ``self.last_error``: an expression holding a FileMaker error number."""
    name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else ""
    return name in ("code", "last_error")


def _code_positions(trees) -> dict[str, int]:
    """For each function fmscript defines with a ``code`` parameter, that parameter's positional index."""
    out = {}
    for tree in trees:
        for n in ast.walk(tree):
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)):
                names = [a.arg for a in n.args.posonlyargs + n.args.args]
                if names and names[0] in ("self", "cls"):
                    names = names[1:]
                if "code" in names:
                    out[n.name] = names.index("code")
    for cls in ERROR_CLASSES:
        out[cls] = 1
    return out


def _messages(call: ast.Call):
    """The string parts of an error's message (its first argument, f-strings included)."""
    if not call.args:
        return
    first = call.args[0]
    for n in ast.walk(first):
        if isinstance(n, ast.Constant) and isinstance(n.value, str):
            yield n.value


def scan(root: Path = PACKAGE) -> list[str]:
    """Every literal FileMaker error number under ``root``, as ``path:line: what``."""
    files = sorted(root.rglob("*.py"))
    trees = {p: ast.parse(p.read_text(encoding="utf-8"), str(p)) for p in files}
    positions = _code_positions(trees.values())
    found = []

    def bad(p, node, what):
        found.append(f"{p.relative_to(root.parent)}:{node.lineno}: {what}")

    for p, tree in trees.items():
        in_errors_module = p.name == "errors.py" and p.parent == root
        for n in ast.walk(tree):
            if isinstance(n, ast.Call):
                name = _name(n.func)
                for kw in n.keywords:
                    if kw.arg == "code" and _int(kw.value) is not None:
                        bad(p, n, f"{name}(code={_int(kw.value)})")
                i = positions.get(name)
                if i is not None and len(n.args) > i and _int(n.args[i]) is not None:
                    bad(p, n, f"{name}(…, {_int(n.args[i])}, …) as the code")
                if name in ERROR_CLASSES or name.endswith(("Error", "Warning")):
                    for text in _messages(n):
                        for m in _NUMBER_IN_PROSE.finditer(text):
                            num = int(m.group(1) or m.group(2))
                            if num in CODES:
                                bad(p, n, f"the message repeats the number {num}: {text.strip()!r}")
            elif isinstance(n, ast.Compare):
                sides = [n.left, *n.comparators]
                if any(_is_code(s) for s in sides):
                    nums = [v for s in sides for v in _ints(s) if v != 0]
                    if nums:
                        bad(p, n, f"compares a code with {nums}")
            elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)):
                args = n.args.posonlyargs + n.args.args
                defaults = dict(zip([a.arg for a in args][len(args) - len(n.args.defaults):], n.args.defaults))
                defaults.update({a.arg: d for a, d in zip(n.args.kwonlyargs, n.args.kw_defaults) if d is not None})
                if _int(defaults.get("code")) not in (None, 0):
                    bad(p, n, f"{n.name}(code={_int(defaults['code'])}) as a default")
            elif isinstance(n, ast.ClassDef):
                for st in n.body:
                    if isinstance(st, (ast.Assign, ast.AnnAssign)):
                        targets = st.targets if isinstance(st, ast.Assign) else [st.target]
                        if (any(isinstance(t, ast.Name) and t.id == "code" for t in targets)
                                and _int(st.value) not in (None, 0)):
                            bad(p, st, f"class {n.name}: code = {_int(st.value)}")
        if not in_errors_module:
            for n in ast.walk(tree):
                if isinstance(n, ast.Assign) and any(isinstance(t, ast.Name) and t.id.startswith("E_")
                                                     for t in n.targets):
                    bad(p, n, "an E_ error number defined outside fmscript/errors.py")
    return found


def test_no_literal_error_numbers_in_fmscript():
    found = scan()
    assert not found, "use the E_ constants of fmscript/errors.py:\n" + "\n".join(found)


def test_one_name_per_number():
    names = {}
    for k, v in vars(errors).items():
        if k.startswith("E_") and isinstance(v, int):
            names.setdefault(v, []).append(k)
    assert {v: ks for v, ks in names.items() if len(ks) > 1} == {}


def test_the_scan_finds_what_it_forbids(tmp_path):
    """The scanner itself: each forbidden form is reported, the named forms are not."""
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "bad.py").write_text(
        "def silent_error(f, code, detail): pass\n"
        "class Missing(Exception):\n    code = 102\n"
        "def make(msg, code=1204): pass\n"
        "E_MINE = 21\n"
        "raise StepError('there is no record (FileMaker error 101)', code=101)\n"
        "raise DataError(f'no field {x} (102)', code=E_FIELD_MISSING)\n"
        "silent_error(f, 401, 'none')\n"
        "ok = e.code == 401 or code in (102, 106)\n")
    (pkg / "good.py").write_text(
        "from fmscript.errors import E_FIELD_MISSING\n"
        "raise StepError(f'the field {x} is missing', code=E_FIELD_MISSING)\n"
        "raise SystemExit(1)\n"
        "status = 1 if failed else 0\n")
    found = scan(pkg)
    text = "\n".join(found)
    assert all(line.startswith("pkg/bad.py:") for line in found), text
    for expected in ("Missing: code = 102", "make(code=1204) as a default", "E_ error number defined outside",
                     "StepError(code=101)", "repeats the number 101", "repeats the number 102",
                     "silent_error(…, 401, …)", "compares a code with [401]", "compares a code with [102, 106]"):
        assert expected in text, (expected, text)
