"""Serving the app with uvicorn: graceful shutdown on SIGTERM, and several workers.

On SIGTERM (or Ctrl-C) the bridge drains at once: readiness goes false and new
callbacks are answered 503, while uvicorn stops accepting connections and lets
the callbacks in flight finish; then the producer flushes and the process exits
0. With `BRIDGE_WORKERS` > 1, each worker is the same single-process server on
a shared port (SO_REUSEPORT, so the kernel spreads connections), and the parent
passes signals on.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import socket
from types import FrameType

import msgspec
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from bridge import tracing
from bridge.http.answers import Answer
from bridge.http.app import Bridge
from bridge.http.coalescing import CoalescingTransport
from bridge.logs import configure_logging
from bridge.settings import Settings

log = logging.getLogger("bridge.http.server")

# A request whose header section grows beyond this is refused (431).
MAX_HEADER_BYTES = 65_536

# The collector's thresholds once serving (Python's are 700, 10, 10); see `settle_heap`.
GC_THRESHOLDS = (5_000, 10, 10)


def settle_heap() -> None:
    """Once started: what exists now (modules, settings and, when Kafka answered in time,
    the producer) lives as long as the process; each callback allocates and frees its own.

    Python's collector would walk all of the former on every full collection (about 20 ms
    each, dozens a minute under load: a pause for every callback in flight), and run its
    youngest generation every 700 allocations. Frozen, the start-up objects are no longer
    walked; with a first threshold of 5,000 the collector runs about a tenth as often, and
    what a reference cycle holds is still freed within a few hundred callbacks.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's HTTP/1.1 protocol, with the limits it lacks on a request's headers.

    uvicorn closes idle keep-alive connections, but waits for ever on a request
    whose headers arrive slowly or never end, and httptools buffers headers of
    any size: a few such clients could hold every connection uvicorn allows, or
    the memory. Here the headers must arrive within `header_timeout` (the body
    timeout) and within MAX_HEADER_BYTES; otherwise 408 or 431, and the
    connection is closed. A request answered before its body arrived (401, 408,
    413) has as long again to finish sending it, or the connection is closed.
    Each answer leaves in one write (`bridge.http.coalescing`).
    """

    header_timeout: float = 10.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self.writes = CoalescingTransport(transport, self.loop)
        super().connection_made(self.writes)
        self._header_timer: asyncio.TimerHandle | None = None
        self._linger_timer: asyncio.TimerHandle | None = None
        self._header_bytes = 0
        self._awaiting_headers = False
        self._await_headers()

    def _await_headers(self) -> None:
        if not self._awaiting_headers:
            self._awaiting_headers = True
            self._header_bytes = 0
            self._header_timer = self.loop.call_later(self.header_timeout, self._headers_too_slow)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._await_headers()  # the next request on a kept-alive connection

    def on_headers_complete(self) -> None:
        self.writes.hold_next()  # the answer's head waits for its body: one write
        self._awaiting_headers = False
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None
        super().on_headers_complete()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._awaiting_headers and not self.transport.is_closing():
            self._header_bytes += len(data)
            if self._header_bytes > MAX_HEADER_BYTES:
                self._refuse(431, f"Request headers larger than {MAX_HEADER_BYTES} bytes")

    def on_response_complete(self) -> None:
        super().on_response_complete()
        answered_early = self.cycle.response_complete and self.cycle.more_body
        if answered_early and not self.transport.is_closing():
            # Answered before the body came in: uvicorn would read the rest for
            # as long as it trickles, with no timer. Closing at once could reset
            # the connection before the client reads the answer, so let it
            # finish, within a limit.
            self._linger_timer = self.loop.call_later(self.header_timeout, self.transport.close)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        if self._linger_timer is not None:  # the body of an answered request is in
            self._linger_timer.cancel()
            self._linger_timer = None
            if self.cycle.response_complete and not self.transport.is_closing():
                # Idle again: uvicorn's keep-alive timeout applies, as after any answer.
                self._unset_keepalive_if_required()
                self.timeout_keep_alive_task = self.loop.call_later(
                    self.timeout_keep_alive, self.timeout_keep_alive_handler
                )

    def connection_lost(self, exc: Exception | None) -> None:
        for timer in (self._header_timer, self._linger_timer):
            if timer is not None:
                timer.cancel()
        super().connection_lost(exc)

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self.transport.is_closing():
            return
        if self._header_bytes == 0 or (self.cycle is not None and not self.cycle.response_complete):
            self.transport.close()  # nothing to answer, or an answer still being written
            return
        self._refuse(408, f"Request headers not received within {self.header_timeout:g} s")

    def _refuse(self, status: int, message: str) -> None:
        log.info("connection refused", extra={"status": status, "reason": message})
        body = msgspec.json.encode(Answer(code=status, message=message))
        reason = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}[status]
        self.transport.write(
            b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
            b"connection: close\r\n\r\n%s" % (status, reason, len(body), body)
        )
        self.transport.close()


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
                # uvicorn would believe X-Forwarded-For from 127.0.0.1 and rewrite
                # the client address before the allow-list sees it, so anyone
                # behind a sidecar could pick their own; `bridge.http.auth` alone
                # decides who the client is.
                proxy_headers=False,
                timeout_keep_alive=int(settings.keepalive_timeout_seconds),
                # In-flight callbacks end within the produce timeout; leave the
                # rest of the grace period to the producer's flush.
                timeout_graceful_shutdown=max(1, int(settings.shutdown_grace_seconds * 3 / 4)),
                # Connections beyond this are answered 503 by uvicorn itself.
                limit_concurrency=settings.max_requests_in_flight * 4,
                http=type(
                    "GuardedHttpProtocol",
                    (GuardedHttpProtocol,),
                    {"header_timeout": settings.body_timeout_seconds},
                ),
            )
        )
        self.bridge = bridge

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            settle_heap()

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
    server = BridgeServer(Bridge(settings, tracing=tracing.from_environment()))
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
