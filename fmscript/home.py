"""The fmscript home folder (``FMSCRIPT_HOME``, default ``~/.fmscript``) and the paths inside it.

Paths are computed on each call so that tests (and embedders) can switch homes with the environment variable.
Nothing is created until a caller asks for a folder with ``ensure=True``.

The home holds training data, chat history and account keys typed into the REPL, so everything in it is the
user's alone: folders are created 0700 and files 0600.  Writers that cannot pass a mode (sqlite, shutil,
safetensors) run inside :func:`private`, which narrows the umask while they create files.
"""
from __future__ import annotations

import os
import stat
import threading
from contextlib import contextmanager
from pathlib import Path

FILE_MODE = 0o600
PRIVATE_UMASK = 0o077
#: What fmscript keeps in a home (glob patterns).
OWN = ("models", "tuned", "files", "runs", "cache", "jobs.sqlite*", "history*", "worker.*")

_umask_lock = threading.Lock()
_umask_depth = 0
_umask_saved = 0


@contextmanager
def private():
    """Files and folders created inside are owner-only (umask 077).

    The umask is per process, so nested and concurrent uses share one narrowing: the first to enter sets it,
    the last to leave restores the user's.  Other threads creating files meanwhile get private ones too,
    which errs on the safe side.
    """
    global _umask_depth, _umask_saved
    with _umask_lock:
        if _umask_depth == 0:
            _umask_saved = os.umask(PRIVATE_UMASK)
        _umask_depth += 1
    try:
        yield
    finally:
        with _umask_lock:
            _umask_depth -= 1
            if _umask_depth == 0:
                os.umask(_umask_saved)


def make_private_dir(p: Path) -> Path:
    """Create ``p`` (and missing parents inside the home) owner-only; tighten it if it exists wider."""
    with private():
        p.mkdir(parents=True, exist_ok=True)
    tighten(p)
    return p


def tighten(p: Path | str) -> bool:
    """Take group and other permissions off ``p`` (homes written by older versions were 0755/0644); True when
    there were any."""
    try:
        st = os.lstat(p)
        if not stat.S_ISLNK(st.st_mode) and stat.S_IMODE(st.st_mode) & 0o077:
            os.chmod(p, stat.S_IMODE(st.st_mode) & ~0o077)
            return True
    except OSError:
        pass
    return False


def _upgrade(p: Path) -> None:
    """A home an older version made (group/other could read it): tighten everything in it once, and drop the
    parsed-script cache, whose pickles held keys in clear (it is rebuilt on the next run)."""
    import shutil

    shutil.rmtree(p / "cache" / "scripts", ignore_errors=True)
    for top in OWN:  # only what fmscript keeps there, should FMSCRIPT_HOME name a folder with other things
        for q in p.glob(top):
            tighten(q)
            for dirpath, dirnames, filenames in os.walk(q) if q.is_dir() else ():
                for name in dirnames + filenames:
                    tighten(Path(dirpath) / name)


def home(ensure: bool = False) -> Path:
    p = Path(os.environ.get("FMSCRIPT_HOME") or (Path.home() / ".fmscript")).expanduser()
    if ensure:
        with private():
            p.mkdir(parents=True, exist_ok=True)
        if tighten(p):
            _upgrade(p)
    return p


def _sub(name: str, ensure: bool) -> Path:
    p = home(ensure) / name
    if ensure:
        make_private_dir(p)
    return p


def models_dir(ensure: bool = False) -> Path:
    """Base models in Hugging Face layout: ``models/<name>/`` (a name may hold one ``/``)."""
    return _sub("models", ensure)


def tuned_dir(ensure: bool = False) -> Path:
    """Adapters of tuned models: ``tuned/<fm-mlx-name>/``."""
    return _sub("tuned", ensure)


def files_dir(ensure: bool = False) -> Path:
    """Uploaded / submitted training files."""
    return _sub("files", ensure)


def runs_dir(job_id: str | None = None, ensure: bool = False) -> Path:
    """Checkpoints and logs of one job: ``runs/<job id>/``."""
    p = _sub("runs", ensure)
    if job_id:
        p = p / job_id
        if ensure:
            make_private_dir(p)
    return p


def cache_dir(ensure: bool = False) -> Path:
    """Parser tables and other caches that are safe to delete."""
    return _sub("cache", ensure)


def jobs_db() -> Path:
    return home() / "jobs.sqlite"


def history_file() -> Path:
    return home() / "history"
