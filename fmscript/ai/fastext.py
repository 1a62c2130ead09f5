"""fmscript's mlx C++ extension (``ext/fmext.cpp``): built against the installed mlx on first use, cached, optional.

Why: two things mlx's Linux CPU back end does slowly have no remedy in Python (bench/README.md has the figures):
the log-sum-exp of a (tokens x vocab) loss, which mlx runs as several scalar passes, attention (mlx copies each
head view before every matmul, and masks, scales and normalises in separate passes on one thread), and bf16
matrix products,
which mlx runs in its own scalar loop instead of a bf16 GEMM (oneDNN's, where Debian's ``libdnnl-dev`` is
installed, else MKL's). mlx documents custom primitives as C++ extensions built with nanobind against its
headers and CMake config, which the ``mlx-cpu`` wheel ships.

Why on first use and not in the wheel: the wheel is pure Python, and an extension is tied to the exact mlx (its C++
ABI) and nanobind (its internals version) in the environment, which a user may upgrade after installing fmscript.
So the sources ship in the wheel and are compiled into the home's cache (``cache/fmext/<key>/``, or
``FMSCRIPT_EXT_DIR``), keyed by the sources, mlx, nanobind, Python, the CPU and whether oneDNN is installed; a machine without a compiler,
CMake or nanobind, or ``FMSCRIPT_EXT=off``, gets the pure-mlx functions instead (:func:`status` says why).
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

SOURCES = Path(__file__).with_name("ext")
_MODULE = "_fmext"
_state: dict = {}


def _cpu_flags() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return line
    except OSError:
        pass
    return platform.processor()


def _key() -> str:
    import mlx.core as mx

    try:
        import nanobind

        nb = nanobind.__version__
    except ImportError:
        nb = "none"
    h = hashlib.sha256()
    for f in sorted(SOURCES.iterdir()):
        if f.suffix in (".cpp", ".txt", ".h"):
            h.update(f.name.encode() + b"\0" + f.read_bytes())
    import ctypes.util

    dnnl = ctypes.util.find_library("dnnl") or ""  # installing oneDNN later gives a new build that uses it
    h.update(f"{mx.__version__}|{nb}|{sys.version}|{platform.machine()}|{_cpu_flags()}|{dnnl}".encode())
    return h.hexdigest()[:16]


def _build_dir() -> Path:
    env = os.environ.get("FMSCRIPT_EXT_DIR")
    if env:
        return Path(env).expanduser()
    from fmscript.home import cache_dir

    return cache_dir(ensure=True) / "fmext"


def _why_not_buildable() -> str | None:
    if not sys.platform.startswith("linux"):
        return "the extension is built on Linux only (macOS and CUDA use mlx's own kernels)"
    if importlib.util.find_spec("nanobind") is None:
        return "nanobind is not installed (pip install nanobind)"
    for tool in ("cmake", "c++"):
        if shutil.which(tool) is None:
            return f"no {tool} on PATH"
    return None


def _build(dest: Path) -> None:
    """Configure and compile into a temporary folder, then move the module into ``dest`` (owner-only)."""
    import mlx.core
    import nanobind

    from fmscript.home import private

    # mlx is a namespace package (any folder called mlx on sys.path joins it): start from its compiled module
    mlx_cmake = Path(mlx.core.__file__).parent / "share" / "cmake" / "MLX"
    with private():  # everything fmscript writes is owner-only, the build folder too
        dest.parent.mkdir(parents=True, exist_ok=True)
        _build_in(dest, mlx_cmake, nanobind.cmake_dir())


def _build_in(dest: Path, mlx_cmake: Path, nanobind_cmake: str) -> None:
    with tempfile.TemporaryDirectory(prefix=".build-", dir=dest.parent) as tmp:
        arch = "-march=native" if platform.machine() in ("x86_64", "AMD64") else ""
        cmd = ["cmake", "-S", str(SOURCES), "-B", tmp, "-DCMAKE_BUILD_TYPE=Release",
               f"-DPython_EXECUTABLE={sys.executable}", f"-Dnanobind_DIR={nanobind_cmake}",
               f"-DMLX_DIR={mlx_cmake}", f"-DFMEXT_ARCH_FLAGS={arch}"]
        if os.environ.get("FMSCRIPT_EXT_DNNL", "").lower() in ("off", "0", "no"):
            cmd.append("-DFMEXT_NO_DNNL=ON")
        for c in (cmd, ["cmake", "--build", tmp, "-j", "2"]):
            r = subprocess.run(c, capture_output=True, text=True)
            if r.returncode:
                raise RuntimeError(f"{' '.join(c[:2])} failed: {(r.stderr or r.stdout)[-1500:]}")
        built = next(Path(tmp).glob(f"{_MODULE}*.so"))
        staged = Path(tmp) / "staged"
        staged.mkdir()
        shutil.copy2(built, staged / built.name)
        os.chmod(staged / built.name, 0o600)
        os.chmod(staged, 0o700)
        try:
            os.replace(staged, dest)
        except OSError:
            if not dest.is_dir():  # another process built it meanwhile: use theirs
                raise


def _import(folder: Path):
    so = next(folder.glob(f"{_MODULE}*.so"))
    spec = importlib.util.spec_from_file_location(_MODULE, so)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def load():
    """The extension module, building it first if needed; None where it cannot be had (see :func:`status`)."""
    if "module" in _state:
        return _state["module"]
    mod, why = None, None
    if os.environ.get("FMSCRIPT_EXT", "").lower() in ("off", "0", "no", "none"):
        why = "turned off (FMSCRIPT_EXT=off)"
    else:
        try:
            import mlx.core as mx

            if mx.default_device() != mx.cpu:
                why = "mlx runs on a GPU here; its own kernels are used"
            else:
                folder = _build_dir() / _key()
                if not folder.is_dir():
                    why = _why_not_buildable()
                    if why is None:
                        _build(folder)
                if why is None:
                    mod = _import(folder)
                    # mx.array must cross into the module (same nanobind domain and internals as mlx's own)
                    probe = mod.cross_entropy(mx.zeros((1, 2)), mx.zeros((1,), dtype=mx.int32))
                    mx.eval(probe)
        except Exception as e:  # a failed build or import is a slower run, never a failed one
            mod, why = None, f"{type(e).__name__}: {str(e)[-600:]}"
    _state["module"], _state["why"] = mod, why
    return mod


def status() -> str:
    """One line for job events: what the extension gives this process, or why it is not used."""
    mod = load()
    if mod is None:
        return f"C++ kernels: not used ({_state.get('why')})"
    gemm = mod.bf16_gemm()
    return f"C++ kernels: fused cross-entropy, causal and packed attention, bf16 GEMM {gemm or 'unavailable'}"


def cross_entropy():
    """The extension's per-token cross-entropy over (..., V) logits, or None."""
    mod = load()
    if mod is None:
        return None

    def fused_cross_entropy(logits, targets):
        shape = targets.shape
        v = logits.shape[-1]
        return mod.cross_entropy(logits.reshape(-1, v), targets.reshape(-1)).reshape(shape)

    return fused_cross_entropy


def causal_attention():
    """The extension's causal attention ``(q, k, v, scale)`` on float32 (B, H, T, D) arrays, or None."""
    mod = load()
    return mod.causal_attention if mod is not None else None


def packed_attention():
    """The extension's RoPE + causal attention over packed rows (see ``mlxlite.packed_forward``), or None."""
    mod = load()
    return mod.packed_attention if mod is not None else None


def bf16_gemm() -> str:
    """'oneDNN' or 'MKL' when :func:`bf16_linear` can run here, else ''."""
    mod = load()
    return mod.bf16_gemm() if mod is not None else ""


def bf16_linear(x, weight):
    """``x @ weight.T`` for float32 ``x`` and a frozen bfloat16 ``weight`` (the extension must be loaded)."""
    return _state["module"].bf16_linear(x, weight)


def set_threads(n: int) -> int | None:
    """Threads for the attention kernels from now on (``FMSCRIPT_EXT_THREADS`` sets the first count); returns the
    previous count, or None when the extension is not loaded (then there is nothing to set)."""
    mod = _state.get("module")
    return mod.set_threads(int(n)) if mod is not None else None


def threads() -> int | None:
    """Threads the attention kernels use now, None when the extension is not loaded."""
    mod = _state.get("module")
    return mod.threads() if mod is not None else None
