"""FileMaker path lists: the one resolver of Import Records, Export Records, Save Records as JSONL and
Fine-Tune Model's File option.

Claris's help ("Creating file paths"):

* a path list holds one path per line; FileMaker tries them in order and uses the first file it can
  locate (for reading; fmscript writes to the first path whose folder exists, or can be made);
* each path may start with a prefix: ``file:`` (any platform), ``filemac:``, ``filewin:``, ``filelinux:``;
* ``filewin:/C:/folder/file`` is a full Windows path, ``filemac:/Volume/folder/file`` a full macOS path;
* a relative path (``file:folder/file``, ``filewin:../file``) starts at the current file's folder, or at
  the Documents folder: in fmscript, the running script's folder (``Session.base_dir``), then, for reading,
  the current directory;
* a variable can hold the path, or the whole list: a line ``$path`` (or ``$$path``) is replaced by the
  variable's lines.

Where fmscript differs: a path with another platform's prefix (``filemac:`` on Linux) is still tried (FileMaker
skips it), so that one script text runs on every machine; a Windows drive path (``/C:/…``) is never written
to on another system.
"""
from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

from ..errors import E_CANNOT_CREATE_FILE, E_FILE_MISSING, DataError

PREFIXES = ("filelinux:", "filemac:", "filewin:", "file:")
_WIN_DRIVE = re.compile(r"^/?([A-Za-z]):[/\\]")

Variables = Callable[[str], str]


def frame_variables(frame) -> Variables:
    """The ``$``/``$$`` variables of a running script, as text, for :func:`entries` (the frame is handed in:
    the data layer knows no script language)."""
    return frame.variable_text


def fm_file_path(p: Path | str, folder: bool = False) -> str:
    """A native path in FileMaker's form: ``/`` separators, a leading ``/`` and, for folders, a trailing ``/``."""
    s = str(p).replace("\\", "/")
    if not s.startswith("/"):
        s = "/" + s
    if folder and not s.endswith("/"):
        s += "/"
    return s


def _lines(text: str) -> list[str]:
    return [ln.strip() for ln in (text or "").replace("\r\n", "\n").replace("\r", "\n").replace("¶", "\n")
            .split("\n")]


def entries(text: str, variables: Variables | None = None) -> list[str]:
    """The paths of a list, in order: blank lines dropped, ``$variable`` lines replaced by their value's lines."""
    out = []
    for line in _lines(text):
        if line.startswith("$") and variables is not None:
            out += [v for v in _lines(variables(line)) if v]
        elif line:
            out.append(line)
    return out


def to_native(entry: str) -> str:
    """One FileMaker path (prefix optional) as a native path: ``/C:/x`` → ``C:/x`` on Windows, ``~`` expanded."""
    s = entry.strip()
    low = s.lower()
    for pre in PREFIXES:
        if low.startswith(pre):
            s = s[len(pre):]
            break
    if os.name == "nt" and _WIN_DRIVE.match(s):
        s = s.lstrip("/")
    # Elsewhere a Windows path (/C:/x) cannot exist; it stays as written so that an error lists it.
    if s.startswith("~"):
        s = os.path.expanduser(s)
    return s


def candidates(entry: str, base_dir: str | os.PathLike | None, *, reading: bool = True) -> list[Path]:
    """Where one path of a list may be: itself when absolute, else in the script's folder and (reading) the
    current directory."""
    p = Path(to_native(entry))
    if p.is_absolute():
        return [p]
    bases = [Path(base_dir)] if base_dir else []
    if reading or not bases:
        bases.append(Path.cwd())
    out: list[Path] = []
    for b in bases:
        c = b / p
        if c not in out:
            out.append(c)
    return out


def resolve_input(text: str, base_dir: str | os.PathLike | None = None, variables: Variables | None = None,
                  what: str = "file") -> Path:
    """The first existing file of a path list; FileMaker's error 100 listing every path tried when none is."""
    paths = entries(text, variables)
    if not paths:
        raise DataError(f"no {what} was found: the path is empty", code=E_FILE_MISSING)
    tried: list[str] = []
    for e in paths:
        for c in candidates(e, base_dir):
            if str(c) not in tried:
                tried.append(str(c))
            if c.is_file():
                return c
    raise DataError(f"no {what} was found: tried {', '.join(tried)}", code=E_FILE_MISSING)


def resolve_output(text: str, base_dir: str | os.PathLike | None = None, variables: Variables | None = None,
                   create_folders: bool = False) -> Path:
    """Where to write: the first path of the list whose folder exists (or could be created, with
    ``create_folders``); FileMaker's error 800 when there is none."""
    paths = entries(text, variables)
    if not paths:
        raise DataError("the output path is empty", code=E_CANNOT_CREATE_FILE)
    refused: OSError | None = None  # what the system said of a path it refuses (a name too long, say)
    for e in paths:
        if os.name != "nt" and _WIN_DRIVE.match(to_native(e)):
            continue  # a Windows drive path on another system: never a folder to create here
        p = candidates(e, base_dir, reading=False)[0]
        try:
            if p.parent.is_dir():
                return p
            if create_folders:
                p.parent.mkdir(parents=True, exist_ok=True)
                return p
        except OSError as err:
            refused = refused or err
    if refused is not None:
        raise DataError(f"cannot create {to_native(paths[0])}: {refused.strerror or refused}",
                        code=E_CANNOT_CREATE_FILE)
    raise DataError(f"cannot create {to_native(paths[0])}: its folder does not exist (turn on Create folders)",
                    code=E_CANNOT_CREATE_FILE)
