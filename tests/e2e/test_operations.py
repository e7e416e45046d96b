"""Running it like a service, against a real broker: readiness, SIGTERM, broker restarts."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import httpx
import pytest

from tests.broker import LocalBroker
from tests.kafka_tools import read_all
from tests.load import Stream
from tests.samples import VIDEO_SAMPLE
from tests.servers import BridgeProcess, fresh_settings

pytestmark = pytest.mark.kafka

TOKEN = "ops-test-token-0123456789"


def settings_for(bootstrap: str, **extra: str) -> dict[str, str]:
    return fresh_settings(bootstrap, auth_tokens=TOKEN, **extra)


async def keys_in(bootstrap: str, topic: str) -> list[str]:
    return [record.key.decode() for record in await read_all(bootstrap, topic)]


async def test_readiness_follows_the_broker(own_broker: LocalBroker, tmp_path: Path) -> None:
    with BridgeProcess(tmp_path / "bridge.log", **settings_for(own_broker.bootstrap)) as bridge:
        await asyncio.to_thread(own_broker.stop)
        went_down = await bridge.wait_ready(503, within=15)
        await asyncio.to_thread(own_broker.start)
        came_back = await bridge.wait_ready(200, within=30)

    assert went_down < 6  # "within seconds": probes every second, stale after three
    assert came_back < 30


async def test_sigterm_under_load_loses_nothing_and_exits_zero(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    settings = settings_for(kafka_bootstrap)
    bridge = BridgeProcess(tmp_path / "bridge.log", **settings).start()
    stream = Stream(f"{bridge.url}/callbacks/video-upload/{TOKEN}", prefix="term", concurrency=8)
    stop = asyncio.Event()
    sending = asyncio.create_task(stream.run(stop))
    await stream.until(lambda s: len(s.acknowledged()) >= 200, within=60)

    code = await asyncio.to_thread(bridge.stop)
    stop.set()
    await sending

    assert code == 0
    assert set(stream.statuses()) <= {200, 503, 0}
    keys = await keys_in(kafka_bootstrap, settings["topic_video_upload"])
    assert stream.acknowledged() - set(keys) == set()
    log = [json.loads(line) for line in bridge.log().splitlines() if line.startswith("{")]
    assert any(line["event"] == "draining" for line in log)
    assert all(TOKEN not in json.dumps(line) for line in log)


async def test_broker_restart_under_load_recovers_on_its_own(
    own_broker: LocalBroker, tmp_path: Path
) -> None:
    settings = settings_for(own_broker.bootstrap, produce_timeout_seconds="3")
    with BridgeProcess(tmp_path / "bridge.log", **settings) as bridge:
        stream = Stream(f"{bridge.url}/callbacks/video-upload/{TOKEN}", prefix="restart")
        stop = asyncio.Event()
        sending = asyncio.create_task(stream.run(stop))
        await stream.until(lambda s: len(s.acknowledged()) >= 50, within=60)

        # In a thread: the stream must go on sending while the broker restarts.
        await asyncio.to_thread(own_broker.stop)
        await asyncio.to_thread(own_broker.start)
        restarted = time.monotonic()
        before = len(stream.acknowledged())
        await stream.until(lambda s: len(s.acknowledged()) >= before + 50, within=60)
        recovered_in = time.monotonic() - restarted
        stop.set()
        await sending
        assert bridge.exit_code() is None

    keys = await keys_in(own_broker.bootstrap, settings["topic_video_upload"])
    assert stream.acknowledged() - set(keys) == set()
    assert set(stream.statuses()) <= {200, 503}
    assert recovered_in < 30


async def test_metrics_show_what_the_test_caused(kafka_bootstrap: str, tmp_path: Path) -> None:
    settings = settings_for(kafka_bootstrap)
    with BridgeProcess(tmp_path / "bridge.log", **settings) as bridge:
        async with httpx.AsyncClient(base_url=bridge.url, timeout=30) as client:
            for _ in range(3):
                ok = await client.post(
                    f"/callbacks/video-upload/{TOKEN}",
                    content=VIDEO_SAMPLE,
                    headers={"content-type": "application/json"},
                )
                assert ok.status_code == 200
            denied = await client.post("/callbacks/video-upload/not-the-token", content=b"{}")
            assert denied.status_code == 401
            exposition = (await client.get("/metrics")).text

    lines = set(exposition.splitlines())
    topic = settings["topic_video_upload"]
    assert f'bridge_records_produced_total{{topic="{topic}"}} 6.0' in lines
    assert 'bridge_http_requests_total{route="/callbacks/video-upload",status="200"} 3.0' in lines
    assert 'bridge_http_requests_total{route="/callbacks/video-upload",status="401"} 1.0' in lines
    assert 'bridge_auth_failures_total{reason="invalid_token"} 1.0' in lines
    assert "bridge_produce_duration_seconds_count 3.0" in lines
    assert "bridge_kafka_ready 1.0" in lines
    assert "bridge_records_in_flight 0.0" in lines
    assert TOKEN not in exposition


async def test_two_workers_share_the_port_and_stop_cleanly(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    settings = settings_for(kafka_bootstrap, workers="2")
    bridge = BridgeProcess(tmp_path / "bridge.log", **settings).start()
    stream = Stream(f"{bridge.url}/callbacks/video-upload/{TOKEN}", prefix="workers")
    stop = asyncio.Event()
    sending = asyncio.create_task(stream.run(stop))
    await stream.until(lambda s: len(s.acknowledged()) >= 100, within=60)
    stop.set()
    await sending

    code = await asyncio.to_thread(bridge.stop)

    assert code == 0
    assert stream.statuses() == {200: len(stream.outcomes)}
    keys = await keys_in(kafka_bootstrap, settings["topic_video_upload"])
    assert stream.acknowledged() - set(keys) == set()
    started = [
        json.loads(line)
        for line in bridge.log().splitlines()
        if line.startswith("{") and '"kafka producer connected"' in line
    ]
    assert len(started) == 2
