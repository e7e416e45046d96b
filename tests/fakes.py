"""Stand-ins for Kafka in unit tests of the HTTP layer, never used where a test claims Kafka,
and the client those tests call the app with."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import httpx

from bridge.http.app import Bridge
from bridge.kafka.errors import PublishError
from bridge.records import OutgoingRecord


def client_of(bridge: Bridge, peer: tuple[str, int] = ("127.0.0.1", 123)) -> httpx.AsyncClient:
    """A client that calls `bridge` in this process, no socket between, as `peer`."""
    transport = httpx.ASGITransport(app=bridge, client=peer)
    return httpx.AsyncClient(transport=transport, base_url="http://bridge")


class RecordingPublisher:
    """Keeps what it is given; can be told to refuse, as an unreachable Kafka would."""

    def __init__(self) -> None:
        self.records: list[OutgoingRecord] = []
        self.ready = True
        self.refuse_with: str | None = None

    async def publish(self, records: Sequence[OutgoingRecord]) -> None:
        if self.refuse_with is not None:
            raise PublishError(self.refuse_with, reason="Refused")
        self.records.extend(records)

    def on(self, topic: str) -> list[OutgoingRecord]:
        return [record for record in self.records if record.topic == topic]


class BlockingPublisher(RecordingPublisher):
    """Holds every publish until released, as a slow Kafka would."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()
        self.waiting = 0
        self.arrived = asyncio.Condition()

    async def publish(self, records: Sequence[OutgoingRecord]) -> None:
        async with self.arrived:
            self.waiting += 1
            self.arrived.notify_all()
        await self.release.wait()
        await super().publish(records)
