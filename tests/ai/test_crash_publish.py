"""kill -9 at every step of publishing an adapter (issue 17): the name always answers with one whole adapter, the
old one or the new one, never a half-written folder, and publishing again finishes the job."""
import os
import subprocess
import sys

import pytest

from fmscript.ai import modelstore

# The child publishes "fm-mlx-x" again and kills itself at the k-th file-system step of install_adapter:
# 0 the staged folder moved into the store, 1 the new link written, 2 the link swapped, 3 the old folder removed.
CHILD = r"""
import os, shutil, signal, sys
from pathlib import Path
from fmscript.ai import modelstore
k, staged = int(sys.argv[1]), Path(sys.argv[2])
calls = [0]
def step(real):
    def run(*a, **kw):
        if calls[0] == k:
            os.kill(os.getpid(), signal.SIGKILL)
        calls[0] += 1
        return real(*a, **kw)
    return run
os.replace, os.symlink, shutil.rmtree = step(os.replace), step(os.symlink), step(shutil.rmtree)
modelstore.install_adapter("fm-mlx-x", staged, "fm-ftjob-2")
"""


def staged_adapter(folder, base, job_id: str, weights: bytes):
    folder.mkdir(parents=True)
    (folder / "adapter_config.json").write_text("{}")
    (folder / "adapters.safetensors").write_bytes(weights)
    modelstore.write_pointer(folder, base_model="base", base_path=base, job_id=job_id, fine_tuned_model="fm-mlx-x")
    return folder


def published() -> tuple[str, bytes]:
    tuned = [m for m in modelstore.list_models() if m["kind"] == "tuned"]
    assert [m["id"] for m in tuned] == ["fm-mlx-x"], tuned  # listed once, nothing half-written beside it
    r = modelstore.resolve_model("fm-mlx-x")
    return modelstore.read_pointer(r.adapter_path)["job_id"], (r.adapter_path / "adapters.safetensors").read_bytes()


@pytest.mark.parametrize("k", [0, 1, 2, 3], ids=["moved", "linked", "swapped", "old-removed"])
def test_killed_while_publishing_an_adapter(tmp_path, k):
    base = tmp_path / "base"
    base.mkdir()
    (base / "config.json").write_text("{}")
    stage_root = modelstore.tuned_root() / modelstore.STORE
    modelstore.install_adapter("fm-mlx-x", staged_adapter(stage_root / ".tmp-1", base, "fm-ftjob-1", b"old"),
                               "fm-ftjob-1")
    new = staged_adapter(stage_root / ".tmp-2", base, "fm-ftjob-2", b"new")
    r = subprocess.run([sys.executable, "-P", "-c", CHILD, str(k), str(new)], capture_output=True, timeout=120)
    assert r.returncode == -9, r.stderr.decode()  # killed at that step, not before or after it
    assert published() in (("fm-ftjob-1", b"old"), ("fm-ftjob-2", b"new"))
    # The job is resumed and publishes again from a fresh stage: the new adapter, and no store left behind.
    modelstore.install_adapter("fm-mlx-x", staged_adapter(stage_root / ".tmp-3", base, "fm-ftjob-2", b"new"),
                               "fm-ftjob-2")
    assert published() == ("fm-ftjob-2", b"new")
    assert not [p.name for p in modelstore.tuned_root().iterdir() if p.name.startswith(".link-")]
