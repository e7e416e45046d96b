"""The outermost middleware: a request id, one access log line, and the request metrics.

Paths are reported as route templates, never as sent: a callback path carries
its token.
"""

from __future__ import annotations

import logging
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bridge.kinds import KINDS
from bridge.logs import request_id
from bridge.metrics import Metrics

log = logging.getLogger("bridge.access")

_PLAIN_ROUTES = ("/healthz", "/readyz", "/metrics")
_QUIET_ROUTES = frozenset(_PLAIN_ROUTES)  # probes and scrapes: logged at debug only


def route_of(path: str) -> str:
    """A bounded label for a path: its route template, or `other`."""
    if path in _PLAIN_ROUTES:
        return path
    for kind in KINDS:
        if path == kind.route or path.startswith(kind.route + "/"):
            return kind.route
    return "other"


def _request_id(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"x-request-id" and 0 < len(value) <= 128 and value.isascii():
            text: str = value.decode()
            if text.isprintable():
                return text
    return uuid.uuid4().hex


class AccessLog:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = _request_id(scope)
        context = request_id.set(rid)
        route = route_of(scope["path"])
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
            seconds = time.perf_counter() - started
            self.metrics.requests.labels(route, str(status)).inc()
            self.metrics.request_seconds.labels(route).observe(seconds)
            log.log(
                logging.DEBUG if route in _QUIET_ROUTES else logging.INFO,
                "request",
                extra={
                    "method": scope["method"],
                    "route": route,
                    "status": status,
                    "duration_ms": round(seconds * 1000, 3),
                },
            )
            request_id.reset(context)
