"""The publisher against a real broker: a producer that stops delivering is replaced."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from bridge.http.app import Bridge
from bridge.settings import Settings
from tests.kafka_tools import read_all, unique_topic
from tests.load import Stream

pytestmark = pytest.mark.kafka


async def test_a_wedged_producer_is_replaced_in_process(kafka_bootstrap: str) -> None:
    settings = Settings(
        kafka_bootstrap_servers=kafka_bootstrap,
        topic_video_upload=unique_topic("video"),
        topic_material_upload=unique_topic("material"),
        topic_dlq=unique_topic("dlq"),
        create_topics=True,
        allow_unauthenticated=True,
        produce_timeout_seconds=1,
        producer_stall_seconds=2,
    )
    bridge = Bridge(settings)
    assert bridge.owned_publisher is not None
    await bridge.owned_publisher.start()
    try:
        wedged = bridge.owned_publisher.producer
        assert wedged is not None

        async def send_batch_never_acknowledged(*args: Any, **kwargs: Any) -> asyncio.Future[Any]:
            # As aiokafka's idempotent producer after some broker faults: accepted, never acked.
            return asyncio.get_running_loop().create_future()

        wedged.send_batch = send_batch_never_acknowledged
        transport = httpx.ASGITransport(app=bridge)
        stream = Stream("http://bridge/callbacks/video-upload", prefix="wedge")
        stop = asyncio.Event()
        async with httpx.AsyncClient(transport=transport) as client:
            sending = asyncio.create_task(stream.run(stop, client))
            await stream.until(lambda s: s.statuses().get(503, 0) >= 4, within=30)
            await stream.until(lambda s: len(s.acknowledged()) >= 20, within=30)
            stop.set()
            await sending

        assert bridge.owned_publisher.producer is not wedged
        recreations = bridge.metrics.registry.get_sample_value("bridge_producer_recreations_total")
        assert recreations == 1
        assert set(stream.statuses()) == {200, 503}
        records = await read_all(kafka_bootstrap, settings.topic_video_upload)
        assert stream.acknowledged() - {record.key.decode() for record in records} == set()
    finally:
        await bridge.owned_publisher.stop()
