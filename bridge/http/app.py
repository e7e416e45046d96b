"""The HTTP application: middleware, routes, the callback handler, and the lifespan."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from bridge import records
from bridge.deadlines import Deadlines
from bridge.errors import BodyTooLarge, CallbackError, Unavailable, WrongContentType
from bridge.http.access_log import AccessLog
from bridge.http.answers import Answer, ItemFault, answer, send_answer, send_error
from bridge.http.auth import Authenticator
from bridge.http.body import read_body
from bridge.http.routes import HEALTHZ, METRICS, READYZ, callback_path
from bridge.kafka import Publisher
from bridge.kafka.errors import PublishError, RecordTooLarge, StartupError
from bridge.kafka.publisher import KafkaPublisher
from bridge.kinds import KINDS, CallbackKind
from bridge.logs import request_id, utc_now
from bridge.metrics import Metrics
from bridge.settings import Settings

if TYPE_CHECKING:
    from bridge.otel import Tracing

log = logging.getLogger("bridge.http.app")

_PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


# JSON on every route, and text/plain: the platform's Base64 notifications
# carry it. Either may hold JSON or its Base64 (`bridge.wire.encodings`).
ACCEPTED_CONTENT_TYPES = ("application/json", "text/plain")


def is_accepted(content_type: str | None) -> bool:
    """One of `ACCEPTED_CONTENT_TYPES`, with or without parameters such as `charset`."""
    if content_type is None:
        return False
    return content_type.partition(";")[0].strip().lower() in ACCEPTED_CONTENT_TYPES


def topics_of(settings: Settings) -> list[str]:
    return [*(kind.topic_of(settings) for kind in KINDS), settings.topic_dlq]


class Gate:
    """Admits a bounded number of callbacks at once, and none once draining."""

    def __init__(self, limit: int, metrics: Metrics) -> None:
        self.limit = limit
        self.inside = 0
        self.draining = False
        # Read when scraped: no lock taken twice per callback to keep a copy up to date.
        metrics.requests_in_flight.set_function(lambda: self.inside)

    def enter(self) -> None:
        if self.draining:
            raise Unavailable("Shutting down; retry later")
        if self.inside >= self.limit:
            raise Unavailable(f"More than {self.limit} callbacks in flight; retry later")
        self.inside += 1

    def leave(self) -> None:
        self.inside -= 1


class CallbackEndpoint:
    """Receives one kind of callback: decode, forward each item, answer when stored.

    Pure ASGI, as the hot path: no router, no request object.
    """

    def __init__(
        self,
        kind: CallbackKind,
        settings: Settings,
        publisher: Publisher,
        gate: Gate,
        metrics: Metrics,
        body_deadlines: Deadlines,
    ) -> None:
        self.kind = kind
        self.topic = kind.topic_of(settings)
        self.dlq_topic = settings.topic_dlq
        self.source = settings.event_source
        self.limit = settings.max_body_bytes
        self.body_deadlines = body_deadlines
        self.retry_after = settings.retry_after_seconds
        self.publisher = publisher
        self.gate = gate
        self.metrics = metrics
        self.item_dead_letters = metrics.dead_letters.labels(kind.route, "item")
        self.body_dead_letters = metrics.dead_letters.labels(kind.route, "body")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            self.gate.enter()
            try:
                status, body = await self.handle(scope, receive)
            finally:
                self.gate.leave()
        except CallbackError as error:
            log.info("callback refused", extra={"status": error.status, "reason": error.message})
            await send_error(send, error, self.retry_after)
            return
        await send_answer(send, status, body)

    async def handle(self, scope: Scope, receive: Receive) -> tuple[int, Answer]:
        body = await read_body(scope, receive, limit=self.limit, deadlines=self.body_deadlines)
        content_type, context = self._context(scope)
        try:
            if not is_accepted(content_type):
                raise WrongContentType(
                    f"Content-Type must be {' or '.join(ACCEPTED_CONTENT_TYPES)}, "
                    f"got {content_type or 'none'}"
                )
            # `body` stays as received (JSON or Base64): that is what a dead
            # letter keeps and what a signature covers.
            decoded = records.decode_callback(self.kind, body)
        except CallbackError as error:
            if error.kept_as_dead_letter:
                letter = records.dead_letter_for_body(
                    body, error, topic=self.dlq_topic, context=context, content_type=content_type
                )
                await self._store([letter])
                self.body_dead_letters.inc()
            raise
        outgoing = records.records_for(self.kind, decoded.items, self.topic, context)
        if decoded.faults:
            outgoing += records.dead_letters_for_faults(
                decoded.faults, topic=self.dlq_topic, context=context
            )
        await self._store(outgoing)
        if decoded.faults:
            self.item_dead_letters.inc(len(decoded.faults))
        return 200, Answer(
            code=200,
            message="success",
            accepted=len(decoded.items),
            dead_lettered=len(decoded.faults),
            errors=[ItemFault(f.path, f.message) for f in decoded.faults] or None,
        )

    async def _store(self, outgoing: list[records.OutgoingRecord]) -> None:
        """Publish; what Kafka could not store becomes the sender's status."""
        try:
            await self.publisher.publish(outgoing)
        except RecordTooLarge as error:
            raise BodyTooLarge(error.message) from None
        except PublishError as error:
            raise Unavailable(error.message) from None

    def _context(self, scope: Scope) -> tuple[str | None, records.Context]:
        content_type = traceparent = None
        for name, value in scope["headers"]:
            if name == b"content-type":
                content_type = value.decode("latin-1")
            elif name == b"traceparent":
                traceparent = value
        rid = request_id.get()
        context = records.Context(
            route=self.kind.route,
            received_at=utc_now(),
            source=self.source,
            traceparent=traceparent,
            request_id=rid.encode() if rid else None,
        )
        return content_type, context


class Dispatch:
    """POSTs to the callback routes go straight to their endpoint; the rest to Starlette."""

    def __init__(self, endpoints: dict[str, CallbackEndpoint], fallback: ASGIApp) -> None:
        self.endpoints = endpoints
        self.fallback = fallback

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            parsed = callback_path(scope["path"])
            # `/callbacks/<kind>/`, with an empty token, is no route: Starlette answers it.
            if parsed is not None and parsed.token != "":
                endpoint = self.endpoints.get(parsed.route)
                if endpoint is not None:
                    await endpoint(scope, receive, send)
                    return
        await self.fallback(scope, receive, send)


class Bridge:
    """The ASGI application. Without a given publisher it owns a `KafkaPublisher`.

    With `tracing` (see `bridge.tracing`), callbacks and their publishes are wrapped in
    spans; without it, nothing of tracing is on the request path.
    """

    def __init__(
        self,
        settings: Settings,
        publisher: Publisher | None = None,
        metrics: Metrics | None = None,
        tracing: Tracing | None = None,
    ) -> None:
        self.settings = settings
        self.metrics = metrics or Metrics()
        self.tracing = tracing
        # The publisher this application starts and stops: none when one is given.
        self.owned_publisher: KafkaPublisher | None = None
        if publisher is None:
            publisher = self.owned_publisher = KafkaPublisher(
                settings, topics_of(settings), self.metrics
            )
        if tracing is not None:
            publisher = tracing.publisher(publisher)
        self.publisher = publisher
        self.gate = Gate(settings.max_requests_in_flight, self.metrics)
        body_deadlines = Deadlines(settings.body_timeout_seconds)
        routes: list[BaseRoute] = [
            Route(HEALTHZ, self.healthz, methods=["GET"]),
            Route(READYZ, self.readyz, methods=["GET"]),
            Route(METRICS, self.exposition, methods=["GET"]),
        ]
        endpoints = {}
        for kind in KINDS:
            endpoint = CallbackEndpoint(
                kind, settings, self.publisher, self.gate, self.metrics, body_deadlines
            )
            endpoints[kind.route] = endpoint
            # Registered with Starlette too, so that other methods get its 405.
            routes.append(Route(kind.route, endpoint, methods=["POST"]))
            routes.append(Route(kind.route + "/{token}", endpoint, methods=["POST"]))
        dispatch = Dispatch(endpoints, Starlette(routes=routes))
        authenticator: ASGIApp = Authenticator(dispatch, settings, self.metrics, body_deadlines)
        if tracing is not None:
            authenticator = tracing.server(authenticator)
        self.app = AccessLog(authenticator, self.metrics)

    def drain(self) -> None:
        """From now on: not ready, and new callbacks are answered 503."""
        if not self.gate.draining:
            log.info("draining", extra={"callbacks_in_flight": self.gate.inside})
        self.gate.draining = True

    @property
    def ready(self) -> bool:
        return self.publisher.ready and not self.gate.draining

    async def healthz(self, request: Request) -> Response:
        return answer(200, Answer(code=200, message="alive"))

    async def readyz(self, request: Request) -> Response:
        if self.ready:
            return answer(200, Answer(code=200, message="ready"))
        reason = "shutting down" if self.gate.draining else "not connected to Kafka"
        return answer(503, Answer(code=503, message=f"not ready: {reason}"))

    async def exposition(self, request: Request) -> Response:
        return Response(self.metrics.exposition(), media_type=_PROMETHEUS_TEXT)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        else:
            await self.app(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        # Pure ASGI rather than Starlette's lifespan, so that a start-up failure
        # is reported as its one-line reason instead of a traceback.
        await receive()  # lifespan.startup
        if self.owned_publisher is not None:
            try:
                await self.owned_publisher.start()
            except StartupError as error:
                await send({"type": "lifespan.startup.failed", "message": str(error)})
                return
        await send({"type": "lifespan.startup.complete"})
        await receive()  # lifespan.shutdown
        if self.owned_publisher is not None:
            try:
                # Flush what is buffered, within what is left of the grace period.
                await asyncio.wait_for(
                    self.owned_publisher.stop(), self.settings.shutdown_grace_seconds / 4
                )
            except TimeoutError:
                log.error("kafka producer did not flush in time")
        if self.tracing is not None:
            await self.tracing.shutdown()
        self.app.flush()
        await send({"type": "lifespan.shutdown.complete"})
