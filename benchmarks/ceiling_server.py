"""The HTTP ceiling, for the benchmark only: the bridge's own server, middleware, auth and
decoding, with publishing switched to a no-op. What the bridge does beyond this is Kafka.

    BRIDGE_AUTH_TOKENS=... BRIDGE_PORT=8081 python -m benchmarks.ceiling_server

It reads the same `BRIDGE_*` settings as `bridge serve` (Kafka ones are unused) and,
with `BRIDGE_WORKERS` > 1, runs that many such servers on one port (SO_REUSEPORT),
as `bridge serve` does. Nothing in the production settings can reach it.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import sys
from collections.abc import Sequence
from types import FrameType

from bridge.http.app import Bridge
from bridge.http.server import BridgeServer
from bridge.logs import configure_logging
from bridge.records import OutgoingRecord
from bridge.settings import Settings, SettingsError, load_settings


class NoopPublisher:
    """Acknowledges every record at once and keeps none."""

    ready = True

    async def publish(self, records: Sequence[OutgoingRecord]) -> None:
        return None


def serve(settings: Settings, sock: socket.socket | None = None) -> int:
    configure_logging(settings.log_level)
    server = BridgeServer(Bridge(settings, publisher=NoopPublisher()))
    server.run(sockets=None if sock is None else [sock])
    return 0 if server.started else 1


def _shared_socket(settings: Settings) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((settings.host, settings.port))
    return sock


def _worker(settings: Settings) -> None:
    raise SystemExit(serve(settings, _shared_socket(settings)))


def supervise(settings: Settings) -> int:
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_worker, args=(settings,)) for _ in range(settings.workers)]
    for worker in workers:
        worker.start()

    def forward(sig: int, frame: FrameType | None) -> None:
        for worker in workers:
            if worker.pid is not None and worker.is_alive():
                os.kill(worker.pid, sig)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, forward)
    for worker in workers:
        worker.join()
    return max(worker.exitcode or 0 for worker in workers)


def main() -> int:
    try:
        settings = load_settings()
    except SettingsError as error:
        print(f"ceiling_server: {error}", file=sys.stderr)
        return 2
    return serve(settings) if settings.workers == 1 else supervise(settings)


if __name__ == "__main__":
    raise SystemExit(main())
