"""Serve a judge backend as an OpenAI-compatible API.

`judgebench serve`, a command contributed by this plugin (entry point ``serve`` in the ``judgebench.commands``
group): any judge backend at /v1/chat/completions and /v1/models.  This module imports only the public API; the
server (fastapi, uvicorn) is imported when the command runs.
"""
from __future__ import annotations

import argparse
import ipaddress
import os
import socket
import sys

from judgebench import ConfigError, MissingExtra
from judgebench.plugin import add_backend_args, backend_from_args

TOKEN_ENV = "JUDGEBENCH_SERVE_TOKEN"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="serve a judge backend as an OpenAI-compatible API",
                       description="Serve a judge backend at /v1/chat/completions and /v1/models. Clients: "
                                   "`--backend openai:MODEL-NAME -o base_url=http://HOST:PORT/v1`, the openai SDK, "
                                   "lm-evaluation-harness local-chat-completions …")
    add_backend_args(p)
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8000, help="port (0: any free port; the URL is printed)")
    p.add_argument("--model-name", help="model id clients ask for (default: the --backend spec, e.g. hf:smollm2)")
    p.add_argument("--token", help=f"require 'Authorization: Bearer TOKEN' (default: ${TOKEN_ENV} when set; "
                                   f"prefer the variable, a flag shows in the process list)")
    p.add_argument("--max-batch", type=int, help="most requests per backend call (default: the backend's batch size)")
    p.add_argument("--batch-wait-ms", type=float, default=5.0, help="how long to gather a batch (default 5 ms)")
    p.add_argument("--max-request-bytes", type=int, default=4 * 1024 * 1024,
                   help="largest request body accepted (default 4 MiB); bigger ones get 413 unread")
    p.add_argument("--log-level", default="warning", choices=["critical", "error", "warning", "info", "debug"])
    p.set_defaults(func=run)


def _bind(host: str, port: int) -> socket.socket:
    try:
        family, kind, proto, _, addr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as e:
        raise ConfigError(f"--host {host}: {e.strerror}") from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(addr)
    except OSError as e:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {e.strerror}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def run(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from .server import create_app
    except ImportError as e:
        raise MissingExtra("judgebench serve", "serve", e) from None
    token = args.token or os.environ.get(TOKEN_ENV) or None
    if not _is_loopback(args.host) and not token:
        print(f"judgebench serve: warning: listening on {args.host} without a token; anyone who can reach this "
              f"machine can use the judge (set ${TOKEN_ENV})", file=sys.stderr)
    if args.max_request_bytes < 1:
        raise ConfigError(f"--max-request-bytes {args.max_request_bytes}: expected a positive number of bytes")
    model_name = args.model_name or args.backend
    backend = backend_from_args(args)
    try:
        app = create_app(backend, model_name, token, max_batch=args.max_batch, batch_wait_s=args.batch_wait_ms / 1000,
                         max_request_bytes=args.max_request_bytes)
        sock = _bind(args.host, args.port)
        host, port = sock.getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        print(f"judgebench serve: {model_name} at http://{shown}:{port}/v1 (backend {backend.info().get('class')}"
              f"{', bearer token required' if token else ''}); Ctrl-C stops", flush=True)
        server = uvicorn.Server(uvicorn.Config(app, log_level=args.log_level, access_log=args.log_level == "info"))
        try:
            server.run(sockets=[sock])
        except KeyboardInterrupt:  # uvicorn shuts down gracefully, then re-raises the Ctrl-C it caught
            pass
        print("judgebench serve: stopped", file=sys.stderr)
    finally:
        backend.close()
    return 0
