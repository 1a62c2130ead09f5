"""Data file steps (FileMaker's Files category, FileMaker 18 and later): create, open, read, write, position and
close data files, and the steps any file may be given (exists, size, delete, rename).

Paths are FileMaker path lists resolved by :mod:`fmscript.data.paths`, the resolver of every other file step.
Open files belong to the session (``Get ( OpenDataFileInfo )`` lists them) and are closed when it ends.
Claris's limits: 25 open files (error 2), 64 MB a read or write (error 7 past it), a file already open gives
error 300, reading at the end of a file error 10.
"""
from __future__ import annotations

import os
from pathlib import Path

from ...calc.values import Container, to_int, to_text
from ...data import paths
from ...errors import (E_CANNOT_CREATE_FILE, E_CANNOT_OPEN_FILE, E_COMMAND_INVALID, E_DATA_MISSING, E_FILE_IN_USE,
                       E_FILE_MISSING, E_INVALID_PARAMETER, E_MEMORY, E_NAME_EXISTS, E_NOT_ENOUGH_MEMORY, StepError)
from .. import ast as S
from . import step
from .data_access import calc_options

MAX_OPEN = 25
MAX_CHUNK = 64 * 1024 * 1024
ENCODINGS = {"UTF-16": "utf-16-le", "UTF-8": "utf-8", "Bytes": None}


class OpenFile:
    __slots__ = ("id", "path", "handle")

    def __init__(self, fid: int, path: Path, handle):
        self.id, self.path, self.handle = fid, path, handle


class DataFiles:
    """The session's open data files by file ID (FileMaker numbers them from 1 in the order they are opened)."""

    def __init__(self):
        self.open: dict[int, OpenFile] = {}
        self.next_id = 1

    def info(self) -> str:
        """``Get ( OpenDataFileInfo )``: ``<file ID><tab>file:<path>`` for each open file, one per line."""
        return "".join(f"{o.id}\tfile:{paths.fm_file_path(o.path)}\r" for o in self.open.values())

    def close_all(self) -> None:
        for o in self.open.values():
            o.handle.close()
        self.open.clear()


def data_files(f) -> DataFiles:
    ext = f.session.extensions
    df = ext.get("data_files")
    if df is None:
        import weakref
        df = ext["data_files"] = DataFiles()
        weakref.finalize(f.session, df.close_all)
    return df


def os_error(e: OSError, path, code: int, creating: bool = False) -> StepError:
    """An OSError as FileMaker's number: a missing file is 100, except where a file is being created (800)."""
    missing = isinstance(e, FileNotFoundError) and not creating
    return StepError(f"{path}: {e.strerror or e}", code=E_FILE_MISSING if missing else code)


def _path_option(st: S.Step, c, label: str | None = None):
    """The step's file path list: ``label`` when given (``Source file:``), else its first unlabelled text."""
    opt = st.get(label) if label else None
    if opt is None:
        opts = calc_options(st)
        if not opts:
            raise c.incomplete(f"{st.name} has no file path", E_FILE_MISSING)
        opt = opts[0]
    return c.text(opt)


def _existing(f, text: str) -> Path:
    return paths.resolve_input(text, f.session.base_dir, paths.frame_variables(f), "file")


def _writable(f, text: str, create_folders: bool = False) -> Path:
    try:
        return paths.resolve_output(text, f.session.base_dir, paths.frame_variables(f), create_folders)
    except OSError as e:
        raise os_error(e, text, E_CANNOT_CREATE_FILE) from None


def _file_id(st: S.Step, c):
    opt = st.get("File ID")
    if opt is None or opt.value is None:
        raise c.incomplete(f"{st.name} has no File ID, so no open data file is named", E_FILE_MISSING)
    ev = c.calc(opt)

    def lookup(f) -> OpenFile:
        raw = ev(f)
        fid = to_int(raw) if to_text(raw).strip() else 0
        o = data_files(f).open.get(fid)
        if o is None:
            raise StepError(f"no data file is open with the file ID {to_text(raw) or '(empty)'}: open it with "
                            f"Open Data File first", code=E_FILE_MISSING)
        return o
    return lookup


def _target(st: S.Step, c):
    opt = st.get("Target")
    if opt is None:
        for o in calc_options(st)[1:]:
            opt = o
            break
    if opt is None or opt.value is None:
        raise c.incomplete(f"{st.name} has no Target variable or field", E_COMMAND_INVALID)
    return c.target(opt)


def _encoding(st: S.Step, c, label: str, default: str = "UTF-16") -> str:
    opt = st.get(label)
    if opt is None or opt.value is None:
        return default
    v = opt.value
    name = v.name if isinstance(v, S.Word) else (v.text.strip() if hasattr(v, "text") else "")
    for known in ENCODINGS:
        if name.replace(" ", "").lower() == known.lower():
            return known
    raise c.error(f"“{label}” takes UTF-16, UTF-8" + (" or Bytes" if label == "Read as" else ""), opt.pos)


@step("Create Data File", labels=("Create folders",))
def create_data_file(st: S.Step, c):
    """Creates an empty, closed data file, replacing a file of that name (as FileMaker does)."""
    path_text = _path_option(st, c)
    create = c.on_off(st.get("Create folders"), False) or "Create folders" in st.words()

    def run(f):
        p = _writable(f, path_text(f), create)
        if any(o.path == p for o in data_files(f).open.values()):
            raise StepError(f"{p} is open as a data file: close it first", code=E_FILE_IN_USE)
        try:
            fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.close(fd)
        except OSError as e:
            raise os_error(e, p, E_CANNOT_CREATE_FILE, creating=True) from None
    return run


@step("Open Data File", labels=("Target",))
def open_data_file(st: S.Step, c):
    """Opens a data file for reading and writing at position 0 and puts its file ID in the target."""
    path_text = _path_option(st, c)
    target = _target(st, c)

    def run(f):
        df = data_files(f)
        p = _existing(f, path_text(f)).resolve()
        if any(o.path == p for o in df.open.values()):
            raise StepError(f"{p} is already open as a data file", code=E_FILE_IN_USE)
        if len(df.open) >= MAX_OPEN:
            raise StepError(f"{MAX_OPEN} data files are open already: close one first", code=E_MEMORY)
        try:
            handle = open(p, "r+b")
        except PermissionError:
            try:
                handle = open(p, "rb")  # a read-only file still opens; writing to it fails
            except OSError as e:
                raise os_error(e, p, E_CANNOT_OPEN_FILE) from None
        except OSError as e:
            raise os_error(e, p, E_CANNOT_OPEN_FILE) from None
        fid = df.next_id
        df.next_id += 1
        df.open[fid] = OpenFile(fid, p, handle)
        target(f, fid)
    return run


@step("Close Data File", labels=("File ID",))
def close_data_file(st: S.Step, c):
    """Closes an open data file."""
    lookup = _file_id(st, c)

    def run(f):
        o = lookup(f)
        del data_files(f).open[o.id]
        o.handle.close()
    return run


@step("Read from Data File", labels=("File ID", "Amount", "Target", "Read as"))
def read_from_data_file(st: S.Step, c):
    """Reads Amount bytes (UTF-16: code units) from the read-write position, or the rest of the file."""
    lookup = _file_id(st, c)
    amount_opt = st.get("Amount")
    amount = c.calc(amount_opt) if amount_opt is not None and amount_opt.value is not None else None
    target = _target(st, c)
    enc = _encoding(st, c, "Read as")

    def run(f):
        o = lookup(f)
        n = None
        if amount is not None:
            raw = amount(f)
            if to_text(raw).strip():
                n = to_int(raw)
                if n < 0:
                    raise StepError("Amount cannot be negative", code=E_INVALID_PARAMETER)
                if enc == "UTF-16":
                    n *= 2
        if n is not None and n > MAX_CHUNK:
            raise StepError("a data file is read at most 64 MB at a time: read it in parts", code=E_NOT_ENOUGH_MEMORY)
        data = o.handle.read(MAX_CHUNK + 1 if n is None else n)
        if n is None and len(data) > MAX_CHUNK:
            o.handle.seek(-len(data), os.SEEK_CUR)
            raise StepError("a data file is read at most 64 MB at a time: give an Amount and read it in parts",
                            code=E_NOT_ENOUGH_MEMORY)
        if not data and (n is None or n > 0):
            raise StepError(f"the end of {o.path.name} has been reached", code=E_DATA_MISSING)
        if enc == "Bytes":
            target(f, Container(data, o.path.name))
        else:
            target(f, data.decode(ENCODINGS[enc], errors="replace").replace("\r\n", "\r").replace("\n", "\r"))
    return run


@step("Write to Data File", labels=("File ID", "Data source", "Write as", "Append"))
def write_to_data_file(st: S.Step, c):
    """Writes text (UTF-16 or UTF-8) or container data at the read-write position, overwriting what is there."""
    lookup = _file_id(st, c)
    src_opt = st.get("Data source")
    if src_opt is None or src_opt.value is None:
        raise c.incomplete("Write to Data File has no Data source", E_COMMAND_INVALID)
    source = c.calc(src_opt)
    enc = _encoding(st, c, "Write as")
    if enc == "Bytes":
        raise c.error("“Write as” takes UTF-16 or UTF-8 (container data is written as it is)", src_opt.pos)
    line_feed = c.on_off(st.get("Append"), False) or bool({"Append", "Append line feed"} & st.words())

    def run(f):
        o = lookup(f)
        v = source(f)
        if isinstance(v, Container):
            data = v.data
        else:
            text = to_text(v).replace("\r", "\n") + ("\n" if line_feed else "")
            data = text.encode(ENCODINGS[enc], errors="surrogatepass")
        if len(data) > MAX_CHUNK:
            raise StepError("a data file is written at most 64 MB at a time: write it in parts",
                            code=E_NOT_ENOUGH_MEMORY)
        try:
            o.handle.write(data)
            o.handle.flush()
        except OSError as e:
            raise os_error(e, o.path, E_CANNOT_CREATE_FILE) from None
    return run


@step("Get Data File Position", labels=("File ID", "Target"))
def get_data_file_position(st: S.Step, c):
    """Puts the read-write position (bytes from the start) in the target."""
    lookup = _file_id(st, c)
    target = _target(st, c)

    def run(f):
        target(f, lookup(f).handle.tell())
    return run


@step("Set Data File Position", labels=("File ID", "New position"))
def set_data_file_position(st: S.Step, c):
    """Sets the read-write position; a negative one is an error, as Claris's page says."""
    lookup = _file_id(st, c)
    pos_opt = st.get("New position")
    if pos_opt is None or pos_opt.value is None:
        raise c.incomplete("Set Data File Position has no New position", E_COMMAND_INVALID)
    pos = c.number(pos_opt)

    def run(f):
        o = lookup(f)
        n = int(pos(f))
        if n < 0:
            raise StepError("the New position cannot be negative", code=E_INVALID_PARAMETER)
        o.handle.seek(n)
    return run


@step("Get File Exists", labels=("Target",))
def get_file_exists(st: S.Step, c):
    """1 in the target when the path list names an existing file, else 0."""
    path_text = _path_option(st, c)
    target = _target(st, c)

    def run(f):
        try:
            _existing(f, path_text(f))
            target(f, 1)
        except Exception as e:  # noqa: BLE001 - only "no such file" is an answer here
            if getattr(e, "code", None) != E_FILE_MISSING:
                raise
            target(f, 0)
    return run


@step("Get File Size", labels=("Target",))
def get_file_size(st: S.Step, c):
    """The file's size in bytes (error 100 when it does not exist)."""
    path_text = _path_option(st, c)
    target = _target(st, c)

    def run(f):
        target(f, _existing(f, path_text(f)).stat().st_size)
    return run


@step("Delete File")
def delete_file(st: S.Step, c):
    """Deletes a file (error 100 when it does not exist, 300 while it is open as a data file)."""
    path_text = _path_option(st, c)

    def run(f):
        p = _existing(f, path_text(f)).resolve()
        if any(o.path == p for o in data_files(f).open.values()):
            raise StepError(f"{p.name} is open as a data file: close it first", code=E_FILE_IN_USE)
        try:
            p.unlink()
        except OSError as e:
            raise os_error(e, p, E_CANNOT_CREATE_FILE) from None
    return run


@step("Rename File", labels=("Source file", "New name"),
      note="A new name that another file already has is refused with error 12 (nothing is overwritten).")
def rename_file(st: S.Step, c):
    """Renames a file in its folder; the new name is a name, not a path."""
    path_text = _path_option(st, c, "Source file")
    name_opt = st.get("New name")
    if name_opt is None or name_opt.value is None:
        raise c.incomplete("Rename File has no New name", E_COMMAND_INVALID)
    new_name = c.text(name_opt)

    def run(f):
        p = _existing(f, path_text(f)).resolve()
        name = new_name(f).strip()
        if not name or "/" in name or "\\" in name or name in (".", ".."):
            raise StepError(f"“{name}” is not a file name: Rename File renames a file in its own folder",
                            code=E_INVALID_PARAMETER)
        dest = p.with_name(name)
        if dest.exists():
            raise StepError(f"a file named “{name}” already exists in {p.parent}", code=E_NAME_EXISTS)
        if any(o.path == p for o in data_files(f).open.values()):
            raise StepError(f"{p.name} is open as a data file: close it first", code=E_FILE_IN_USE)
        try:
            p.rename(dest)
        except OSError as e:
            raise os_error(e, p, E_CANNOT_CREATE_FILE) from None
    return run
