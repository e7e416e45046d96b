"""Traces end to end: `bridge serve` with the otel extra, a real broker, an OTLP/HTTP receiver.

One trace runs from the request's `traceparent` through the bridge's server span and its
Kafka produce span into the `traceparent` header of each record on the topic.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from tests.kafka_tools import read_all
from tests.otlp_receiver import OtlpReceiver, ReceivedSpan
from tests.samples import SAMPLE_VIDEO_IDS, VIDEO_SAMPLE
from tests.servers import BridgeProcess, fresh_settings

pytestmark = pytest.mark.kafka

TOKEN = "trace-test-token-0123456789"
SERVICE = "bridge-under-test"


@dataclass(frozen=True)
class Traced:
    receiver: OtlpReceiver
    bridge: BridgeProcess
    settings: dict[str, str]


@pytest.fixture(scope="module")
def traced(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Traced]:
    """One bridge exporting its spans to one receiver, for the tests of this module."""
    settings = fresh_settings(kafka_bootstrap, auth_tokens=TOKEN)
    bridge = BridgeProcess(tmp_path_factory.mktemp("traced") / "bridge.log", **settings)
    with OtlpReceiver() as receiver:
        bridge.env.update(
            {
                "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
                "OTEL_SERVICE_NAME": SERVICE,
                # Export within a tenth of a second rather than five.
                "OTEL_BSP_SCHEDULE_DELAY": "100",
            }
        )
        with bridge:
            yield Traced(receiver, bridge, settings)


def pair(spans: list[ReceivedSpan], trace_id: str) -> tuple[ReceivedSpan, ReceivedSpan] | None:
    """The server span and the produce span of one trace, once both arrived."""
    server = [s for s in spans if s.trace_id == trace_id and s.span.kind == Span.SPAN_KIND_SERVER]
    sends = [s for s in spans if s.trace_id == trace_id and s.span.kind == Span.SPAN_KIND_PRODUCER]
    return (server[0], sends[0]) if server and sends else None


async def test_one_trace_from_the_request_to_the_records(
    traced: Traced, kafka_bootstrap: str
) -> None:
    trace_id, caller_span = secrets.token_hex(16), secrets.token_hex(8)
    settings = traced.settings
    async with httpx.AsyncClient(base_url=traced.bridge.url) as client:
        answer = await client.post(
            f"/callbacks/video-upload/{TOKEN}",
            content=VIDEO_SAMPLE,
            headers={
                "Content-Type": "application/json",
                "traceparent": f"00-{trace_id}-{caller_span}-01",
            },
        )
    spans = await asyncio.to_thread(
        traced.receiver.wait_for, lambda spans: pair(spans, trace_id) is not None
    )
    records = await read_all(kafka_bootstrap, settings["topic_video_upload"])

    assert answer.status_code == 200
    found = pair(spans, trace_id)
    assert found is not None
    server, send = found

    assert server.service == SERVICE
    assert server.span.name == "POST /callbacks/video-upload"
    assert server.parent_span_id == caller_span
    assert server.attributes == {
        "http.request.method": "POST",
        "http.route": "/callbacks/video-upload",
        "http.response.status_code": 200,
        "bridge.request_id": answer.headers["x-request-id"],
    }
    assert server.span.status.code == Status.STATUS_CODE_UNSET

    assert send.span.name == f"send {settings['topic_video_upload']}"
    assert send.parent_span_id == server.span_id
    assert send.attributes == {
        "messaging.system": "kafka",
        "messaging.operation.type": "send",
        "messaging.batch.message_count": 2,
        "messaging.destination.name": settings["topic_video_upload"],
    }
    # The produce happens within the callback.
    assert server.span.start_time_unix_nano <= send.span.start_time_unix_nano
    assert send.span.end_time_unix_nano <= server.span.end_time_unix_nano

    assert sorted(record.key.decode() for record in records) == sorted(SAMPLE_VIDEO_IDS)
    for record in records:
        headers = dict(record.headers)
        assert headers["traceparent"] == f"00-{trace_id}-{send.span_id}-01".encode()
        assert [name for name, _ in record.headers].count("traceparent") == 1
    # The token in the path is in no span.
    assert all(TOKEN not in str(s.span) for s in spans)
    assert traced.receiver.refused == []


async def test_a_request_without_traceparent_starts_a_trace(
    traced: Traced, kafka_bootstrap: str
) -> None:
    async with httpx.AsyncClient(base_url=traced.bridge.url) as client:
        json_type = {"Content-Type": "application/json"}
        refused = await client.post(
            "/callbacks/video-upload", content=VIDEO_SAMPLE, headers=json_type
        )
        answer = await client.post(
            f"/callbacks/video-upload/{TOKEN}", content=b"not json", headers=json_type
        )
    ids = {answer.headers["x-request-id"], refused.headers["x-request-id"]}

    def ours(spans: list[ReceivedSpan]) -> list[ReceivedSpan]:
        servers = [s for s in spans if s.attributes.get("bridge.request_id") in ids]
        traces = {s.trace_id for s in servers}
        sends = [s for s in spans if s.trace_id in traces and s.span.kind != Span.SPAN_KIND_SERVER]
        return servers + sends

    spans = ours(await asyncio.to_thread(traced.receiver.wait_for, lambda s: len(ours(s)) == 3))
    dead_letters = await read_all(kafka_bootstrap, traced.settings["topic_dlq"])

    assert (refused.status_code, answer.status_code) == (401, 400)
    servers = {
        int(str(s.attributes["http.response.status_code"])): s
        for s in spans
        if s.span.kind == Span.SPAN_KIND_SERVER
    }
    assert sorted(servers) == [400, 401]
    assert servers[401].parent_span_id == servers[400].parent_span_id == ""
    assert servers[401].trace_id != servers[400].trace_id
    # The body kept in the dead-letter topic carries the trace of the request that sent it.
    (send,) = [s for s in spans if s.span.kind == Span.SPAN_KIND_PRODUCER]
    assert send.trace_id == servers[400].trace_id
    assert send.parent_span_id == servers[400].span_id
    # A trace the SDK starts is sampled (01) and has a random trace id (02, W3C level 2).
    (letter,) = dead_letters
    assert dict(letter.headers)["traceparent"] == f"00-{send.trace_id}-{send.span_id}-03".encode()
