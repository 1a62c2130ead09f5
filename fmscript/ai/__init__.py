"""The embedded local AI engine: models, training data, LoRA jobs, a worker process and generation.

Import-light on purpose: nothing here imports mlx until training or generation actually runs, so that parsing
or checking a script stays fast. The front object is :class:`fmscript.ai.local.LocalEngine`.
"""
from __future__ import annotations

__all__ = ["LocalEngine"]


def __getattr__(name):
    if name == "LocalEngine":
        from fmscript.ai.local import LocalEngine

        return LocalEngine
    raise AttributeError(name)
