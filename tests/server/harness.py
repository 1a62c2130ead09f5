"""Test harness for ``fmscript serve``: the REAL server in a subprocess on a free loopback port, with its own home,
and helpers to wait for jobs and find worker processes."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import urllib.error
import urllib.parse
import urllib.request

KEY = "fmtest-9f1c2b7e44d04a7b"
BASE = "fmscript/tiny-chat"
EXAMPLE_BASE = "google/codegemma-7b-it"

#: The eight questions the tiny model learns, shared with tests/ai (tests/fixtures/eight_answers.tsv).
QA = [tuple(line.split("\t")) for line in
      (Path(__file__).resolve().parents[1] / "fixtures" / "eight_answers.tsv").read_text(encoding="utf-8").splitlines()]
#: Enough for the tiny model to learn the 8 answers (a few seconds on 2 cores).
LEARN = {"max_steps": 100, "learning_rate": "3e-3", "batch_size": 4, "steps_per_report": 10}


def jsonl(pairs=QA) -> str:
    return "".join(json.dumps({"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]},
                              ensure_ascii=False) + "\n" for q, a in pairs)


class Response:
    """What a plain HTTP request got back (the standard library's client: the tests need no HTTP package of their
    own beside the ``openai`` SDK under test)."""

    def __init__(self, status_code: int, headers, body: bytes):
        self.status_code = status_code
        self.headers = {k.lower(): v for k, v in headers.items()}
        self.content = body

    def json(self):
        return json.loads(self.content)


def http(method: str, url: str, headers: dict | None = None, json_body=None, params: dict | None = None,
         timeout: float = 30) -> Response:
    if params:
        url += "?" + urllib.parse.urlencode(params)
    data = None
    headers = dict(headers or {})
    if json_body is not None:
        data = json.dumps(json_body).encode()
        headers["Content-Type"] = "application/json"
    elif method in ("POST", "PUT", "PATCH"):
        data = b""
    req = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return Response(r.status, r.headers, r.read())
    except urllib.error.HTTPError as e:
        return Response(e.code, e.headers, e.read())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def worker_processes(home: Path) -> list[int]:
    """Pids of live training workers of ``home`` (read from /proc: command line, environment, session)."""
    out = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            cmd = (d / "cmdline").read_bytes().split(b"\0")
            if b"fmscript.ai.worker" not in cmd:
                continue
            env = (d / "environ").read_bytes().split(b"\0")
            fields = (d / "stat").read_text().split(")")[-1].split()
        except OSError:
            continue
        state, session = fields[0], int(fields[3])
        # A worker leads its own session (ensure_worker starts it so); a short-lived fork of a worker (a library
        # looking something up with a subprocess) shares its session and is not a second worker.
        if f"FMSCRIPT_HOME={home}".encode() in env and state != "Z" and session == int(d.name):
            out.append(int(d.name))
    return out


class ServerProcess:
    """``python -m fmscript serve --port <free>`` with a temporary home; ``kill9()`` simulates a crash."""

    def __init__(self, home: Path, key: str | None = KEY, port: int | None = None, extra_env: dict | None = None):
        self.home = Path(home)
        self.key = key
        self.port = port or free_port()
        self.extra_env = extra_env or {}
        self.proc: subprocess.Popen | None = None
        self.start_args: list[str] = []
        self.log_path = self.home.parent / f"{self.home.name}-server.log"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def headers(self) -> dict:
        return {"Authorization": f"Bearer {self.key}"} if self.key else {}

    def env(self) -> dict:
        env = dict(os.environ)
        env.update({"FMSCRIPT_HOME": str(self.home), "HF_HUB_OFFLINE": "1", "NO_COLOR": "1"})
        env.pop("FMSCRIPT_API_KEY", None)
        if self.key:
            env["FMSCRIPT_API_KEY"] = self.key
        env.update(self.extra_env)
        return env

    def start(self, timeout: float = 60.0) -> "ServerProcess":
        self.home.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "fmscript", "serve", "--port", str(self.port),
                                      *self.start_args],
                                     cwd=str(self.home.parent), env=self.env(), stdout=log, stderr=log,
                                     stdin=subprocess.DEVNULL)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"the server exited ({self.proc.returncode}):\n{self.log()}")
            try:
                r = http("GET", f"http://127.0.0.1:{self.port}/health", headers=self.headers, timeout=2)
                if r.status_code == 200:
                    return self
            except OSError:  # not listening yet (URLError and timeouts are OSErrors)
                pass
            time.sleep(0.1)
        raise AssertionError(f"the server did not answer within {timeout}s:\n{self.log()}")

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def kill9(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill9()
        wait_until(lambda: not worker_processes(self.home), 30, "the worker to stop with its server")

    # Small HTTP helpers for checks that do not go through the SDK.
    def get(self, path: str, **kw):
        return http("GET", self.base_url + path, headers=self.headers, **kw)

    def post(self, path: str, **kw):
        return http("POST", self.base_url + path, headers=self.headers, **kw)

    def health(self) -> dict:
        return http("GET", f"http://127.0.0.1:{self.port}/health", headers=self.headers).json()

    def client(self, key: str | None = None, **kw):
        import openai

        return openai.OpenAI(api_key=key or self.key or "none", base_url=self.base_url, max_retries=0, **kw)

    def job(self, job_id: str) -> dict:
        return self.get(f"/fine_tuning/jobs/{job_id}").json()

    def wait_job(self, job_id: str, statuses=("succeeded", "failed", "cancelled"), timeout: float = 120.0) -> dict:
        return wait_until(lambda: (lambda j: j if j["status"] in statuses else None)(self.job(job_id)), timeout,
                          f"job {job_id} to reach {statuses}")

    def drain(self) -> None:
        """Cancel whatever is still queued or running, so the next test starts with an empty queue."""
        for j in self.get("/fine_tuning/jobs", params={"limit": 1000}).json()["data"]:
            if j["status"] in ("queued", "running"):
                self.post(f"/fine_tuning/jobs/{j['id']}/cancel")


def wait_until(cond, timeout: float = 60.0, what: str = "a condition", poll: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def make_models(home: Path) -> None:
    from fmscript.ai.tinymodel import create_tiny

    create_tiny(BASE, home=home)
    create_tiny(EXAMPLE_BASE, home=home)


