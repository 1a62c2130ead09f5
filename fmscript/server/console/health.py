"""What the Server page reports: worker, queue, memory (psutil), the BLAS in use, the device, recent AI calls."""
from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import platform
import sys
from pathlib import Path

from fmscript import home as fmhome
from fmscript.redact import redact

#: How many lines of the AI call log the page shows (the newest).
CALL_LINES = 40
CALL_LOG_NAME = "LLMDebug.log"  # FileMaker's default name for Set AI Call Logging


def human_bytes(n: int | None) -> str:
    if n is None:
        return "—"
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def _installed(dist: str) -> bool:
    try:
        importlib.metadata.version(dist)
        return True
    except importlib.metadata.PackageNotFoundError:
        return False


def device() -> str:
    """CPU, CUDA or Metal: from mlx when this process has loaded it, else from the platform and mlx's wheels
    (importing mlx here would bind its BLAS before generation can preload MKL)."""
    mx = sys.modules.get("mlx.core")
    if mx is not None:
        try:
            if getattr(mx, "metal", None) is not None and mx.metal.is_available():
                return "Metal (Apple GPU)"
            if getattr(mx, "cuda", None) is not None and mx.cuda.is_available():
                return "CUDA (NVIDIA GPU)"
        except Exception:
            pass
        return f"CPU ({platform.machine()}, {os.cpu_count()} cores)"
    if sys.platform == "darwin" and platform.machine() == "arm64":
        return "Metal (Apple GPU)"
    if _installed("mlx-cuda"):  # what `pip install mlx[cuda]` brings
        return "CUDA (NVIDIA GPU)"
    return f"CPU ({platform.machine()}, {os.cpu_count()} cores)"


def blas_text() -> str:
    """The BLAS the training worker gets (the note its jobs' events carry) and what this process has mapped."""
    from fmscript.ai import blas

    _env, note = blas.worker_environment()
    if "mlx.core" not in sys.modules:
        return f"{note.removeprefix('BLAS: ')}; this server process: mlx not loaded yet (it loads with the first answer)"
    return f"{note.removeprefix('BLAS: ')}; this server process: {blas.loaded_blas()}"


def memory(worker_pid: int | None) -> dict:
    import psutil

    vm = psutil.virtual_memory()
    out = {"total": vm.total, "available": vm.available, "rss": psutil.Process().memory_info().rss,
           "worker_rss": None}
    if worker_pid:
        try:
            out["worker_rss"] = psutil.Process(worker_pid).memory_info().rss
        except (psutil.Error, OSError):
            pass
    return out


def call_log_path() -> Path | None:
    """Where AI call logging writes, when it is on: the path ``fmscript.ai.calllog`` names (when that module
    exists and says), else ``FMSCRIPT_AI_CALL_LOG``, else ``LLMDebug.log`` in the home or the Documents folder."""
    candidates: list[Path] = []
    if importlib.util.find_spec("fmscript.ai.calllog") is not None:
        try:
            import fmscript.ai.calllog as calllog

            for name in ("log_path", "current_path", "default_path"):
                fn = getattr(calllog, name, None)
                if callable(fn):
                    p = fn()
                    if p:
                        candidates.append(Path(p))
        except Exception:
            pass
    env = os.environ.get("FMSCRIPT_AI_CALL_LOG")
    if env:
        candidates.append(Path(env))
    candidates.append(fmhome.home() / CALL_LOG_NAME)
    docs = os.environ.get("FMSCRIPT_DOCUMENTS")
    candidates.append(Path(docs) / CALL_LOG_NAME if docs else Path.home() / "Documents" / CALL_LOG_NAME)
    for c in candidates:
        if c.is_file():
            return c
    return None


def recent_calls() -> tuple[Path | None, list[str]]:
    """The newest lines of the AI call log (keys masked again), or (None, []) when logging is off."""
    p = call_log_path()
    if p is None:
        return None, []
    try:
        with open(p, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 64 * 1024))
            tail = f.read().decode("utf-8", errors="replace")
    except OSError:
        return None, []
    lines = [redact(line) for line in tail.splitlines() if line.strip()]
    return p, lines[-CALL_LINES:]
