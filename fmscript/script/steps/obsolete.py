"""FileMaker's obsolete steps (the catalogue's Obsolete rows): older files still hold them, FileMaker prints them
``#[OBSOLETE]  Insert QuickTime``, and no FileMaker that runs headless performs them.
"""
from __future__ import annotations

from ...errors import E_COMMAND_UNAVAILABLE, StepError
from .. import ast as S
from . import step

ORIENTATIONS = ("Portrait", "Portrait Upside Down", "Landscape Left", "Landscape Right")


def _unavailable(name: str, why: str):
    def run(f):
        raise StepError(f"“{name}” is obsolete: {why}", code=E_COMMAND_UNAVAILABLE)
    return run


@step("Set Allowed Orientations", labels=ORIENTATIONS,
      note="Obsolete; FileMaker Go only: FileMaker Pro and Server (and fmscript) answer error 3.")
def set_allowed_orientations(st: S.Step, c):
    """Turned FileMaker Go's screen orientations on or off; nothing to turn headless, so error 3."""
    return _unavailable("Set Allowed Orientations", "only FileMaker Go had screen orientations to allow")


@step("Insert QuickTime",
      note="Obsolete since FileMaker 12 (use Insert Audio/Video); error 3, as a server answers it.")
def insert_quicktime(st: S.Step, c):
    """Inserted a QuickTime movie into the active container field; FileMaker Server never ran it: error 3."""
    return _unavailable("Insert QuickTime", "FileMaker Server never ran it; use Insert Audio/Video")


@step("Insert Object",
      note="Obsolete (Windows OLE objects, removed in FileMaker 16); error 3, as a server answers it.")
def insert_object(st: S.Step, c):
    """Inserted a Windows OLE object into the active container field; nothing performs it headless: error 3."""
    return _unavailable("Insert Object", "it inserted Windows OLE objects, which FileMaker no longer supports")
