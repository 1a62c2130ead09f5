"""The embedding API: one object wires parse → compile → run for the CLI, the REPL and Python programs.

    >>> from fmscript import Interpreter
    >>> fm = Interpreter()
    >>> fm.run_text('Exit Script [ Text Result: 6 * 7 ]')
    '42'
"""
from __future__ import annotations

import re
import sys
import threading
from pathlib import Path
from collections.abc import Callable, Iterable

from .calc.compile import compile_calc, var_key
from .calc.functions import registry as builtin_functions
from .calc.values import to_text
from .errors import E_SCRIPT_MISSING, ErrorList, FMScriptError, ScriptHalted, StepError, UsageError
from .script.cache import parse_cached
from .script.check import missing_script_message
from .script.compile import CompiledScript, compile_script
from .script.parse import parse_collect
from .script.run import execute
from .script.runtime import Frame, NoData, Session
from .script.solution import Solution
from .script.steps import builtin_steps
from .script.steptable import StepTable


class Interpreter:
    """Runs fmscript text and files, evaluates calculations and holds the session's $$ variables.

    ``on_dialog(title, message)`` receives Show Custom Dialog (default: print to stdout).
    ``trace`` may be True (print each step and the variables it changed to stderr) or a callable
    ``trace(event)``; ``on_step(event)`` receives the same events (``path``, ``line``, ``step``,
    ``script``, ``changed``).  ``on_job_progress(event)`` receives fine-tuning progress while a script
    waits for a job.  ``file`` opens a SQLite database as the FileMaker file (default: in memory).
    """

    def __init__(self, *, file: str | Path | None = None, on_dialog: Callable[[str, str], None] | None = None,
                 trace: bool | Callable[[dict], None] = False, base_dir: str | Path | None = None,
                 on_step: Callable[[dict], None] | None = None,
                 on_job_progress: Callable[[dict], None] | None = None):
        #: This interpreter's steps and calculation functions: copies of the built-in tables.
        self.steps: StepTable = builtin_steps().copy()
        self.functions: dict = dict(builtin_functions())
        self.session = Session(on_dialog=on_dialog if on_dialog is not None else _print_dialog, on_step=on_step,
                               functions=self.functions)
        if on_job_progress is not None:
            self.session.extensions["on_job_progress"] = on_job_progress
        if base_dir is not None:
            self.session.base_dir = Path(base_dir)
        self._trace = trace
        self._loaded: list[tuple[str, str, str | None]] = []
        self._frame: Frame | None = None
        # An imported solution's other scripts: the script files loaded (where ROOT is looked for), the
        # solution's rows by database path, and the files that did not load (not parsed again each time).
        self._script_files: list[Path] = []
        self._solution_rows: dict[str, list[tuple[str, str]]] = {}
        self._solutions: dict[tuple, Solution | None] = {}
        self._unloadable: dict[tuple, FMScriptError] = {}
        self._solution_lock = threading.RLock()  # server scripts run in threads
        self.session.find_script = self._find_solution_script
        self.session.solution_names = self._solution_script_names
        if file is not None:
            self.open_database(file)

    # -- data -------------------------------------------------------------------------------------------
    def open_database(self, path: str | Path | None) -> None:
        """Use a SQLite file (``None``: a fresh in-memory database) as the FileMaker file."""
        try:
            from .data import open_database
        except ImportError as e:  # the data layer is not installed in this build
            raise UsageError(f"databases are not available: {e}") from None
        self.close()
        self.session.data = open_database(path)
        self._solution_rows.clear()
        self._solutions.clear()
        self._unloadable.clear()

    @property
    def database(self):
        """The open database, or None while nothing has touched data yet."""
        return self.session.data.opened()

    def close(self) -> None:
        """Commit what is still open and close the database (the session stays usable)."""
        data = self.session.data
        data.end_run(True)
        data.close()
        self.session.data = NoData(self.session)

    def __enter__(self) -> "Interpreter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- scripts ----------------------------------------------------------------------------------------
    def load_text(self, text: str, path: str = "<text>", default_name: str | None = None) -> list[str]:
        """Parse and compile text; its scripts become callable by name, its custom functions
        (``Function`` … ``End Function``) callable by this interpreter's calculations.  Returns the scripts'
        names."""
        compiled = self._compile_text(text, path, default_name)
        for cs in compiled:
            self.session.scripts[cs.name.casefold()] = cs
        self._loaded = [x for x in self._loaded if x[:2] != (text, path)] + [(text, path, default_name)]
        if not path.startswith("<") and (p := Path(path)).is_file() and p not in self._script_files:
            self._script_files.append(p)
        return [cs.name for cs in compiled]

    def _compile_text(self, text: str, path: str, default_name: str | None) -> list[CompiledScript]:
        text, cf_errors = self.custom_functions(text, path)
        if cf_errors:
            raise ErrorList(cf_errors)
        try:
            sf = parse_cached(text, path, default_name, steps=self.steps)
        except ErrorList:
            # Report what `check` reports (compile errors beside the parse errors), not the first kind only.
            raise ErrorList(self.check_text(text, path, default_name, run_time=False)[1]) from None
        errors: list[FMScriptError] = []
        compiled = [self.compile(s, sf.source, errors) for s in sf.scripts]
        if errors:
            raise ErrorList(errors)
        return compiled

    def load_file(self, path: str | Path) -> list[str]:
        from .source import decode_script

        p = Path(path)
        try:
            text = decode_script(p.read_bytes(), str(path))
        except OSError as e:
            raise UsageError(f"cannot read {p}: {e.strerror or e}") from None
        self.session.base_dir = p.resolve().parent
        return self.load_text(text, str(path), p.stem)

    def check_text(self, text: str, path: str = "<text>", default_name: str | None = None, *,
                   run_time: bool = True, known_scripts: Iterable[str] = ()):
        """What ``fmscript check`` reports: ``(script_file, problems)``, every error and warning of the text in
        line order, found as :meth:`load_text` and a run would find them (parse, compile and, unless
        ``run_time`` is false, the scripts that Perform Script names: loaded ones, those of the imported
        solution the file at ``path`` belongs to, and ``known_scripts``).  Nothing runs."""
        from .script.check import check_script_file

        functions = dict(self.functions)  # checking defines no function in this interpreter
        text, cf_errors = self.custom_functions(text, path, functions)
        sf, errors = self.parse(text, path, default_name)
        errors = cf_errors + errors
        # A step saved without a required option fails only when it runs: a warning, unless run_time is false.
        return sf, check_script_file(sf, errors, lambda s, errs: compile_script(s, sf.source, None, errs,
                                                                                steps=self.steps,
                                                                                functions=functions,
                                                                                warnings=errs if run_time else None),
                                     known_scripts=[*self.script_names, *self._solution_names(path),
                                                    *known_scripts],
                                     run_time=run_time)

    @property
    def script_names(self) -> list[str]:
        return [cs.name for cs in self.session.scripts.values()]

    def script(self, name: str) -> CompiledScript | None:
        """The script ``name`` as Perform Script finds it: a loaded one, or one of the imported solution the
        loaded files belong to (loaded now); None when there is none.  A file that does not load raises."""
        return self.session.script(name)

    def run_script(self, name: str, param: object = "") -> str:
        """Run a script by name (loaded, or of the loaded files' solution); returns its Exit Script result."""
        cs = self.session.script(name)
        if cs is None:
            raise FMScriptError(missing_script_message(name, self.session.script_names()), code=E_SCRIPT_MISSING)
        return to_text(self._execute(cs, Frame(self.session, cs.name, param)))

    def run_text(self, text: str, param: object = "", script: str | None = None, path: str = "<text>") -> str:
        names = self.load_text(text, path)
        return self.run_script(script or names[0], param)

    def run_file(self, path: str | Path, param: object = "", script: str | None = None) -> str:
        names = self.load_file(path)
        return self.run_script(script or names[0], param)

    # -- an imported solution's other scripts -----------------------------------------------------------------
    def solution(self, script_file: str | Path | None = None, data=None) -> Solution | None:
        """The imported solution (``fmscript import-xml``) that ``script_file`` (default: the script files
        loaded, the latest first) belongs to in the open database, or None: see fmscript/script/solution.py."""
        data = self.session.data if data is None else data
        key = data.path()
        if key is None:  # in memory: nothing was imported into it
            return None
        with self._solution_lock:
            rows = self._solution_rows.get(key)
            if rows is None:
                rows = self._solution_rows[key] = data.solution_script_paths()
        if not rows:
            return None
        if script_file is not None:
            return Solution.find(script_file, rows)
        cache_key = (key, tuple(self._script_files))  # a loop that performs a missing script asks each time
        if cache_key not in self._solutions:
            self._solutions[cache_key] = next(
                (sol for f in reversed(self._script_files) if (sol := Solution.find(f, rows)) is not None), None)
        return self._solutions[cache_key]

    def _solution_names(self, path: str) -> list[str]:
        """The names ``check`` knows from the solution of the file at ``path`` (none for text)."""
        if path.startswith("<") or not Path(path).is_file():
            return []
        sol = self.solution(path)
        return sol.names() if sol is not None else []

    def _solution_script_names(self, session: Session) -> list[str]:
        """``session.solution_names``: the names of the solution's scripts whose files exist (loaded or not)."""
        sol = self.solution(data=session.data)
        return sol.names() if sol is not None else []

    def _find_solution_script(self, session: Session, name: str) -> CompiledScript | None:
        """``session.find_script``: the solution's file of the script ``name``, loaded through the parse cache
        on first use and registered in the session's catalogue (FileMaker: one catalogue per file)."""
        sol = self.solution(data=session.data)
        file = sol.path_of(name) if sol is not None else None
        if file is None:
            return None
        with self._solution_lock:
            cs = session.scripts.get(name.casefold())  # another thread may have loaded it meanwhile
            if cs is not None:
                return cs
            try:  # a file edited since it failed (in a REPL), or missing, is read again
                st = file.stat()
                version: tuple | None = (str(file), st.st_mtime_ns, st.st_size)
            except OSError:
                version = None
            error = self._unloadable.get(version) if version is not None else None
            if error is None:
                try:
                    for cs in self._load_solution_file(file, name, sol.listed_as(name) or ""):
                        session.scripts.setdefault(cs.name.casefold(), cs)  # a loaded script stays itself
                    cs = session.scripts.get(name.casefold())
                    if cs is not None:
                        return cs
                    error = StepError(f"{file} does not define the script “{name}” that the imported "
                                      "solution lists there", code=E_SCRIPT_MISSING)
                except StepError as e:
                    error = e
                if version is not None:
                    self._unloadable[version] = error
            # A new exception each time: the step that raises it gets its own span.
            raise StepError(error.message, code=error.code)

    def _load_solution_file(self, file: Path, name: str, listed: str) -> list[CompiledScript]:
        from .source import decode_script

        display = str(file)
        try:
            text = decode_script(file.read_bytes(), display)
            compiled = self._compile_text(text, display, file.stem)
        except FileNotFoundError:
            raise StepError(f"the script “{name}” is listed in the imported solution as “{listed}”, but "
                            f"{display} is not there", code=E_SCRIPT_MISSING) from None
        except OSError as e:
            raise StepError(f"cannot read {display}, the file of the script “{name}”: {e.strerror or e}",
                            code=E_SCRIPT_MISSING) from None
        except FMScriptError as e:
            errors = e.errors if isinstance(e, ErrorList) else [e]
            shown = "; ".join(_located(x) for x in errors[:3])
            more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
            raise StepError(f"the script “{name}” does not load: {shown}{more}",
                            code=errors[0].code or E_SCRIPT_MISSING) from None
        self._loaded.append((text, display, file.stem))
        return compiled

    def new_frame(self, param: object = "", script_name: str = "") -> Frame:
        """A frame of its own ``$`` variables, for :meth:`run_steps` and :meth:`evaluate` (a REPL keeps one)."""
        return Frame(self.session, script_name, param)

    def run_steps(self, text: str, frame: Frame | None = None, path: str = "<steps>"):
        """Run steps in ``frame`` (default: the interpreter's own), keeping its ``$`` variables between calls.

        Returns the Exit Script result (``""`` when there is none).  Scripts defined in the text with
        ``Script "Name"`` headers are loaded, and the first one run."""
        cs = self.compile_steps(text, path)
        return "" if cs is None else self._execute(cs, frame or self._scratch())

    def compile_steps(self, text: str, path: str = "<steps>", warnings: list | None = None) -> CompiledScript | None:
        """The first script of ``text`` compiled as :meth:`run_steps` runs it (None: no steps); the parser's
        warnings are added to ``warnings`` (a REPL shows them).  Raises :class:`ErrorList`."""
        text, cf_errors = self.custom_functions(text, path)
        if cf_errors:
            raise ErrorList(cf_errors)
        sf, parse_errors = self.parse(text, path, "steps")
        if warnings is not None:
            warnings.extend(sf.warnings)
        if parse_errors:
            raise ErrorList(parse_errors)
        errors: list[FMScriptError] = []
        compiled = [self.compile(s, sf.source, errors, warnings) for s in sf.scripts]
        if errors:
            raise ErrorList(errors)
        return compiled[0] if compiled else None

    def custom_functions(self, text: str, path: str = "<text>", functions: dict | None = None):
        """Register the text's custom functions (``Function "Name" ( a ; b )`` … ``End Function``) in
        ``functions`` (default: this interpreter's table); returns the text with those blocks blanked
        out (positions unchanged) and the errors found in them."""
        if "unction" not in text and "函数" not in text:
            return text, []
        from .script.custom_functions import register_functions, split_functions
        from .source import Source

        source = Source(path, text)
        blanked, defs, errors = split_functions(text, source)
        errors += register_functions(defs, self.functions if functions is None else functions, source,
                                     builtin_functions())
        return blanked, errors

    def parse(self, text: str, path: str = "<text>", default_name: str | None = None):
        """Parse without raising: ``(ScriptFile, errors)`` against this interpreter's steps (``check``)."""
        return parse_collect(text, path, default_name, steps=self.steps)

    def compile(self, script, source, errors: list[FMScriptError] | None = None,
                warnings: list[FMScriptError] | None = None) -> CompiledScript:
        """Compile one parsed script with this interpreter's steps, functions and tracing; with ``errors``
        given, problems are collected there instead of raised (``warnings``: the steps saved without a
        required option, which fail when they run)."""
        return compile_script(script, source, self.tracer(), errors, steps=self.steps, functions=self.functions,
                              warnings=warnings)

    def run_compiled(self, cs: CompiledScript, frame: Frame | None = None, *, halt: bool = False):
        """Run a compiled script as a top-level script in ``frame``; returns its Exit Script result.
        With ``halt=True`` a Halt Script raises :class:`ScriptHalted` (after the run has ended) instead of
        returning ``""``, for a caller that says so."""
        return self._execute(cs, frame or self._scratch(), halt)

    def _execute(self, cs: CompiledScript, frame: Frame, halt: bool = False):
        ok = False
        try:
            result = execute(cs, frame)
            ok = True
            return result
        except ScriptHalted:
            ok = True
            if halt:
                raise
            return ""
        finally:
            # The top-level script ended: commit the open record when it succeeded, revert it when it failed
            # (FileMaker would keep it open for the user; a command line has nobody to ask).
            self.session.data.end_run(ok)
            self._after_run(ok)

    def _after_run(self, ok: bool) -> None:
        """What steps scheduled for after the top-level script (``session.extensions["after_run"]``: callables
        taking ``ok``, such as the callbacks of Perform Script on Server with Callback), in order; after the
        first one that fails, the rest get ``ok=False``, and that error is raised."""
        error = None
        while hooks := self.session.extensions.pop("after_run", None):
            for hook in hooks:
                try:
                    hook(ok and error is None)
                except FMScriptError as e:
                    error = error or e
        if error is not None:
            raise error

    # -- calculations and variables ---------------------------------------------------------------------
    def evaluate(self, calc: str, frame: Frame | None = None, path: str = "<calculation>"):
        """Evaluate a calculation in the session (``$`` variables of ``frame``, else of the interpreter's
        frame).  A syntax error raises ParseError with ``path``, line and column; a run-time error gives
        ``?`` as in FileMaker (the reason is in ``Get ( LastErrorDetail )``)."""
        from .source import Source
        c = compile_calc(calc, Source(path, calc), functions=self.functions)
        return c.evaluate(frame or self._scratch())

    def _scratch(self) -> Frame:
        if self._frame is None:
            self._frame = Frame(self.session, "")
        return self._frame

    def get_global(self, name: str):
        """The value of a ``$$`` variable (``$$`` optional in ``name``), or ``""``."""
        return self.session.globals.get(var_key(_global_name(name)), "")

    def set_global(self, name: str, value) -> None:
        from .calc.values import num
        n = _global_name(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = num(value)
        self.session.globals[var_key(n)] = value
        self.session.global_names[var_key(n)] = n

    @property
    def globals(self) -> dict[str, object]:
        """``$$`` variables by the name first used for them."""
        names = self.session.global_names
        return {names.get(k, k): v for k, v in self.session.globals.items()}

    def variables(self, frame: Frame | None = None) -> dict[str, object]:
        """``$`` variables of ``frame`` (default: the interpreter's own) by the name first used for them."""
        f = frame or self._scratch()
        return {f.local_names.get(k, "$" + k.lstrip("$")): v for k, v in f.locals.items()}

    # -- extending fmscript -----------------------------------------------------------------------------
    # Each interpreter has its own copies of the step, function and provider tables (as jinja's
    # Environment copies DEFAULT_FILTERS): registering extends this interpreter only.
    def register_function(self, signature: str, fn: Callable, *, mode: str = "value", lists: bool = False,
                          volatile: bool = False, category: str = "user") -> None:
        """Make a Python function a calculation function: ``register_function("Double ( x )", f)``.

        ``fn`` gets FileMaker values (text ``str``, numbers ``Decimal``…) and returns one; ``mode="context"``
        passes the running frame first.  A name that exists is replaced (in this interpreter)."""
        from .calc.functions import define_function
        d = define_function(signature, fn, mode=mode, lists=lists, volatile=volatile, category=category)
        for n in (d.name, *d.names):
            self.functions[n.casefold()] = d

    def register_step(self, name: str, compile_fn: Callable, *, labels=(), zh: tuple[str, ...] = (),
                      calc_labels: tuple[str, ...] | None = None, syntax: str = "", note: str = "",
                      validate: Callable | None = None, guard: Callable | None = None) -> None:
        """Add a script step to this interpreter: ``compile_fn(step, compiler)`` returns ``run(frame)``
        (see fmscript/script/steps/control.py).

        ``labels`` are option names, or pairs / a dict giving their zh-Hans names
        (``{"Message": "消息"}``); ``zh`` the step's zh-Hans names; ``note`` where it differs from
        FileMaker; ``validate(step)`` checks it at parse time, ``guard(run) -> run`` wraps what it runs."""
        from .script.steps import define
        from .script.steptable import parse_labels
        names, label_zh = parse_labels(labels)
        d = define(name, compile_fn, labels=names, calc_labels=calc_labels, validate=validate, guard=guard,
                   note=note, zh=tuple(zh), label_zh=label_zh)
        self.steps.add(d, syntax=syntax or name)

    def register_provider(self, name: str, factory: Callable) -> None:
        """Make ``Model Provider: <name>`` available in this interpreter; ``factory(account)`` returns an
        object with ``fine_tune``, ``job_status``, ``wait``, ``cancel`` and ``chat`` (see fmscript.ai.accounts)."""
        session = self.session
        if session.providers is None:
            from .ai.accounts import PROVIDERS
            session.providers = dict(PROVIDERS)
        session.providers[name.casefold()] = factory
        self.steps.add_constant(name)

    # -- tracing ----------------------------------------------------------------------------------------
    @property
    def trace(self):
        return self._trace

    @trace.setter
    def trace(self, value: bool | Callable[[dict], None]) -> None:
        """Tracing is compiled into the steps: scripts loaded so far are compiled again."""
        self._trace = value
        base_dir = self.session.base_dir
        for text, path, default_name in list(self._loaded):
            try:
                self.load_text(text, path, default_name)
            except FMScriptError:
                pass
        self.session.base_dir = base_dir

    def tracer(self):
        """The step wrapper that reports trace and ``on_step`` events (None when nobody listens)."""
        if not self._trace and self.session.on_step is None:
            self.session.trace = None
            return None
        sink = self._trace if callable(self._trace) else (_print_trace if self._trace else None)
        session = self.session
        session.trace = sink  # steps that report during their run (a streamed answer) use it too

        def wrap(fn, st, span):
            def traced(f):
                before_l, before_g = dict(f.locals), dict(session.globals)
                try:
                    return fn(f)
                finally:
                    changed = {}
                    for k, v in f.locals.items():
                        if before_l.get(k, _MISSING) != v or type(before_l.get(k)) is not type(v):
                            changed[f.local_names.get(k, "$" + k.lstrip("$"))] = v
                    for k, v in session.globals.items():
                        if before_g.get(k, _MISSING) != v:
                            changed[session.global_names.get(k, k)] = v
                    event = {"path": span.path, "line": span.line, "step": st.name, "script": f.script_name,
                             "changed": changed}
                    if sink is not None:
                        sink(event)
                    if session.on_step is not None:
                        session.on_step(event)
            return traced
        return wrap


_MISSING = object()


def _located(e: FMScriptError) -> str:
    """An error on one line: ``file:line:col: message`` (the file is another than the step's)."""
    return f"{e.span.path}:{e.span.line}:{e.span.col}: {e.message}" if e.span is not None else e.message


def _global_name(name: str) -> str:
    return name if name.startswith("$$") else "$$" + name.lstrip("$")


def _print_dialog(title: str, message: str) -> None:
    out = sys.stdout
    if title:
        out.write(title.replace("\r\n", "\n").replace("\r", "\n") + "\n")
    out.write(message.replace("\r\n", "\n").replace("\r", "\n") + "\n")
    out.flush()


SECRET_NAME = re.compile(r"key|secret|token|password|passwd|密钥|密码", re.I)


def format_trace(event: dict) -> str:
    """A trace event as one line: ``path:line: Step  $x = '2'`` (secrets masked), for stderr or a REPL."""
    parts = [f"{event['path']}:{event['line']}: {event['step']}"]
    if "stream" in event:  # a piece of a streamed answer
        parts.append(f"streamed {short_value(event['stream'])}")
    for k, v in event["changed"].items():
        # A variable named like a secret is masked even before Configure AI Account has registered it.
        parts.append(f"{k} = {'••••' if SECRET_NAME.search(k) else short_value(v)}")
    from .redact import redact
    return redact("  ".join(parts))


def _print_trace(event: dict) -> None:
    sys.stderr.write(format_trace(event) + "\n")


def short_value(v) -> str:
    """A value as a trace line shows it: one line, at most 60 characters."""
    from .calc.values import to_text as t
    s = t(v).replace("\r", "¶").replace("\n", "¶")
    return repr(s if len(s) <= 60 else s[:57] + "...")
