"""Serve an ASGI app with uvicorn on a socket bound up front, inside the running event loop.

Binding first means a busy port is reported before anything starts, port 0 picks a free one,
and the caller knows the real address before the first request.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import uvicorn
from starlette.applications import Starlette

__all__ = ["PortInUse", "Serving", "bind", "running_server"]

STARTUP_TIMEOUT_SECONDS = 30.0


class PortInUse(Exception):
    """The host and port cannot be bound (taken, or not an address of this machine)."""


def bind(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` (0: any free port), not yet listening."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise PortInUse(f"cannot listen on {host}:{port}: {error.strerror}") from error
    return sock


def base_url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


@dataclass(frozen=True, slots=True)
class Serving:
    url: str
    """The base URL, e.g. ``http://127.0.0.1:8000``."""
    task: asyncio.Task[None]
    """Ends when the server stops by itself (Ctrl-C): ``await serving.task``."""


@asynccontextmanager
async def running_server(app: Starlette, sock: socket.socket) -> AsyncIterator[Serving]:
    """Run ``app`` on ``sock`` until the block ends or the server stops by itself (Ctrl-C).
    Startup, including the app's lifespan, is complete when the block begins; leaving it
    shuts the server, and with it the lifespan, down."""
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve(sockets=[sock]), name="demo-server")
    try:
        await _wait_started(server, serving)
        yield Serving(url=base_url(sock), task=serving)
    finally:
        server.should_exit = True
        await serving
        sock.close()


async def _wait_started(server: uvicorn.Server, serving: asyncio.Task[None]) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STARTUP_TIMEOUT_SECONDS
    while not server.started:
        if serving.done():
            serving.result()  # re-raise a startup error as it is
            raise RuntimeError("the server stopped during startup (see the log above)")
        if loop.time() > deadline:
            raise RuntimeError(f"the server did not start within {STARTUP_TIMEOUT_SECONDS:.0f} s")
        await asyncio.sleep(0.05)
