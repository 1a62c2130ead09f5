"""``fmscript`` command line: run, check, repl, serve, jobs, models, db, conformance.

Exit codes (conventions.md): 0 ok; 1 script failed, job failed or check found problems; 2 usage or I/O
error; 70 internal error; 124 ``run --timeout`` ran out; 130 interrupted (Ctrl-C); 143 terminated (SIGTERM).
stdout carries only what scripts show; everything else goes to stderr.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from . import __version__
from .errors import ErrorList, FMScriptError, UsageError
from .redact import redact


def _color(stream) -> bool:
    return stream.isatty() and not os.environ.get("NO_COLOR")


def _report(e: FMScriptError) -> None:
    sys.stderr.write(redact(e.render(_color(sys.stderr))) + "\n")


def _read_script(path: str) -> tuple[str, str, str]:
    """(text, display path, default script name); ``-`` reads stdin."""
    from .source import decode_script

    if path == "-":
        return decode_script(sys.stdin.buffer.read(), "<stdin>"), "<stdin>", "stdin"
    p = Path(path)
    try:
        return decode_script(p.read_bytes(), path), path, p.stem
    except FileNotFoundError:
        raise UsageError(f"no such file: {path}") from None
    except IsADirectoryError:
        raise UsageError(f"{path} is a folder, not a script file") from None
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror or e}") from None


def cmd_run(args) -> int:
    if args.timeout is None:
        return _run(args)
    _stop_after(args.timeout)
    try:
        return _run(args)
    finally:
        _clear_timer()


def _run(args) -> int:
    from .interpreter import Interpreter

    text, path, default = _read_script(args.script)
    fm = Interpreter(file=args.file, trace=args.trace,
                     base_dir=Path(args.script).resolve().parent if args.script != "-" else Path.cwd())
    fm.session.detach = args.detach
    fm.session.extensions["show_job_progress"] = True  # job progress on stderr: a bar, or plain lines
    names = fm.load_text(text, path, default)
    name = args.script_name or names[0]
    if fm.script(name) is None:  # a script of another file of an imported solution is found too
        raise UsageError(f"{path} has no script named “{name}”; it has: " + ", ".join(names))
    try:
        fm.run_script(name, args.param or "")
    except FMScriptError:
        _finish_jobs(fm, args)
        raise
    return _finish_jobs(fm, args)


def _finish_jobs(fm, args) -> int:
    """A fine-tuning job started by this run, on any provider, is waited for (unless --detach)."""
    from .ai.waiting import finish_started_jobs, started_jobs

    if args.detach or not started_jobs(fm.session):
        return 0
    return finish_started_jobs(fm.session)


def cmd_check(args) -> int:
    from .errors import CheckWarning
    from .interpreter import Interpreter

    text, path, default = _read_script(args.script)
    check_names = None
    solution: list[str] = []
    if args.file:
        try:
            from .script.names import check_names, solution_script_names
            solution = solution_script_names(path, args.file)  # the other scripts of an imported solution
        except ImportError:
            pass
    sf, problems = Interpreter().check_text(text, path, default, known_scripts=solution)
    if check_names is not None:
        problems = sorted(problems + check_names(sf, args.file),
                          key=lambda e: (e.span.line, e.span.col) if e.span else (0, 0))
    color = _color(sys.stderr)
    for e in problems:
        sys.stderr.write(redact(e.render(color)) + "\n")
    errors = [e for e in problems if not isinstance(e, CheckWarning)]
    warnings = len(problems) - len(errors)
    steps = sum(len(s.steps) for s in sf.scripts)
    summary = (f"{path}: {len(sf.scripts)} script{'s' if len(sf.scripts) != 1 else ''}, {steps} steps, "
               f"{len(errors)} error{'s' if len(errors) != 1 else ''}, {warnings} warning"
               f"{'s' if warnings != 1 else ''}")
    sys.stderr.write(summary + "\n")
    return 1 if errors else 0


def cmd_repl(args) -> int:
    try:
        from .repl import main as repl_main
    except ImportError:
        raise UsageError("the REPL is not available in this build") from None
    return repl_main(args)


def cmd_conformance(args) -> int:
    from .conformance import report
    return report(args.rest)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="fmscript", description="Run FileMaker-style scripts (English and zh-Hans).")
    p.add_argument("--version", action="version", version=f"fmscript {__version__}")
    p.add_argument("--debug", action="store_true", help="show Python tracebacks (for fmscript developers)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    r = sub.add_parser("run", help="run a script file")
    r.add_argument("script", metavar="FILE", help="a .fmscript file, or - for stdin")
    r.add_argument("-f", "--file", metavar="DB", help="SQLite database to use as the FileMaker file")
    r.add_argument("--script", dest="script_name", metavar="NAME", help="the script to start (default: the first)")
    r.add_argument("--param", metavar="TEXT", help="the script parameter (Get ( ScriptParameter ))")
    r.add_argument("--trace", action="store_true", help="print each step and the variables it changed (stderr)")
    r.add_argument("--detach", action="store_true", help="do not wait for the fine-tuning jobs the script started")
    r.add_argument("--timeout", type=_seconds, metavar="SECONDS",
                   help=f"stop the run (exit {EXIT_TIMEOUT}) when it has taken this long, waiting for jobs included")
    r.set_defaults(func=cmd_run)

    c = sub.add_parser("check", help="parse and resolve a script file without running it")
    c.add_argument("script", metavar="FILE")
    c.add_argument("-f", "--file", metavar="DB", help="check table, field and layout names against this database")
    c.set_defaults(func=cmd_check)

    rp = sub.add_parser("repl", help="interactive session")
    rp.add_argument("-f", "--file", metavar="DB")
    rp.set_defaults(func=cmd_repl)

    cf = sub.add_parser("conformance", help="run FileMaker's calculation examples and print the pass rate")
    cf.add_argument("rest", nargs=argparse.REMAINDER)
    cf.set_defaults(func=cmd_conformance)

    # Commands of other subsystems register themselves when present (skipped for the core commands,
    # so that `fmscript run` does not pay for importing them).
    if command in ("run", "check", "conformance"):
        return p
    for module, attr in (("fmscript.ai.commands", "add_commands"), ("fmscript.data.commands", "add_commands"),
                         ("fmscript.server.commands", "add_commands"), ("fmscript.docgen", "add_commands"),
                         ("fmscript.fmxml.commands", "add_commands")):
        try:
            mod = __import__(module, fromlist=[attr])
        except ImportError as e:
            if e.name and module.startswith(e.name):
                continue
            if e.name == module:
                continue
            raise
        getattr(mod, attr)(sub)
    try:
        from .data import fielddef_commands
    except ImportError:  # the data layer is not installed in this build
        return p
    fielddef_commands.session_factory = _calculation_session
    return p


def _calculation_session(db):
    """A session that evaluates the field calculations of ``db`` for ``fmscript db`` (handed to the data
    layer, which never imports the script language)."""
    from .interpreter import Interpreter

    session = Interpreter().session
    session.data = db
    return session


EXIT_INTERNAL = 70  # a bug in fmscript, not in the script (sysexits' EX_SOFTWARE)
EXIT_TIMEOUT = 124  # run --timeout ran out (what timeout(1) returns)
EXIT_TERMINATED = 143  # SIGTERM (128 + 15), as a shell reports a process that signal ended


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv and sys.stdin.isatty() and sys.stdout.isatty():
        argv = ["repl"]
    parser = build_parser(argv[0] if argv else None)
    args = parser.parse_args(argv)
    func = getattr(args, "func", None) or getattr(args, "handler", None)
    if func is None:
        parser.print_help(sys.stderr)
        return 2
    restore = _terminate_cleanly()
    try:
        return func(args)
    except KeyboardInterrupt:
        sys.stderr.write("fmscript: interrupted\n")
        return 130
    except Terminated:
        sys.stderr.write("fmscript: terminated\n")
        return EXIT_TERMINATED
    except TimedOut as e:
        sys.stderr.write(f"fmscript: the run took longer than --timeout {e.args[0]:g} seconds and was stopped\n")
        return EXIT_TIMEOUT
    except UsageError as e:
        _report(e)
        return 2
    except FMScriptError as e:
        _report(e)
        return 1
    except BrokenPipeError:
        return _broken_pipe()
    except Exception as e:  # a bug in fmscript: say so in one line unless --debug
        if args.debug or os.environ.get("FMSCRIPT_DEBUG"):
            raise
        sys.stderr.write(f"fmscript: internal error: {e.__class__.__name__}: {e} "
                         "(run with --debug for details)\n")
        return EXIT_INTERNAL
    finally:
        restore()


class Terminated(BaseException):
    """SIGTERM arrived (``kill``): unwinds like Ctrl-C, so the run reverts its open record and the exit
    handlers remove its ``Get ( TemporaryPath )`` folder, which Python's default SIGTERM (an immediate end)
    would leave behind."""


def _terminate_cleanly():
    """Turn SIGTERM into :class:`Terminated` while a command runs; returns what puts the old handler back.
    A second SIGTERM during the clean-up ends the process at once."""
    import signal

    def on_term(signum, frame):
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        raise Terminated()

    try:
        previous = signal.signal(signal.SIGTERM, on_term)
    except ValueError:  # not the main thread (an embedding program calls main): leave signals alone
        return lambda: None
    return lambda: signal.signal(signal.SIGTERM, previous)


class TimedOut(BaseException):
    """``run --timeout`` ran out: unwinds like SIGTERM (the open record is reverted, temporary files removed)."""


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value < 1e9:
        raise argparse.ArgumentTypeError(f"--timeout takes a number of seconds above 0, not “{text}”")
    return value


def _stop_after(seconds: float) -> None:
    """Raise :class:`TimedOut` in the main thread once ``seconds`` of wall-clock time have passed (a timer
    signal, so a long calculation or a wait for a job is interrupted too); ``main`` clears it at the end."""
    import signal

    def on_alarm(signum, frame):
        raise TimedOut(seconds)

    try:
        signal.signal(signal.SIGALRM, on_alarm)
    except (ValueError, AttributeError):  # not the main thread, or no SIGALRM (Windows): no budget
        return
    signal.setitimer(signal.ITIMER_REAL, seconds)


def _clear_timer() -> None:
    import signal

    if hasattr(signal, "setitimer"):
        signal.setitimer(signal.ITIMER_REAL, 0)


def _broken_pipe() -> int:
    """The reader of our output went away (``fmscript jobs list | head -1``): stop quietly, as Python's docs
    advise, pointing stdout at /dev/null so the interpreter's final flush cannot complain."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return 0


def entry() -> None:
    try:
        code = main()
        sys.stdout.flush()
    except BrokenPipeError:
        code = _broken_pipe()
    sys.exit(code)
