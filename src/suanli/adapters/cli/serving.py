"""Serving the API on a port this process binds itself, before anything else starts: a port in
use is one line, not a traceback, and "serving on" is printed only once the server listens."""

from __future__ import annotations

import errno
import socket
import threading
from collections.abc import Callable
from types import FrameType

import typer
import uvicorn

from suanli.adapters.cli.output import EXIT_SERVER, error

BACKLOG = 2048  # uvicorn's default


def listen(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host`` and ``port`` and listening (connections wait in its backlog
    until the server accepts them); a one-line error, exit code 1, when that is refused."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP said explicitly: asyncio turns Nagle's algorithm off (TCP_NODELAY) only on
    # sockets whose protocol reads as TCP, and with it on, each small answer waits for the
    # client's delayed ACK (about 40 ms: 23 jobs/s instead of 780 for one client, in bench_api).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn: TIME_WAIT is no obstacle
        sock.bind((host, port))
        sock.listen(BACKLOG)
    except OSError as refused:
        sock.close()
        if refused.errno == errno.EADDRINUSE:
            message = f"port {port} on {host} is in use; pass --port or stop the other process"
        else:
            message = f"cannot listen on {host} port {port}: {refused.strerror or refused}"
        raise error(message, code=EXIT_SERVER) from None
    return sock


def url_of(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


class Server(uvicorn.Server):
    """A uvicorn server that says when it serves (``on_started``, then ``ready`` is set). Given a
    ``stop``, it stops in two steps: a first signal only sets ``stop`` (whoever watches it ends the
    server when done: ``should_exit``), with ``stop_s`` as a fallback; a second one ends it now."""

    def __init__(
        self,
        config: uvicorn.Config,
        *,
        on_started: Callable[[], None],
        stop: threading.Event | None = None,
        stop_s: float = 3.0,
    ) -> None:
        super().__init__(config)
        self.stop, self.stop_s, self.on_started = stop, stop_s, on_started
        self.ready = threading.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            self.on_started()
            self.ready.set()

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.stop is None or self.stop.is_set():
            super().handle_exit(sig, frame)
            return
        self.stop.set()
        fallback = threading.Timer(self.stop_s, setattr, (self, "should_exit", True))
        fallback.daemon = True
        fallback.start()


def serve(config: uvicorn.Config, listener: socket.socket, *, banner: str) -> None:
    """Runs ``config``'s app on ``listener`` (from ``listen``) until a signal, and says ``banner``
    once it serves: when its one process has started, or, with several worker processes, once
    the port is held (each worker accepts on it as soon as it has started)."""
    try:
        if config.workers > 1:
            from uvicorn.supervisors import Multiprocess

            typer.echo(banner)
            Multiprocess(config, sockets=[listener]).run()
        else:
            Server(config, on_started=lambda: typer.echo(banner)).run(sockets=[listener])
    except KeyboardInterrupt:  # uvicorn raises the Ctrl-C it caught again once it has stopped
        pass
    finally:
        listener.close()
