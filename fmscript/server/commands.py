"""``fmscript serve [--host 127.0.0.1] [--port 8765] [--allow-remote-without-key]``.

The key comes from ``FMSCRIPT_API_KEY`` only (a key on the command line would show in ``ps``). Without a key the
server listens on loopback only, unless ``--allow-remote-without-key`` says otherwise.
"""
from __future__ import annotations

import ipaddress
import os
import socket
import sys

from . import DEFAULT_HOST, DEFAULT_PORT


def add_commands(subparsers) -> None:
    s = subparsers.add_parser(
        "serve", help="serve the local engine as an OpenAI-compatible HTTP API",
        description="Serve this fmscript home's models and fine-tuning queue over an OpenAI-compatible HTTP API "
                    f"(default http://{DEFAULT_HOST}:{DEFAULT_PORT}/v1). The API key comes from FMSCRIPT_API_KEY; "
                    "when it is set, every request needs 'Authorization: Bearer <key>'.")
    s.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST})")
    s.add_argument("--port", type=int, default=DEFAULT_PORT,
                   help=f"port to listen on (default {DEFAULT_PORT}; 0 picks a free one)")
    s.add_argument("--allow-remote-without-key", action="store_true",
                   help="listen on a non-loopback address even though FMSCRIPT_API_KEY is not set")
    s.add_argument("--log-level", default="warning", choices=("critical", "error", "warning", "info", "debug"),
                   help="uvicorn's log level on stderr (default warning; info logs every request)")
    s.set_defaults(func=cmd_serve)


def is_loopback(host: str) -> bool:
    """True when every address ``host`` stands for is a loopback address."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(i[4][0].split("%")[0]).is_loopback for i in infos)


def _listen(host: str, port: int) -> socket.socket:
    from fmscript.errors import UsageError

    try:
        infos = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError as e:
        raise UsageError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
    family, _, _, _, addr = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(addr)
        sock.listen(2048)
    except OSError as e:
        sock.close()
        raise UsageError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
    sock.set_inheritable(True)
    return sock


def cmd_serve(args) -> int:
    from fmscript import home as fmhome
    from fmscript.errors import UsageError

    key = os.environ.get("FMSCRIPT_API_KEY") or None
    if not is_loopback(args.host) and not key and not args.allow_remote_without_key:
        raise UsageError(f"refusing to listen on {args.host} without an API key: set FMSCRIPT_API_KEY, or pass "
                         "--allow-remote-without-key if every machine that can reach this address may use it")
    if not (0 <= args.port <= 65535):
        raise UsageError(f"--port must be between 0 and 65535, not {args.port}")
    sock = _listen(args.host, args.port)
    port = sock.getsockname()[1]
    import uvicorn

    from .app import create_app

    app = create_app(api_key=key)
    shown = f"[{args.host}]" if ":" in args.host else args.host
    sys.stderr.write(f"fmscript serve: listening on http://{shown}:{port}/v1 (home {fmhome.home(ensure=True)}; "
                     f"{'API key required' if key else 'no API key'}); "
                     f"Admin Console: http://{shown}:{port}/console\n")
    if not key and not is_loopback(args.host):
        sys.stderr.write("fmscript serve: warning: no API key (FMSCRIPT_API_KEY): anyone who can reach this address "
                         "can train and use models here\n")
    sys.stderr.flush()
    from .protocol import ReadDeadlineProtocol

    config = uvicorn.Config(app, log_level=args.log_level, access_log=args.log_level in ("info", "debug"),
                            timeout_graceful_shutdown=5, http=ReadDeadlineProtocol)
    server = uvicorn.Server(config)
    server.run(sockets=[sock])
    return 0
