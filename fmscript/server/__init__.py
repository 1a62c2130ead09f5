"""``fmscript serve``: an OpenAI-compatible HTTP API over the local fine-tuning engine of one fmscript home.

Layout: :mod:`.app` builds the ASGI app (key check, OpenAI's error object, the worker keep-alive);
:mod:`.files`, :mod:`.fine_tuning`, :mod:`.models` and :mod:`.chat` hold the endpoints; :mod:`.console` is the
Admin Console's web pages at ``/console``; :mod:`.commands` adds the ``serve`` command to the CLI. See
``docs/server.md`` and ``docs/console.md``.
"""
from __future__ import annotations

DEFAULT_PORT = 8765
DEFAULT_HOST = "127.0.0.1"


def create_app(api_key: str | None = None, engine=None):
    """The ASGI app (FastAPI). ``api_key``: the Bearer key every request must carry (None: no check)."""
    from .app import create_app as _create

    return _create(api_key=api_key, engine=engine)
