"""The Admin Console: the web pages of ``fmscript serve`` at ``/console`` for the people who run the server.

Server-rendered jinja2 pages over the same job store, model store and endpoint functions as the HTTP API (an
upload is validated by the API's own code), a little JavaScript that swaps in server-rendered fragments while a
job runs, and a loss chart drawn as SVG on the server. Nothing loads from outside the server.

Layout: :mod:`.routes` (the pages), :mod:`.auth` (the login cookie and CSRF tokens), :mod:`.keys` (named API
keys, stored hashed in the home's ``jobs.sqlite``), :mod:`.i18n` (English and zh-Hans strings), :mod:`.health`
(what the Server page reports), :mod:`.charts` (the SVG). See ``docs/console.md``.
"""
from __future__ import annotations

#: Paths the console answers itself (its own login); the API's Bearer check leaves them alone.
PREFIX = "/console"


def install(app, api_key: str | None) -> None:
    """Add the console's pages, its static files and the ``/`` redirect to ``app``."""
    from .routes import install as _install

    _install(app, api_key)


def is_console_path(path: str) -> bool:
    """True for the console's own paths (and ``/``, which redirects to it)."""
    return path == "/" or path == PREFIX or path.startswith(PREFIX + "/")
