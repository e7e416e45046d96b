"""The outermost middleware: a request id, one access log line, and the request metrics.

Paths are reported as route templates, never as sent: a callback path carries
its token. The access line is written straight to stderr as one JSON object,
in the format of `bridge.logs`, without going through `logging`: it is on
the hot path, and the logging machinery costs more than the callback's decode.
For the same reason the lines are not written one by one, a system call each,
but gathered and written at most `FLUSH_AFTER` later, many to a write (see
`LineBuffer`); the app flushes them when it shuts down.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import secrets
import sys
import time
from collections.abc import Callable

import msgspec
from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bridge.http.routes import PUBLIC_PATHS, route_of
from bridge.logs import request_id, utc_now
from bridge.metrics import Metrics


class AccessLine(msgspec.Struct, frozen=True):
    time: str
    level: str
    logger: str
    event: str
    request_id: str
    method: str
    route: str
    status: int
    duration_ms: float


# Access lines wait at most this long (seconds) to be written with others.
FLUSH_AFTER = 0.1
# A write of at most PIPE_BUF bytes to a pipe is never interleaved with another
# process's: the lines of several workers sharing stderr stay whole.
PIPE_BUF = 4096


class LineBuffer:
    """Lines gathered and written in chunks of whole lines, each one write of at most
    PIPE_BUF bytes, at most `delay` seconds after the first line of a chunk came in."""

    def __init__(self, write: Callable[[bytes], object], delay: float = FLUSH_AFTER) -> None:
        self.write = write
        self.delay = delay
        self.lines: list[bytes] = []
        self.size = 0
        self.timer: asyncio.TimerHandle | None = None

    def add(self, line: bytes) -> None:
        if self.size + len(line) > PIPE_BUF:
            self.flush()
        self.lines.append(line)
        self.size += len(line)
        if self.timer is None:
            self.timer = asyncio.get_running_loop().call_later(self.delay, self.flush)

    def flush(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.lines:
            chunk = b"".join(self.lines)
            self.lines.clear()
            self.size = 0
            self.write(chunk)


def write_all(fd: int) -> Callable[[bytes], None]:
    """A writer to `fd` that finishes what a write leaves unwritten."""

    def write(data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]

    return write


class RequestIds:
    """Unique ids, cheaply: a random prefix per process and a counter."""

    def __init__(self) -> None:
        self.prefix = secrets.token_hex(6)
        self.counter = itertools.count(1)

    def next(self) -> str:
        return f"{self.prefix}-{next(self.counter):x}"


def _given_request_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"x-request-id" and 0 < len(value) <= 128 and value.isascii():
            text: str = value.decode()
            if text.isprintable():
                return text
    return None


class AccessLog:
    def __init__(
        self, app: ASGIApp, metrics: Metrics, write: Callable[[bytes], object] | None = None
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.ids = RequestIds()
        self.encode = msgspec.json.Encoder().encode
        self.lines = LineBuffer(write or write_all(sys.stderr.fileno()))
        logger = logging.getLogger("bridge.access")
        self.info = logger.isEnabledFor(logging.INFO)
        self.debug = logger.isEnabledFor(logging.DEBUG)
        # Label lookups cost a lock and a dict per call: keep the children.
        self.counters: dict[tuple[str, int], Counter] = {}
        self.histograms: dict[str, Histogram] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = _given_request_id(scope) or self.ids.next()
        context = request_id.set(rid)
        status = 500  # what the server answers if the app fails before starting a response
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id.reset(context)
            self._record(scope, rid, status, time.perf_counter() - started)

    def _record(self, scope: Scope, rid: str, status: int, seconds: float) -> None:
        route = route_of(scope["path"])
        counter = self.counters.get((route, status))
        if counter is None:
            counter = self.counters[route, status] = self.metrics.requests.labels(
                route, str(status)
            )
        counter.inc()
        histogram = self.histograms.get(route)
        if histogram is None:
            histogram = self.histograms[route] = self.metrics.request_seconds.labels(route)
        histogram.observe(seconds)
        quiet = route in PUBLIC_PATHS
        if not (self.debug if quiet else self.info):
            return
        line = AccessLine(
            time=utc_now(),
            level="debug" if quiet else "info",
            logger="bridge.access",
            event="request",
            request_id=rid,
            method=scope["method"],
            route=route,
            status=status,
            duration_ms=round(seconds * 1000, 3),
        )
        self.lines.add(self.encode(line) + b"\n")

    def flush(self) -> None:
        """Write the lines gathered so far (at shutdown: none is left behind)."""
        self.lines.flush()
