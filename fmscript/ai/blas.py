"""A real BLAS for mlx on Linux CPUs.

The Linux ``mlx-cpu`` wheel bundles the netlib reference BLAS (about 6 GFLOP/s for sgemm here). ``libmlx.so``
resolves ``cblas_sgemm`` dynamically, so a BLAS that is loaded first wins: MKL from PyPI (the ``mkl`` package,
a runtime dependency on Linux x86_64) makes LoRA training about 24x faster with identical losses
(see ../shared/perf-notes.md). ``LD_PRELOAD`` only works when set before a process starts, so the training
worker is started with it (:func:`worker_environment`); a process that has not imported mlx yet can also load
MKL into its global symbol scope (:func:`load_into_this_process`), which is what generation does.
macOS (Metal, Accelerate) and CUDA builds need none of this.
"""
from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

MKL_NAME = "libmkl_rt.so.3"
#: ``MLX_BFS_MAX_WIDTH`` for training processes (mlx reads it once, at its first eval): see worker_environment.
BFS_MAX_WIDTH = "1000000"
_loaded: str | None = None


def _wanted() -> bool:
    """Only Linux x86_64 CPU wheels carry the reference BLAS; ``FMSCRIPT_BLAS=none`` turns the preload off."""
    if os.environ.get("FMSCRIPT_BLAS", "").lower() in ("none", "off", "0", "reference"):
        return False
    return sys.platform.startswith("linux") and platform.machine() in ("x86_64", "AMD64")


def find_mkl() -> Path | None:
    """Where ``libmkl_rt.so.3`` is: ``FMSCRIPT_BLAS`` (a path), the venv's ``lib/``, or the ``mkl`` package's files."""
    env = os.environ.get("FMSCRIPT_BLAS", "")
    if env and os.path.sep in env:
        p = Path(env)
        return p if p.is_file() else None
    candidates = [Path(sys.prefix) / "lib" / MKL_NAME, Path(sys.base_prefix) / "lib" / MKL_NAME,
                  Path(sys.executable).resolve().parent.parent / "lib" / MKL_NAME]
    for c in candidates:
        if c.is_file():
            return c
    try:
        from importlib.metadata import files

        for f in files("mkl") or []:
            if f.name == MKL_NAME:
                p = Path(f.locate())
                if p.is_file():
                    return p.resolve()
    except Exception:
        pass
    return None


def worker_environment(env: dict | None = None) -> tuple[dict, str]:
    """The environment for a training process, and a one-line note on the BLAS it will use (for job events)."""
    env = dict(os.environ if env is None else env)
    if sys.platform.startswith("linux"):
        # mlx orders each eval's graph breadth-first only 20 nodes wide by default, then depth-first: the two halves
        # of cpu_streams 2 were then handed to their streams one long run at a time, and one stream waited while the
        # other worked. Unlimited, both are fed from the start (same peak memory, same one-stream speed, measured).
        env.setdefault("MLX_BFS_MAX_WIDTH", BFS_MAX_WIDTH)
        if env.get("FMSCRIPT_CPU_STREAMS", "").strip() == "2":
            for var in ("MKL_NUM_THREADS", "OMP_NUM_THREADS", "FMSCRIPT_EXT_THREADS"):  # OMP: oneDNN's threads
                env.setdefault(var, "1")
    if not _wanted():
        if sys.platform == "darwin":
            return env, "BLAS: Accelerate (macOS), no preload needed"
        if os.environ.get("FMSCRIPT_BLAS", "").lower() in ("none", "off", "0", "reference"):
            return env, "BLAS: preload turned off (FMSCRIPT_BLAS=none); mlx uses its bundled BLAS"
        return env, f"BLAS: no preload on {sys.platform}/{platform.machine()}"
    mkl = find_mkl()
    if mkl is None:
        return env, ("BLAS: MKL (libmkl_rt.so.3) not found; training uses mlx's bundled reference BLAS and is "
                     "much slower on CPU (pip install mkl)")
    current = [p for p in env.get("LD_PRELOAD", "").split() if p]
    if str(mkl) not in current:
        env["LD_PRELOAD"] = " ".join([str(mkl)] + current)
    return env, f"BLAS: MKL preloaded from {mkl}"


def load_into_this_process() -> str | None:
    """Load MKL into this process's global symbols before mlx is imported; returns the path or None.

    Does nothing once mlx is imported (its BLAS symbols are already bound) or where no preload is wanted.
    """
    global _loaded
    if _loaded is not None:
        return _loaded
    if not _wanted() or "mlx.core" in sys.modules:
        return None
    mkl = find_mkl()
    if mkl is None:
        return None
    import ctypes

    try:
        ctypes.CDLL(str(mkl), mode=ctypes.RTLD_GLOBAL)
    except OSError:
        return None
    _loaded = str(mkl)
    return _loaded


def loaded_blas() -> str:
    """Which BLAS this process has mapped (from /proc/self/maps): 'mkl', 'reference', 'accelerate' or 'unknown'."""
    if sys.platform == "darwin":
        return "accelerate"
    try:
        with open("/proc/self/maps") as f:
            maps = f.read()
    except OSError:
        return "unknown"
    if "libmkl_rt" in maps:
        return "mkl"
    if "libblas" in maps or "libopenblas" in maps:
        return "reference" if "mlx_cpu.libs/libblas" in maps else "openblas"
    return "unknown"


def sgemm_gflops(n: int = 512, repeats: int = 3) -> float:
    """A quick sgemm speed check (mlx must be importable); a sanity figure for job events, not a benchmark."""
    import time

    import mlx.core as mx

    a = mx.random.normal((n, n))
    b = mx.random.normal((n, n))
    mx.eval(a, b, a @ b)
    t = time.perf_counter()
    for _ in range(repeats):
        mx.eval(a @ b)
    dt = (time.perf_counter() - t) / repeats
    return 2 * n ** 3 / dt / 1e9


def _mkl_threads_api():
    """MKL's ``MKL_Set_Num_Threads`` / ``MKL_Get_Max_Threads`` where MKL is loaded into this process, else None."""
    if "libmkl_rt" not in (open("/proc/self/maps").read() if os.path.exists("/proc/self/maps") else ""):
        return None
    import ctypes

    try:
        lib = ctypes.CDLL(_loaded or str(find_mkl() or MKL_NAME), mode=os.RTLD_NOLOAD | ctypes.RTLD_GLOBAL)
        get, put = lib.MKL_Get_Max_Threads, lib.MKL_Set_Num_Threads
    except (OSError, AttributeError):
        return None
    get.restype, put.argtypes = ctypes.c_int, [ctypes.c_int]
    return get, put


def get_threads() -> int | None:
    """MKL's thread count in this process, None without MKL."""
    api = _mkl_threads_api()
    return api[0]() if api is not None else None


def set_threads(n: int) -> int | None:
    """MKL's thread count for every later BLAS call in this process (all threads: mlx's CPU streams each call MKL
    on their own thread, so two streams want one MKL thread each); returns the previous count, None without MKL.

    ``MKL_NUM_THREADS`` only takes effect when a process starts; this changes it for one training run."""
    api = _mkl_threads_api()
    if api is None:
        return None
    get, put = api
    old = get()
    put(max(1, int(n)))
    return old
