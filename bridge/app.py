"""The HTTP application: routes, lifespan, and the one place errors become answers."""

from __future__ import annotations

import logging

import msgspec
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from bridge import records
from bridge.config import Settings
from bridge.errors import BodyTooLarge, CallbackError, WrongContentType
from bridge.kinds import KINDS, CallbackKind
from bridge.publisher import KafkaPublisher, Publisher, StartupError

log = logging.getLogger("bridge.app")


class ItemFault(msgspec.Struct, frozen=True):
    path: str
    message: str


class Answer(msgspec.Struct, frozen=True, omit_defaults=True, rename="camel"):
    """The body of every answer, in the platform's own `{code, message}` style."""

    code: int
    message: str
    accepted: int | None = None
    dead_lettered: int | None = None
    path: str | None = None
    errors: list[ItemFault] | None = None


_encode = msgspec.json.Encoder().encode


def answer(status: int, body: Answer, headers: dict[str, str] | None = None) -> Response:
    return Response(_encode(body), status, headers, media_type="application/json")


def is_json(content_type: str | None) -> bool:
    """`application/json`, with or without parameters such as `charset`."""
    if content_type is None:
        return False
    media_type = content_type.partition(";")[0].strip().lower()
    return media_type == "application/json"


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refusing it as soon as it is known to exceed `limit` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(f"Body of {declared} bytes exceeds the limit of {limit} bytes")
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"Body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


class CallbackEndpoint:
    """Receives one kind of callback: decode, forward each item, answer when stored."""

    def __init__(self, kind: CallbackKind, settings: Settings, publisher: Publisher) -> None:
        self.kind = kind
        self.topic = kind.topic_of(settings)
        self.dlq_topic = settings.topic_dlq
        self.source = settings.event_source
        self.limit = settings.max_body_bytes
        self.publisher = publisher

    async def handle(self, request: Request) -> Response:
        content_type = request.headers.get("content-type")
        body = await read_body(request, self.limit)
        traceparent = request.headers.get("traceparent")
        context = records.Context(
            route=self.kind.route,
            received_at=records.now_rfc3339(),
            source=self.source,
            traceparent=traceparent.encode() if traceparent else None,
        )
        try:
            if not is_json(content_type):
                raise WrongContentType(
                    f"Content-Type must be application/json, got {content_type or 'none'}"
                )
            decoded = records.decode_callback(self.kind, body)
        except CallbackError as error:
            if error.dead_letter:
                letter = records.dead_letters_for_body(
                    body, error, topic=self.dlq_topic, context=context, content_type=content_type
                )
                await self.publisher.publish([letter])
            raise
        outgoing = records.records_for(self.kind, decoded.items, self.topic, context)
        outgoing += records.dead_letters_for_faults(
            decoded.faults, topic=self.dlq_topic, context=context
        )
        await self.publisher.publish(outgoing)
        return answer(
            200,
            Answer(
                code=200,
                message="success",
                accepted=len(decoded.items),
                dead_lettered=len(decoded.faults),
                errors=[ItemFault(f.path, f.message) for f in decoded.faults] or None,
            ),
        )


def create_app(settings: Settings, publisher: Publisher | None = None) -> ASGIApp:
    """The ASGI app. Without `publisher`, it owns a `KafkaPublisher` for its lifespan."""
    owned = KafkaPublisher(settings, topics_of(settings)) if publisher is None else None
    active: Publisher = owned if owned is not None else publisher  # type: ignore[assignment]

    async def healthz(request: Request) -> Response:
        return answer(200, Answer(code=200, message="alive"))

    async def readyz(request: Request) -> Response:
        if active.ready:
            return answer(200, Answer(code=200, message="ready"))
        return answer(503, Answer(code=503, message="not ready: not connected to Kafka"))

    routes: list[BaseRoute] = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
    ]
    for kind in KINDS:
        endpoint = CallbackEndpoint(kind, settings, active)
        routes.append(Route(kind.route, endpoint.handle, methods=["POST"]))
        routes.append(Route(kind.route + "/{token}", endpoint.handle, methods=["POST"]))

    async def refuse(request: Request, error: Exception) -> Response:
        assert isinstance(error, CallbackError)  # noqa: S101 - registered for this type only
        headers = None
        if error.status == 503:
            headers = {"Retry-After": str(settings.retry_after_seconds)}
        log.info("callback refused: %s %s", error.status, error.message)
        body = Answer(code=error.status, message=error.message, path=error.path)
        return answer(error.status, body, headers)

    app = Starlette(routes=routes, exception_handlers={CallbackError: refuse})
    return app if owned is None else WithPublisher(app, owned)


def topics_of(settings: Settings) -> list[str]:
    return [*(kind.topic_of(settings) for kind in KINDS), settings.topic_dlq]


class WithPublisher:
    """Starts the publisher before serving and stops it after.

    A pure ASGI lifespan rather than Starlette's, so that a start-up failure is
    reported as its one-line reason instead of a traceback.
    """

    def __init__(self, app: ASGIApp, publisher: KafkaPublisher) -> None:
        self.app = app
        self.publisher = publisher

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        await receive()  # lifespan.startup
        try:
            await self.publisher.start()
        except StartupError as error:
            await send({"type": "lifespan.startup.failed", "message": str(error)})
            return
        await send({"type": "lifespan.startup.complete"})
        await receive()  # lifespan.shutdown
        await self.publisher.stop()
        await send({"type": "lifespan.shutdown.complete"})
