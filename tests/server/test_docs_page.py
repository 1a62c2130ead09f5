"""``/docs`` of ``fmscript serve`` works without internet: its page, scripts and styles come from the server
itself, and a real headless browser renders the API's operations from them."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from .harness import ServerProcess, free_port, http


@pytest.fixture(scope="module")
def keyless_server(tmp_path_factory):
    """A real ``fmscript serve`` on loopback without a key (a browser cannot send the Bearer header)."""
    srv = ServerProcess(tmp_path_factory.mktemp("docs") / "fmhome", key=None).start()
    try:
        yield srv
    finally:
        srv.stop()


def test_the_page_names_only_its_own_server(keyless_server):
    root = f"http://127.0.0.1:{keyless_server.port}"
    page = http("GET", root + "/docs")
    assert page.status_code == 200
    html = page.content.decode()
    refs = re.findall(r'(?:src|href)="([^"]+)"', html) + re.findall(r"url: '([^']+)'", html)
    assert refs and all(r.startswith("/") and not r.startswith("//") for r in refs), refs
    assert "https://" not in html and "http://" not in html
    for ref in refs:
        assert http("GET", root + ref).status_code == 200, ref


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(_chromium() is None, reason="chromium is not installed (Debian: apt-get install chromium)")
def test_a_headless_browser_renders_the_operations_offline(keyless_server, tmp_path):
    root = f"http://127.0.0.1:{keyless_server.port}"
    netlog, shot = tmp_path / "net.json", tmp_path / "docs.png"
    # Everything that is not loopback goes to a proxy port where nothing listens: as on a machine offline.
    # Chromium always connects to loopback directly.
    dead_proxy = f"http://127.0.0.1:{free_port()}"
    r = subprocess.run(
        [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
         f"--proxy-server={dead_proxy}", f"--log-net-log={netlog}", "--virtual-time-budget=10000",
         "--window-size=1280,1800", f"--screenshot={shot}", "--dump-dom", root + "/docs"],
        capture_output=True, text=True, timeout=180)
    dom = r.stdout
    assert r.returncode == 0, r.stderr[-2000:]
    # Swagger UI ran and drew one operation block per path and method of the API.
    paths = set(re.findall(r'class="opblock opblock-\w+[^"]*"[^>]*>.*?data-path="([^"]+)"', dom, re.S))
    assert {"/v1/chat/completions", "/v1/fine_tuning/jobs", "/v1/files", "/v1/models", "/health"} <= paths, dom[:2000]
    assert "Unable to render" not in dom
    assert shot.stat().st_size > 10_000
    # Every request the page made (its own network partition) went to this server, and they include the
    # scripts, styles and the OpenAPI document. The browser's own update and account checks are not the page's.
    log = json.loads(netlog.read_text())
    names = {v: k for k, v in log["constants"]["logEventTypes"].items()}
    page_urls = [e["params"]["url"] for e in log["events"]
                 if names.get(e["type"]) == "URL_REQUEST_START_JOB" and "url" in e.get("params", {})
                 and e["params"].get("network_isolation_key", "").startswith("http://127.0.0.1")]
    assert page_urls and all(u.startswith(root + "/") for u in page_urls), page_urls
    loaded = {u[len(root):].split("?")[0] for u in page_urls}
    assert "/openapi.json" in loaded and any(u.endswith(".js") for u in loaded) and \
        any(u.endswith(".css") for u in loaded), loaded
