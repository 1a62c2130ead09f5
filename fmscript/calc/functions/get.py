"""``Get ( name )`` values.  zh-Hans names are mapped to these English names by the catalogue."""
from __future__ import annotations

import datetime as _dt
import os
import platform
import sys
from decimal import Decimal
from pathlib import Path

from ..values import Time, Timestamp
from . import get


def fm_path(p: Path | str, folder: bool = True) -> str:
    """FileMaker's path form: ``/`` separators, a leading ``/`` and, for folders, a trailing ``/``."""
    s = str(p).replace("\\", "/")
    if not s.startswith("/"):
        s = "/" + s
    if folder and not s.endswith("/"):
        s += "/"
    return s


def _now() -> _dt.datetime:
    return _dt.datetime.now()


@get("DocumentsPath")
def documents_path(f):
    """``FMSCRIPT_DOCUMENTS`` if set, else the user's Documents folder."""
    p = os.environ.get("FMSCRIPT_DOCUMENTS") or str(Path.home() / "Documents")
    return fm_path(p)


@get("TemporaryPath")
def temporary_path(f):
    """A per-run folder under the system's temporary directory."""
    return fm_path(f.session.temporary_path())


@get("DesktopPath")
def desktop_path(f):
    """The user's Desktop folder."""
    return fm_path(Path.home() / "Desktop")


@get("PreferencesPath")
def preferences_path(f):
    """The fmscript home (where fmscript keeps its settings)."""
    from ...home import home
    return fm_path(home())


@get("FileMakerPath")
def filemaker_path(f):
    """The folder fmscript is installed in."""
    return fm_path(Path(__file__).resolve().parents[3])


@get("FilePath")
def file_path(f):
    """The database file's path (empty for the in-memory file)."""
    p = f.session.file_path()
    return ("file:" + fm_path(p, folder=False)) if p else ""


@get("FileName")
def file_name(f):
    """The database file's name without extension."""
    p = f.session.file_path()
    return Path(p).stem if p else "Untitled"


@get("ScriptParameter")
def script_parameter(f):
    """The parameter the current script was called with."""
    return f.param


@get("ScriptResult")
def script_result(f):
    """The result of the last sub-script (Exit Script)."""
    return f.session.script_result


@get("ScriptName")
def script_name(f):
    """The name of the running script."""
    return f.script_name


@get("LastError")
def last_error(f):
    """The error number of the last step (0 when it succeeded)."""
    return Decimal(f.session.last_error)


@get("LastErrorDetail")
def last_error_detail(f):
    """A sentence about the last error."""
    return f.session.last_error_detail


@get("LastErrorLocation")
def last_error_location(f):
    """Script, step and line of the last error."""
    return f.session.last_error_location


@get("LastMessageChoice")
def last_message_choice(f):
    """The button chosen in the last Show Custom Dialog (always 1: fmscript asks nothing)."""
    return Decimal(f.session.last_message_choice)


@get("ErrorCaptureState")
def error_capture_state(f):
    """1 when Set Error Capture is on."""
    return Decimal(1 if f.error_capture else 0)


@get("AllowAbortState")
def allow_abort_state(f):
    """1 when user abort is allowed."""
    return Decimal(1 if f.session.allow_abort else 0)


@get("CurrentDate")
def current_date(f):
    """Today."""
    return _now().date()


@get("CurrentTime")
def current_time(f):
    """The time now, to the second."""
    n = _now()
    return Time(Decimal(n.hour * 3600 + n.minute * 60 + n.second))


@get("CurrentTimestamp")
def current_timestamp(f):
    """Date and time now, to the second."""
    n = _now()
    return Timestamp(Decimal((n.toordinal() - 1) * 86400 + n.hour * 3600 + n.minute * 60 + n.second))


@get("SystemPlatform")
def system_platform(f):
    """-1 macOS (Mac), -2 Windows, 4 Linux (FileMaker Server on Linux reports 4)."""
    return Decimal({"darwin": -1, "win32": -2}.get(sys.platform, 4))


@get("ApplicationVersion")
def application_version(f):
    """``fmscript <version>`` (FileMaker gives e.g. ``Pro 22.0.1``)."""
    from ... import __version__
    return f"fmscript {__version__}"


@get("SystemVersion")
def system_version(f):
    """The operating system's version."""
    return platform.release()


@get("HostName")
def host_name(f):
    """The machine's network name."""
    return platform.node()
