"""Fixtures for ``fmscript serve``.

``server`` is shared by the API, provider, load and example tests (one queue: each test leaves no job queued or
running behind it); the kill -9 test starts servers of its own with :class:`.harness.ServerProcess`.
"""
from __future__ import annotations

import pytest

from .harness import ServerProcess, make_models


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    home = tmp_path_factory.mktemp("server") / "fmhome"
    make_models(home)
    srv = ServerProcess(home).start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def drained(server):
    """The shared server, with nothing of this test left in its queue afterwards."""
    yield server
    server.drain()


@pytest.fixture
def remote_env(monkeypatch):
    """Providers answer fast in tests: no retries, short polls."""
    monkeypatch.setenv("FMSCRIPT_AI_MAX_RETRIES", "0")
    monkeypatch.setenv("FMSCRIPT_AI_POLL", "0.3")
