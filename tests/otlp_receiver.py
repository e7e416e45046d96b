"""An OTLP/HTTP trace receiver for the tests: decodes what it is sent with opentelemetry-proto.

Implements the receiving side of the OTLP/HTTP specification as far as the exporter uses
it: `POST /v1/traces`, a binary protobuf `ExportTraceServiceRequest` (gzip when the
exporter compresses), answered `200` with an `ExportTraceServiceResponse`.
"""

from __future__ import annotations

import gzip
import threading
from collections.abc import Callable
from typing import NamedTuple

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from tests.running import FakeHandler, HttpFake

PROTOBUF = "application/x-protobuf"


class ReceivedSpan(NamedTuple):
    service: str
    span: Span

    @property
    def trace_id(self) -> str:
        return self.span.trace_id.hex()

    @property
    def span_id(self) -> str:
        return self.span.span_id.hex()

    @property
    def parent_span_id(self) -> str:
        return self.span.parent_span_id.hex()

    @property
    def attributes(self) -> dict[str, object]:
        return {kv.key: _value(kv.value) for kv in self.span.attributes}


def _value(value: AnyValue) -> object:
    kind = value.WhichOneof("value")
    return None if kind is None else getattr(value, kind)


class OtlpReceiver(HttpFake):
    def __init__(self) -> None:
        self.spans: list[ReceivedSpan] = []
        self.refused: list[str] = []
        self._changed = threading.Condition()
        receiver = self

        class Handler(FakeHandler):
            def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
                body = self.body()
                if self.path != "/v1/traces" or self.headers.get("Content-Type") != PROTOBUF:
                    receiver._refuse(self, f"{self.path} {self.headers.get('Content-Type')}")
                    return
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                receiver._add(request)
                self.reply(200, ExportTraceServiceResponse().SerializeToString(), PROTOBUF)

        super().__init__(Handler)
        self.endpoint = self.base_url

    def _add(self, request: ExportTraceServiceRequest) -> None:
        with self._changed:
            for resource_spans in request.resource_spans:
                service = next(
                    (
                        kv.value.string_value
                        for kv in resource_spans.resource.attributes
                        if kv.key == "service.name"
                    ),
                    "",
                )
                for scope_spans in resource_spans.scope_spans:
                    self.spans.extend(ReceivedSpan(service, span) for span in scope_spans.spans)
            self._changed.notify_all()

    def _refuse(self, handler: FakeHandler, what: str) -> None:
        self.refused.append(what)
        handler.reply(415)

    def wait_for(
        self, condition: Callable[[list[ReceivedSpan]], bool], timeout: float = 30.0
    ) -> list[ReceivedSpan]:
        """The spans received once `condition` holds for them; TimeoutError otherwise."""
        with self._changed:
            if not self._changed.wait_for(lambda: condition(self.spans), timeout):
                raise TimeoutError(f"spans received so far: {[s.span.name for s in self.spans]}")
            return list(self.spans)
