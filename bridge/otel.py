"""OpenTelemetry traces of callbacks (the `otel` extra); see `bridge.tracing` for when.

A server span per callback continues the request's `traceparent`. The Kafka produce of
its records is a child span, and that span's context is what each record carries in its
`traceparent` header, so a consumer continues the same trace. Everything else (endpoint,
headers, sampler, batching, resource) is the SDK's reading of the `OTEL_*` variables.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import msgspec
from opentelemetry import context, propagate, trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, StatusCode
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bridge import __version__
from bridge.http.routes import CALLBACK_ROUTES, route_of
from bridge.kafka import Publisher
from bridge.logs import request_id
from bridge.records import OutgoingRecord

_SERVICE = "video-callback-bridge"


class Tracing:
    """The tracer provider of one process, and the two wrappers that use it."""

    def __init__(self, provider: TracerProvider) -> None:
        self.provider = provider
        self.tracer = provider.get_tracer("bridge", __version__)

    @classmethod
    def start(cls) -> Tracing:
        resource = Resource.create({SERVICE_VERSION: __version__})
        if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
            # Neither OTEL_SERVICE_NAME nor OTEL_RESOURCE_ATTRIBUTES named the service.
            resource = resource.merge(Resource({SERVICE_NAME: _SERVICE}))
        provider = TracerProvider(resource=resource)
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        return cls(provider)

    def server(self, app: ASGIApp) -> ASGIApp:
        return TracedCallbacks(app, self.tracer)

    def publisher(self, publisher: Publisher) -> Publisher:
        return TracedPublisher(publisher, self.tracer)

    async def shutdown(self) -> None:
        """Export what is buffered; the exporter blocks, so not on the event loop."""
        await asyncio.to_thread(self.provider.shutdown)


class TracedCallbacks:
    """A server span around each POST to a callback route, continuing its `traceparent`."""

    def __init__(self, app: ASGIApp, tracer: trace.Tracer) -> None:
        self.app = app
        self.tracer = tracer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = route_of(scope["path"]) if scope["type"] == "http" else ""
        if route not in CALLBACK_ROUTES or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        carrier = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in scope["headers"]
            if name in (b"traceparent", b"tracestate")
        }
        # The route template, never the path: a callback path carries its token.
        with self.tracer.start_as_current_span(
            f"POST {route}",
            context=propagate.extract(carrier),
            kind=SpanKind.SERVER,
            attributes={
                "http.request.method": "POST",
                "http.route": route,
                "bridge.request_id": request_id.get() or "",
            },
        ) as span:

            async def send_status(message: Message) -> None:
                if message["type"] == "http.response.start":
                    status = message["status"]
                    span.set_attribute("http.response.status_code", status)
                    if status >= 500:
                        span.set_status(StatusCode.ERROR)
                await send(message)

            await self.app(scope, receive, send_status)


class TracedPublisher:
    """A producer span around each publish; its context becomes each record's `traceparent`."""

    def __init__(self, publisher: Publisher, tracer: trace.Tracer) -> None:
        self.publisher = publisher
        self.tracer = tracer

    @property
    def ready(self) -> bool:
        return self.publisher.ready

    async def publish(self, records: Sequence[OutgoingRecord]) -> None:
        topics = sorted({record.topic for record in records})
        attributes: dict[str, str | int] = {
            "messaging.system": "kafka",
            "messaging.operation.type": "send",
            "messaging.batch.message_count": len(records),
        }
        if len(topics) == 1:
            attributes["messaging.destination.name"] = topics[0]
        name = f"send {topics[0]}" if len(topics) == 1 else "send"
        with self.tracer.start_as_current_span(name, kind=SpanKind.PRODUCER, attributes=attributes):
            carrier: dict[str, str] = {}
            propagate.inject(carrier, context=context.get_current())
            await self.publisher.publish([_with_headers(record, carrier) for record in records])


def _with_headers(record: OutgoingRecord, carrier: dict[str, str]) -> OutgoingRecord:
    """The record with the span's trace headers in place of the ones the request brought."""
    kept = [(name, value) for name, value in record.headers if name not in carrier]
    headers = kept + [(k, v.encode()) for k, v in carrier.items()]
    return msgspec.structs.replace(record, headers=headers)
