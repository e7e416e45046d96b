"""The outermost middleware: a request id, one access log line, and the request metrics.

Paths are reported as route templates, never as sent: a callback path carries
its token. The access line is written straight to stderr as one JSON object,
in the format of `bridge.logs`, without going through `logging`: it is on
the hot path, and the logging machinery costs more than the callback's decode.
"""

from __future__ import annotations

import itertools
import logging
import os
import secrets
import sys
import time

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
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        self.ids = RequestIds()
        self.encode = msgspec.json.Encoder().encode
        self.stderr = sys.stderr.fileno()
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
        # One write of one line: lines of concurrent workers do not interleave.
        os.write(self.stderr, self.encode(line) + b"\n")
