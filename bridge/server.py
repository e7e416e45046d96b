"""Serving the app with uvicorn: graceful shutdown on SIGTERM, and several workers.

On SIGTERM (or Ctrl-C) the bridge drains at once: readiness goes false and new
callbacks are answered 503, while uvicorn stops accepting connections and lets
the callbacks in flight finish; then the producer flushes and the process exits
0. With `BRIDGE_WORKERS` > 1, each worker is the same single-process server on
a shared port (SO_REUSEPORT, so the kernel spreads connections), and the parent
passes signals on.
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import socket
from types import FrameType

import uvicorn

from bridge.app import Bridge
from bridge.config import Settings
from bridge.logs import configure_logging

log = logging.getLogger("bridge.server")


class BridgeServer(uvicorn.Server):
    def __init__(self, bridge: Bridge) -> None:
        settings = bridge.settings
        super().__init__(
            uvicorn.Config(
                bridge,
                host=settings.host,
                port=settings.port,
                lifespan="on",
                log_config=None,
                access_log=False,
                server_header=False,
                timeout_keep_alive=int(settings.keepalive_timeout_seconds),
                # In-flight callbacks end within the produce timeout; leave the
                # rest of the grace period to the producer's flush.
                timeout_graceful_shutdown=max(1, int(settings.shutdown_grace_seconds * 3 / 4)),
                # Connections beyond this are answered 503 by uvicorn itself.
                limit_concurrency=settings.max_requests_in_flight * 4,
            )
        )
        self.bridge = bridge

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.bridge.drain()
        super().handle_exit(sig, frame)
        # uvicorn would re-raise the signal after shutting down, ending the
        # process with 128+signal; a completed drain is a clean exit.
        self._captured_signals.clear()


def serve(settings: Settings) -> int:
    """Run until stopped; the exit code is 0 after a clean drain."""
    if settings.workers == 1:
        return _serve_one(settings, None)
    return _supervise(settings)


def _serve_one(settings: Settings, sock: socket.socket | None) -> int:
    configure_logging(settings.log_level)
    server = BridgeServer(Bridge(settings))
    server.run(sockets=None if sock is None else [sock])
    return 0 if server.started else 1


def _worker(settings: Settings) -> None:
    raise SystemExit(_serve_one(settings, _shared_socket(settings)))


def _shared_socket(settings: Settings) -> socket.socket:
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((settings.host, settings.port))
    sock.set_inheritable(True)
    return sock


def _supervise(settings: Settings) -> int:
    configure_logging(settings.log_level)
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(target=_worker, args=(settings,), name=f"worker-{n}")
        for n in range(settings.workers)
    ]
    for worker in workers:
        worker.start()
    stopping = False

    def forward(sig: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for worker in workers:
            if worker.pid is not None and worker.is_alive():
                os.kill(worker.pid, sig)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, forward)
    log.info("workers started", extra={"workers": settings.workers})
    multiprocessing.connection.wait([worker.sentinel for worker in workers])
    if not stopping:
        # A worker died on its own: stop the rest and let the orchestrator restart us.
        log.error("a worker exited unexpectedly; stopping the others")
        forward(signal.SIGTERM, None)
    for worker in workers:
        worker.join()
    codes = [worker.exitcode or 0 for worker in workers]
    return 0 if stopping and not any(codes) else 1
