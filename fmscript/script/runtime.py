"""Run-time state: the session ($$ variables, last error, scripts, data, accounts, the interpreter's
function and provider tables) and one frame per script call ($ variables, parameter, error capture)."""
from __future__ import annotations

import tempfile
from pathlib import Path
from collections.abc import Callable

from ..data.protocol import DeferredDataLayer
from ..errors import CalcError, FMScriptError


class NoData(DeferredDataLayer):
    """The session's file until a step or calculation touches data: then a fresh in-memory database.

    Creating it on first use keeps ``import fmscript`` and scripts without fields free of sqlite and the
    data layer (start-up time matters).  The protocol's members come from :class:`DeferredDataLayer`
    (``path``, ``end_run``, ``close`` and ``solution_script_paths`` open nothing); other names of the database
    are forwarded.
    """

    __slots__ = ("_session", "_db")

    def __init__(self, session=None):
        self._session = session
        self._db = None

    def opened(self):
        return self._db

    def open(self):
        db = self._db
        if db is None:
            # One database for the session, also for callers still holding this placeholder.
            from ..data import open_database
            db = self._db = open_database(None)
            if self._session is not None:
                self._session.data = db
        return db

    def __getattr__(self, name):
        """A name of the database outside the protocol (the protocol's members are the base's)."""
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.open(), name)


class Session:
    """Everything that lives for one run of fmscript (FileMaker: the file's session)."""

    def __init__(self, *, on_dialog: Callable[[str, str], None] | None = None,
                 on_step: Callable | None = None, data=None, functions: dict | None = None,
                 providers: dict | None = None):
        self.globals: dict[str, object] = {}
        self.global_names: dict[str, str] = {}  # key → name as written, for display
        self.data = data if data is not None else NoData(self)
        self.last_error = 0
        self.last_error_detail = ""
        self.last_error_location = ""
        self.last_message_choice = 1
        self.script_result: object = ""
        self.allow_abort = True
        self.scripts: dict[str, object] = {}  # casefolded name → CompiledScript
        # find_script(session, name): a script the loaded files lack, loaded on first use (the interpreter's:
        # the other files of an imported solution); None when there is none.  Use :meth:`script`.
        self.find_script: Callable | None = None
        # solution_names(session): the names find_script can find (the interpreter's); None when there is none.
        # Use :meth:`script_names`.
        self.solution_names: Callable | None = None
        self.accounts: dict[str, object] = {}
        self.on_dialog = on_dialog
        self.on_step = on_step
        self.trace: Callable | None = None
        self.base_dir: Path = Path.cwd()
        self.call_depth = 0
        self._runtime_calcs: dict[tuple, object] = {}
        self._temp: Path | None = None
        self.extensions: dict[str, object] = {}  # per-subsystem state (AI jobs, windows…)
        # The interpreter's registries (None: the built-ins): Evaluate and Configure AI Account use them.
        self.functions = functions
        self.providers = providers
        self.data_attached: object = None  # the database whose steps last attached this session

    def script(self, name: str):
        """The script ``name`` of the file's catalogue (case-insensitive, as FileMaker), or None: every step and
        face that performs a script by name asks here, so a script of another file of the solution is found
        too.  A file that does not load raises its error (FileMaker's number, that file's line and column)."""
        cs = self.scripts.get(name.casefold())
        if cs is None and self.find_script is not None:
            cs = self.find_script(self, name)
        return cs

    def script_names(self) -> list[str]:
        """The names of the file's catalogue: the loaded scripts', then the solution's not loaded yet, so a
        "did you mean" hint offers a script of another file too."""
        names = [cs.name for cs in self.scripts.values()]
        if self.solution_names is not None:
            seen = {n.casefold() for n in names}
            names += [n for n in self.solution_names(self) if n.casefold() not in seen]
        return names

    def note_calc_error(self, code: int, detail: str) -> None:
        self.last_error_detail = detail

    def compile_runtime_calc(self, text: str, let_names: frozenset[str]):
        """Compile text given to Evaluate; cached, since loops evaluate the same text again."""
        key = (text, let_names)
        calc = self._runtime_calcs.get(key)
        if calc is None:
            from ..calc.compile import compile_calc
            try:
                calc = compile_calc(text, let_names=let_names, functions=self.functions)
            except FMScriptError as e:
                raise CalcError(e.message, code=e.code or 1204) from None
            if len(self._runtime_calcs) > 1000:
                self._runtime_calcs.clear()
            self._runtime_calcs[key] = calc
        return calc

    def temporary_path(self) -> Path:
        """Get ( TemporaryPath ): one folder per session, removed with the session or at exit (also after a
        failed or interrupted run), as FileMaker removes its temporary folder when it quits."""
        if self._temp is None:
            import shutil
            import weakref
            self._temp = Path(tempfile.mkdtemp(prefix="fmscript-"))
            weakref.finalize(self, shutil.rmtree, str(self._temp), ignore_errors=True)
        return self._temp

    def file_path(self):
        return self.data.path()


class Frame:
    """One script call: its $ variables, Let bindings, parameter and error-capture state."""

    __slots__ = ("session", "locals", "let", "param", "script_name", "error_capture", "local_names")

    def __init__(self, session: Session, script_name: str = "", param: object = "", error_capture: bool = False):
        self.session = session
        self.locals: dict[str, object] = {}
        self.local_names: dict[str, str] = {}
        self.let: dict[str, object] = {}
        self.param = param
        self.script_name = script_name
        self.error_capture = error_capture

    def variable_text(self, name: str) -> str:
        """A ``$``/``$$`` variable's value as text: a FileMaker path list may name one on a line."""
        from ..calc.compile import var_key
        from ..calc.values import to_text

        scope = self.session.globals if name.startswith("$$") else self.locals
        return to_text(scope.get(var_key(name), ""))
