"""Script AST → runnable code: a flat list of step closures with resolved jumps.

Control steps (If, Loop …) become jumps, so running a loop body re-parses and re-resolves nothing: each
iteration calls the same closures.  The compiler only produces a :class:`CompiledScript`; the VM in
:mod:`fmscript.script.run` runs it.  Steps are looked up in the table handed in (the interpreter's), so
this module never imports the step library.
"""
from __future__ import annotations

from collections.abc import Callable

from ..calc import ast as C
from ..calc.compile import Calculation, compile_node, var_key
from ..calc.values import to_bool, to_num0, to_text
from ..errors import (E_CALC_SYNTAX, E_COMMAND_INVALID, E_COMMAND_UNAVAILABLE, CheckWarning, FMScriptError,
                      ParseError, StepError)
from ..source import Source
from . import ast as S
from .steptable import StepTable

Instr = Callable[[object], object]


class CompiledScript:
    """A script ready to run: step closures, the steps they came from and their source spans."""

    __slots__ = ("name", "code", "steps", "source", "spans")

    def __init__(self, name: str, code: list, steps: list, source: Source, spans: list | None = None):
        self.name, self.code, self.steps, self.source = name, code, steps, source
        self.spans = spans if spans is not None else []


class IncompleteStep(Exception):
    """A step FileMaker saved without a required option (``raise c.incomplete(…)`` in its compile function):
    the compiler emits a step that fails with ``code`` when it runs, and a warning for ``check``."""

    def __init__(self, message: str, code: int):
        super().__init__(message)
        self.message, self.code = message, code


class StepCompiler:
    """What a step's compile function gets: turns option values into closures once."""

    def __init__(self, source: Source, trace=None, functions: dict | None = None):
        self.source = source
        self.trace = trace
        self.functions = functions  # the interpreter's calculation functions (None: the built-ins)
        self.errors: list[FMScriptError] | None = None
        self.warnings: list[FMScriptError] | None = None  # where incomplete steps are reported (check, REPL)
        self.steps: StepTable | None = None
        self.step: S.Step | None = None
        self.blocks: list[dict] = []  # open If / Loop blocks while compiling
        self.code: list = []  # the closures emitted so far (a step may wrap those of its block)

    def loop_exit_cell(self) -> list | None:
        """A jump cell that leaves the innermost open Loop (None outside a loop): a step returns
        ``cell[0]`` to exit, as Go to Record [ Next ; Exit after last ] does."""
        loop = next((b for b in reversed(self.blocks) if b["kind"] == "Loop"), None)
        if loop is None:
            return None
        cell = [0]
        loop["exits"].append(cell)
        return cell

    def error(self, msg: str, pos: int | None = None, code: int = E_CALC_SYNTAX) -> ParseError:
        return ParseError(msg, code=code, span=self.source.span(self.step.pos if pos is None else pos),
                          step=self.step.name if self.step else None)

    def incomplete(self, msg: str, code: int = E_COMMAND_INVALID) -> Exception:
        """What a compile function raises when the step's text leaves a required option out entirely (absent,
        or empty as FileMaker prints an unset one: ``Set Field [ ]``, ``File ID:  ``): FileMaker saves such a
        step, and running it fails with ``code`` under the usual error-capture rules.  A step whose text
        holds something malformed (a wrong option, a syntax error) stays a compile error."""
        if any(isinstance(o.value, S.Raw) and not _printed_list(o.value.text) for o in self.step.options):
            return self.error(msg)
        return IncompleteStep(msg, code)

    def calculation(self, value: S.Value) -> Calculation:
        if not isinstance(value, S.Calc):
            raise self.error("a calculation is expected here")
        return compile_node(value.node, value.text, self.source, functions=self.functions)

    def calc(self, opt: S.Option | S.Value | None, default=None) -> Callable:
        """A closure ``f → value`` for an option (``default`` when the option is absent)."""
        value = opt.value if isinstance(opt, S.Option) else opt
        if value is None:
            d = "" if default is None else default
            return lambda f: d
        if isinstance(value, S.Word):
            w = value.name
            return lambda f: w
        if isinstance(value, S.LayoutRef):
            n = value.name
            return lambda f: n
        if isinstance(value, S.Raw):
            raise self.error(f"“{value.text}” is not a valid calculation")
        ev = self.calculation(value).evaluate
        return ev

    def text(self, opt, default="") -> Callable:
        c = self.calc(opt, default)
        return lambda f: to_text(c(f))

    def number(self, opt, default=None) -> Callable:
        c = self.calc(opt, default)
        return lambda f: to_num0(c(f))

    def on_off(self, opt, default: bool) -> bool:
        """A static On/Off option (FileMaker stores these as settings, not calculations)."""
        if opt is None:
            return default
        v = opt.value
        if v is None:
            return True  # a bare flag
        if isinstance(v, S.Word):
            if v.name == "On":
                return True
            if v.name == "Off":
                return False
        raise self.error(f"“{opt.label_text or opt.label}” takes On or Off", opt.pos)

    def target(self, opt: S.Option | None, what: str = "a variable or a field") -> Callable:
        """A setter ``(f, value) → None`` for ``$x``, ``$$x``, ``$x[n]`` or ``Table::Field[n]``."""
        if opt is None or not isinstance(opt.value, S.Calc):
            raise self.error(f"{what} is expected here" + (f", not “{opt.value.text}”"
                                                          if opt is not None and isinstance(opt.value, S.Raw)
                                                          else ""), opt.pos if opt else None)
        node = opt.value.node
        if isinstance(opt.value, S.Missing):  # a deleted field: setting it fails as a missing field does (102)
            node = C.Field(None, opt.value.text)
        if isinstance(node, C.Var):
            name = node.name
            if len(name.lstrip("$")) == 0:
                raise self.error("a variable needs a name after “$”", opt.pos)
            is_global = name.startswith("$$")
            rep = self._rep(node.rep)
            return make_var_setter(name, is_global, rep)
        if isinstance(node, (C.Field, C.Name)):
            table = node.table if isinstance(node, C.Field) else None
            fname = node.name
            rep = self._rep(node.rep) if isinstance(node, C.Field) else None

            def set_field(f, value, rep_override=None):
                r = rep_override if rep_override is not None else (int(to_num0(rep(f))) if rep else 1)
                f.session.data.set_field(f, table, fname, max(r, 1), value)
            return set_field
        raise self.error(f"{what} is expected here", opt.pos)

    def _rep(self, node) -> Callable | None:
        """The closure of a repetition number (``$x[n]``, ``T::F[n]``), None when there is none."""
        if node is None:
            return None
        return compile_node(node, "", self.source, functions=self.functions).evaluate


def _printed_list(text: str) -> bool:
    """``[ Products ; Orders ]``, ``[  ]``: a list as FileMaker prints it (kept as text for the step to read)."""
    t = text.strip()
    return t[:1] in ("[", "［") and t[-1:] in ("]", "］")


def make_var_setter(name: str, is_global: bool, rep=None):
    key1 = var_key(name)

    def set_var(f, value, rep_override=None):
        r = rep_override if rep_override is not None else (int(to_num0(rep(f))) if rep else 1)
        key = key1 if r == 1 else var_key(name, max(r, 1))
        if is_global:
            f.session.globals[key] = value
            f.session.global_names.setdefault(key, name if r == 1 else f"{name}[{r}]")
        else:
            f.locals[key] = value
            f.local_names.setdefault(key, name if r == 1 else f"{name}[{r}]")
    return set_var


def compile_script(script: S.Script, source: Source, trace=None, errors: list[FMScriptError] | None = None, *,
                   steps: StepTable, functions: dict | None = None,
                   warnings: list[FMScriptError] | None = None) -> CompiledScript:
    """Compile one script against the step table ``steps`` (and calculation ``functions``); with
    ``errors`` given, problems are collected there instead of raised; ``warnings`` gets a
    :class:`CheckWarning` for each step saved without a required option (it compiles to its run-time error)."""
    c = StepCompiler(source, trace, functions)
    c.errors = errors
    c.warnings = warnings
    c.steps = steps
    code: list[Instr] = []
    c.code = code
    steps: list[S.Step] = []
    blocks: list[dict] = c.blocks

    internal: set[int] = set()

    def emit(fn: Instr, st: S.Step, hidden: bool = False) -> int:
        code.append(fn)
        steps.append(st)
        if hidden:
            internal.add(len(code) - 1)  # a jump at the end of a branch: not a step a user wrote
        return len(code) - 1

    for st in script.steps:
        if st.disabled or st.name == "# (Comment)":
            continue
        c.step = st
        try:
            _compile_step(st, c, code, steps, blocks, emit)
        except FMScriptError as e:
            if errors is None:
                raise
            e.with_span(source.span(st.pos), st.name)
            errors.append(e)
            emit(_unavailable(st.name), st)
    spans = [source.span(s.pos) for s in steps]
    if trace is not None:
        code = [fn if i in internal else trace(fn, st, sp)
                for i, (fn, st, sp) in enumerate(zip(code, steps, spans))]
    return CompiledScript(script.name, code, steps, source, spans)


def _compile_step(st, c, code, steps, blocks, emit):
    """Control steps become jumps patched when their block closes; other steps their compiled closure."""
    name = st.name
    if name == "If":
        cond = _cond(st, c)
        cell = [0]
        emit(_jump_unless(cond, cell), st)
        blocks.append({"kind": "If", "false": cell, "ends": []})
    elif name == "Else If":
        b = blocks[-1]
        end = [0]
        emit(_jump(end), st, True)  # end of the previous branch
        b["ends"].append(end)
        b["false"][0] = len(code)
        cond = _cond(st, c)
        cell = [0]
        emit(_jump_unless(cond, cell), st)
        b["false"] = cell
    elif name == "Else":
        b = blocks[-1]
        end = [0]
        emit(_jump(end), st, True)
        b["ends"].append(end)
        b["false"][0] = len(code)
        b["false"] = None
        emit(_nop, st)
    elif name == "End If":
        b = blocks.pop()
        here = len(code)
        if b["false"] is not None:
            b["false"][0] = here
        for e in b["ends"]:
            e[0] = here
        emit(_nop, st)
    elif name == "Loop":
        emit(_nop, st)
        blocks.append({"kind": "Loop", "start": len(code), "exits": []})
    elif name == "Exit Loop If":
        loop = next(b for b in reversed(blocks) if b["kind"] == "Loop")
        cond = _cond(st, c)
        cell = [0]
        loop["exits"].append(cell)
        emit(_jump_if(cond, cell), st)
    elif name == "End Loop":
        b = blocks.pop()
        emit(_jump([b["start"]]), st)
        for e in b["exits"]:
            e[0] = len(code)
    else:
        d = c.steps.get(name)
        if d is None or d.compile is None:
            emit(_unavailable(name), st)
        else:
            try:
                run = d.compile(st, c)
            except IncompleteStep as e:
                run = _incomplete(st, c, e)
            emit(run if d.guard is None else d.guard(run), st)


def _incomplete(st: S.Step, c: StepCompiler, e: IncompleteStep) -> Instr:
    """The step FileMaker keeps without its option: a warning at the step, and its error when it runs."""
    if c.warnings is not None:
        c.warnings.append(CheckWarning(f"{e.message}; FileMaker saves the step so, and running it fails",
                                       code=e.code, span=c.source.span(st.pos), step=st.name))
    msg, code = e.message, e.code

    def run(f):
        raise StepError(msg, code=code)
    return run


def _cond(st: S.Step, c: StepCompiler):
    """The condition closure of If / Else If / Exit Loop If.  A bad condition is reported, and the
    block structure is still built, so that the rest of the script can be checked."""
    try:
        opts = [o for o in st.options if o.value is not None]
        if all(o.value is None and o.label is None for o in st.options):
            # FileMaker saves If [ ] with no calculation; an empty calculation's result is false (Claris is
            # silent on it), so the branch is skipped and the loop goes on, with no error.
            if c.warnings is not None:
                c.warnings.append(CheckWarning(f"{st.name} has no condition; FileMaker saves the step so, and an "
                                               "empty condition is false", span=c.source.span(st.pos),
                                               step=st.name))
            return lambda f: ""
        if len(opts) != 1:
            raise c.error(f"{st.name} needs one condition: {st.name} [ calculation ]")
        return c.calc(opts[0])
    except FMScriptError as e:
        if c.errors is None:
            raise
        c.errors.append(e.with_span(c.source.span(st.pos), st.name))

        def failed(f):
            raise StepError(f"{st.name} has no valid condition", code=E_CALC_SYNTAX)
        return failed


def _nop(f):
    return None


def _jump(cell):
    return lambda f: cell[0]


def _jump_unless(cond, cell):
    def run(f):
        v = cond(f)
        if v.__class__ is not str and v:
            return None
        return None if to_bool(v) else cell[0]
    return run


def _jump_if(cond, cell):
    def run(f):
        return cell[0] if to_bool(cond(f)) else None
    return run


def _unavailable(name: str):
    def run(f):
        raise StepError(f"“{name}” is not available in fmscript (command is unavailable)",
                        code=E_COMMAND_UNAVAILABLE)
    return run
