"""The fmscript home folder (``FMSCRIPT_HOME``, default ``~/.fmscript``) and the paths inside it.

Paths are computed on each call so that tests (and embedders) can switch homes with the environment variable.
Nothing is created until a caller asks for a folder with ``ensure=True``.
"""
from __future__ import annotations

import os
from pathlib import Path


def home(ensure: bool = False) -> Path:
    p = Path(os.environ.get("FMSCRIPT_HOME") or (Path.home() / ".fmscript")).expanduser()
    if ensure:
        p.mkdir(parents=True, exist_ok=True)
    return p


def _sub(name: str, ensure: bool) -> Path:
    p = home() / name
    if ensure:
        p.mkdir(parents=True, exist_ok=True)
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
            p.mkdir(parents=True, exist_ok=True)
    return p


def cache_dir(ensure: bool = False) -> Path:
    """Parser tables and other caches that are safe to delete."""
    return _sub("cache", ensure)


def jobs_db() -> Path:
    return home() / "jobs.sqlite"


def history_file() -> Path:
    return home() / "history"
