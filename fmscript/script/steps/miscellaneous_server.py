"""Miscellaneous steps that scripts run on a server rely on: Get Folder Path (headless), Send Mail over SMTP,
Set Session Identifier, Execute FileMaker Data API.
"""
from __future__ import annotations

import os
from pathlib import Path

from ...data import paths
from ...errors import E_CANNOT_CREATE_FILE, E_FILE_MISSING, StepError
from .. import ast as S
from . import step
from .data_access import calc_options
from .files_data import os_error


@step("Get Folder Path", labels=("Allow Folder Creation",),
      note="Nobody picks a folder on a command line: the result is the Default location when the step gives one "
           "(made when Allow Folder Creation is on), else Get ( DocumentsPath ).")
def get_folder_path(st: S.Step, c):
    """Puts a folder path, in FileMaker's form (leading and trailing ``/``), in the variable."""
    allow = c.on_off(st.get("Allow Folder Creation"), False) or "Allow Folder Creation" in st.words()
    opts = calc_options(st)
    if not opts:
        raise c.error("Get Folder Path needs a variable: Get Folder Path [ $path ]")
    target = c.target(opts[0], "a variable")
    loc_opt = opts[2] if len(opts) > 2 else None
    location = c.text(loc_opt) if loc_opt is not None else None

    def run(f):
        text = location(f).strip() if location else ""
        if text:
            folder = paths.candidates(text, f.session.base_dir, reading=False)[0]
            if not folder.is_dir():
                if not allow:
                    raise StepError(f"the folder {folder} does not exist (turn on Allow Folder Creation)",
                                    code=E_FILE_MISSING)
                try:
                    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
                except OSError as e:
                    raise os_error(e, folder, E_CANNOT_CREATE_FILE) from None
        else:
            folder = Path(os.environ.get("FMSCRIPT_DOCUMENTS") or Path.home() / "Documents")
        target(f, paths.fm_file_path(folder, folder=True))
    return run
