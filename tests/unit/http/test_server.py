"""The server's own start-up: the collector is tuned once the bridge serves."""

from __future__ import annotations

import asyncio
import gc
import socket
from collections.abc import Iterator

import pytest

from bridge.http.app import Bridge
from bridge.http.server import BridgeServer
from bridge.settings import Settings
from tests.fakes import RecordingPublisher

SETTINGS = Settings(allow_unauthenticated=True, host="127.0.0.1", port=0)


@pytest.fixture
def collector() -> Iterator[None]:
    """The collector as this test found it, afterwards: tests share the process."""
    thresholds = gc.get_threshold()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)


async def test_once_serving_the_start_up_heap_is_frozen_and_collected_less_often(
    collector: None,
) -> None:
    gc.set_threshold(700, 10, 10)  # Python's defaults
    gc.unfreeze()
    server = BridgeServer(Bridge(SETTINGS, RecordingPublisher()))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        async with asyncio.timeout(10):
            while not server.started:  # noqa: ASYNC110 - uvicorn has no event for it
                assert not serving.done(), serving
                await asyncio.sleep(0.01)
        assert gc.get_threshold() == (5_000, 10, 10)
        assert gc.get_freeze_count() > 1_000  # the modules, at least
        server.should_exit = True
        await serving
