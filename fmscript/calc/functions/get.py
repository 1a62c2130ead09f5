"""``Get ( name )`` values.  zh-Hans names are mapped to these English names by the catalogue."""
from __future__ import annotations

import contextlib
import datetime as _dt
import functools
import os
import platform
import sys
from decimal import Decimal
from pathlib import Path

from ..values import Time, Timestamp
from . import get_value as get


def fm_path(p: Path | str, folder: bool = True) -> str:
    """FileMaker's path form of a folder (or, ``folder=False``, of a file)."""
    from ...data.paths import fm_file_path
    return fm_file_path(p, folder)


_fixed_now: _dt.datetime | None = None


def now() -> _dt.datetime:
    """The moment the date/time ``Get`` names read: the machine's clock, unless :func:`fixed_clock` froze it."""
    return _fixed_now if _fixed_now is not None else _dt.datetime.now()


@contextlib.contextmanager
def fixed_clock(moment: _dt.datetime):
    """Freeze the clock at ``moment`` (naive: local time; aware: that zone) while the block runs, for the
    conformance vectors and tests whose documented values are at one moment."""
    global _fixed_now
    saved, _fixed_now = _fixed_now, moment
    try:
        yield
    finally:
        _fixed_now = saved


@get("DocumentsPath")
def documents_path(f):
    """``FMSCRIPT_DOCUMENTS`` if set, else the user's Documents folder."""
    p = os.environ.get("FMSCRIPT_DOCUMENTS") or str(Path.home() / "Documents")
    return fm_path(p)


@get("OpenDataFileInfo")
def open_data_file_info(f):
    """The session's open data files (Open Data File), one ``<file ID><tab>file:<path>`` line each."""
    files = f.session.extensions.get("data_files")
    return files.info() if files is not None else ""


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
    return _install_folder()


@functools.lru_cache(maxsize=1)
def _install_folder() -> str:
    # Resolving the path costs half a millisecond: 10,000 calls in a While took seconds (found by fuzzing).
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
    return now().date()


@get("CurrentTime")
def current_time(f):
    """The time now, to the second."""
    n = now()
    return Time(Decimal(n.hour * 3600 + n.minute * 60 + n.second))


@get("CurrentTimestamp")
def current_timestamp(f):
    """Date and time now, to the second."""
    n = now()
    return Timestamp(Decimal((n.toordinal() - 1) * 86400 + n.hour * 3600 + n.minute * 60 + n.second))


@get("SystemPlatform")
def system_platform(f):
    """1 macOS, -2 Windows, 8 Linux (FileMaker's numbers; 8 is Ubuntu Linux)."""
    return Decimal({"darwin": 1, "win32": -2}.get(sys.platform, 8))


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


def _now_utc() -> _dt.datetime:
    """The current moment in UTC (follows :func:`fixed_clock`)."""
    n = now()
    if n.tzinfo is None:
        return n.astimezone(_dt.timezone.utc).replace(tzinfo=None)
    return n.astimezone(_dt.timezone.utc).replace(tzinfo=None)


def _epoch_microseconds(n: _dt.datetime) -> int:
    """Microseconds since 1/1/0001 0:00 (FileMaker's timestamp origin)."""
    return ((n.toordinal() - 1) * 86400 + n.hour * 3600 + n.minute * 60 + n.second) * 1_000_000 + n.microsecond


@get("CurrentTimeUTCMilliseconds")
def current_time_utc_milliseconds(f):
    """Milliseconds since 1/1/0001 0:00 UTC."""
    return Decimal(_epoch_microseconds(_now_utc()) // 1000)


@get("CurrentTimeUTCMicroseconds")
def current_time_utc_microseconds(f):
    """Microseconds since 1/1/0001 0:00 UTC."""
    return Decimal(_epoch_microseconds(_now_utc()))


@get("CurrentHostTimestamp")
def current_host_timestamp(f):
    """Date and time now on the host (fmscript runs locally: the same as CurrentTimestamp)."""
    return current_timestamp(f)


def _account(f) -> dict:
    # fmscript has no login: the file is open with FileMaker's default full-access account unless an
    # embedder puts {"name", "privilege_set", "extended_privileges", "type"} in session.extensions["account"].
    return f.session.extensions.get("account") or {}


@get("AccountName")
def account_name(f):
    """The account the file is open with (``Admin``, FileMaker's default account)."""
    return _account(f).get("name", "Admin")


@get("AccountPrivilegeSetName")
def account_privilege_set_name(f):
    """The account's privilege set (``[Full Access]``)."""
    return _account(f).get("privilege_set", "[Full Access]")


@get("CurrentPrivilegeSetName")
def current_privilege_set_name(f):
    """The privilege set in force (``[Full Access]``)."""
    return _account(f).get("privilege_set", "[Full Access]")


@get("AccountExtendedPrivileges")
def account_extended_privileges(f):
    """The account's extended privilege keywords, one per line (none by default)."""
    return "\r".join(_account(f).get("extended_privileges", ()))


@get("CurrentExtendedPrivileges")
def current_extended_privileges(f):
    """The extended privilege keywords in force, one per line."""
    return account_extended_privileges(f)


@get("AccountType")
def account_type(f):
    """How the account is authenticated: ``FileMaker``."""
    return _account(f).get("type", "FileMaker")


@get("AccountGroupName")
def account_group_name(f):
    """The external group of the account (empty: fmscript accounts are FileMaker accounts)."""
    return _account(f).get("group", "")


@get("SessionIdentifier")
def session_identifier(f):
    """What Set Session Identifier set in this session, else empty."""
    return f.session.extensions.get("session_identifier", "")


@get("UserName")
def user_name(f):
    """The user's name (the operating system's login name)."""
    import getpass

    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return ""


@get("UUID")
def uuid_(f):
    """A new random UUID in upper case (a different one each time)."""
    import uuid as _uuid

    return str(_uuid.uuid4()).upper()


@get("UUIDNumber")
def uuid_number(f):
    """A new random UUID as a number (a different one each time)."""
    import uuid as _uuid

    return Decimal(_uuid.uuid4().int)


@get("ApplicationArchitecture")
def application_architecture(f):
    """The processor architecture fmscript runs on (``x86_64``, ``arm64``…)."""
    m = platform.machine().lower()
    return {"amd64": "x86_64", "aarch64": "arm64"}.get(m, m)


def _language() -> str:
    import locale

    code = (locale.getlocale()[0] or os.environ.get("LANG", "") or "en_US").split(".")[0]
    names = {"en": "English", "zh": "Chinese", "ja": "Japanese", "de": "German", "fr": "French",
             "es": "Spanish", "it": "Italian", "nl": "Dutch", "sv": "Swedish", "ko": "Korean", "pt": "Portuguese"}
    return names.get(code.split("_")[0].lower(), "English")


@get("ApplicationLanguage")
def application_language(f):
    """The language fmscript speaks to the user: ``English``."""
    return "English"


@get("SystemLanguage")
def system_language(f):
    """The operating system's language in English (``English``, ``Chinese``…)."""
    return _language()


@get("SystemDrive")
def system_drive(f):
    """The drive the operating system runs from: ``/`` (``/C:/`` on Windows)."""
    if sys.platform == "win32":
        return "/" + os.environ.get("SystemDrive", "C:") + "/"
    return "/"


@get("SystemIPAddress")
def system_ip_address(f):
    """The machine's IP addresses, one per line."""
    import socket

    try:
        addrs = {a[4][0] for a in socket.getaddrinfo(socket.gethostname(), None) if a[0] == socket.AF_INET}
    except OSError:
        addrs = set()
    return "\r".join(sorted(addrs)) or "127.0.0.1"


@get("HostIPAddress")
def host_ip_address(f):
    """The IP address of the host the file is on (local files: empty)."""
    return ""


@get("HostApplicationVersion")
def host_application_version(f):
    """The host's application version (local files: empty)."""
    return ""


@get("MultiUserState")
def multi_user_state(f):
    """0: the file is not shared."""
    return Decimal(0)


@get("UserCount")
def user_count(f):
    """The number of users with the file open: 1."""
    return Decimal(1)


@get("NetworkProtocol")
def network_protocol(f):
    """The network protocol for sharing: ``TCP/IP``."""
    return "TCP/IP"


@get("Device")
def device(f):
    """The kind of device: 1 Mac, 2 Windows PC, 0 other (Linux)."""
    return Decimal({"darwin": 1, "win32": 2}.get(sys.platform, 0))


@get("ScreenWidth")
def screen_width(f):
    """The screen's width in points (0: fmscript has no screen)."""
    return Decimal(0)


@get("ScreenHeight")
def screen_height(f):
    """The screen's height in points (0: fmscript has no screen)."""
    return Decimal(0)


@get("ScreenDepth")
def screen_depth(f):
    """Bits per pixel of the screen (0: fmscript has no screen)."""
    return Decimal(0)


@get("ScreenScaleFactor")
def screen_scale_factor(f):
    """The screen's scale factor (1)."""
    return Decimal(1)


@get("HighContrastState")
def high_contrast_state(f):
    """0: high contrast is off."""
    return Decimal(0)


@get("UseSystemFormatsState")
def use_system_formats_state(f):
    """0: the file's own formats (en-US) are used."""
    return Decimal(0)


@get("CalculationRepetitionNumber")
def calculation_repetition_number(f):
    """The repetition being calculated (1 outside repeating fields)."""
    return Decimal(f.session.extensions.get("calc.repetition", 1))


@get("FileSize")
def file_size(f):
    """The size of the database file in bytes (0 for the in-memory file)."""
    p = f.session.file_path()
    try:
        return Decimal(os.path.getsize(p)) if p else Decimal(0)
    except OSError:
        return Decimal(0)


@get("PersistentID")
def persistent_id(f):
    """An identifier of this machine that stays the same between runs."""
    import uuid as _uuid

    return "%032X" % _uuid.getnode()


@get("SystemNICAddress")
def system_nic_address(f):
    """The hardware (MAC) address of the network interface."""
    import uuid as _uuid

    node = _uuid.getnode()
    return ":".join(f"{(node >> s) & 0xFF:02x}" for s in range(40, -1, -8))


@get("EncryptionState")
def encryption_state(f):
    """0: the file is not encrypted."""
    return Decimal(0)


@get("ActiveModifierKeys")
def active_modifier_keys(f):
    """The modifier keys held down: 0 (fmscript reads no keyboard)."""
    return Decimal(0)


@get("InstalledFMPlugins")
def installed_fm_plugins(f):
    """Installed plug-ins, one per line: none."""
    return ""


@get("StatusAreaState")
def status_area_state(f):
    """0: there is no status toolbar."""
    return Decimal(0)


@get("PrinterName")
def printer_name(f):
    """The default printer (empty: fmscript prints nothing)."""
    return ""


# -- the window --------------------------------------------------------------------------------------------
# fmscript runs headless with one window.  FileMaker names a file's first window after the file, so
# WindowName is Get ( FileName ); the window is a visible document window at 100 % zoom, 1024 × 768 points
# at the top left of a desktop of the same size (landscape).  The screen itself stays 0 × 0: there is none.
WINDOW_WIDTH, WINDOW_HEIGHT = 1024, 768


@get("WindowName")
def window_name(f):
    """The window's name: the file's name, as FileMaker names a file's first window."""
    return file_name(f)


@get("WindowTop")
def window_top(f):
    """The window's distance from the top of the desktop in points (0: the one headless window)."""
    return Decimal(0)


@get("WindowLeft")
def window_left(f):
    """The window's distance from the left of the desktop in points (0: the one headless window)."""
    return Decimal(0)


@get("WindowWidth")
def window_width(f):
    """The window's width in points (1024 for the headless window)."""
    return Decimal(WINDOW_WIDTH)


@get("WindowHeight")
def window_height(f):
    """The window's height in points (768 for the headless window)."""
    return Decimal(WINDOW_HEIGHT)


@get("WindowContentWidth")
def window_content_width(f):
    """The width of the window's content area in points (the whole headless window: it has no frame)."""
    return Decimal(WINDOW_WIDTH)


@get("WindowContentHeight")
def window_content_height(f):
    """The height of the window's content area in points (the whole headless window)."""
    return Decimal(WINDOW_HEIGHT)


@get("WindowDesktopWidth")
def window_desktop_width(f):
    """The width of the desktop the window is on, in points (the headless window's own)."""
    return Decimal(WINDOW_WIDTH)


@get("WindowDesktopHeight")
def window_desktop_height(f):
    """The height of the desktop the window is on, in points (the headless window's own)."""
    return Decimal(WINDOW_HEIGHT)


@get("WindowVisible")
def window_visible(f):
    """1: the window is visible (FileMaker: 0 hidden, 1 visible)."""
    return Decimal(1)


@get("WindowStyle")
def window_style(f):
    """0: a document window (FileMaker: 0 document, 1 floating document, 2 dialog, 3 card)."""
    return Decimal(0)


@get("WindowZoomLevel")
def window_zoom_level(f):
    """The window's zoom percentage (100)."""
    return Decimal(100)


@get("WindowOrientation")
def window_orientation(f):
    """1: landscape, as the headless window is wider than tall (0 would be portrait)."""
    return Decimal(1 if WINDOW_WIDTH >= WINDOW_HEIGHT else 0)
