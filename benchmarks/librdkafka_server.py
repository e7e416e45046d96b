"""A peer, for the benchmark only: the bridge's own HTTP side (server, middleware, auth,
decoding, records) publishing through librdkafka (confluent-kafka) instead of aiokafka.

    BRIDGE_AUTH_TOKENS=... BRIDGE_PORT=8082 python -m benchmarks.librdkafka_server

What the bridge would cost on the other Python client of Kafka, whose batching, request
building and network I/O run in C threads. Its producer takes the bridge's options that
librdkafka has (`acks=all`, idempotence, `BRIDGE_KAFKA_LINGER_MS`,
`BRIDGE_KAFKA_COMPRESSION`, the Java client's partitioner) and the answer is `200` only
once every record is acknowledged, as in the bridge. It has none of the bridge's
publisher otherwise (no in-flight limit, stall watch, producer replacement, TLS or SASL):
a measure, not a path to production. The run's topics are created beforehand.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from typing import cast

import confluent_kafka  # type: ignore[import-not-found, unused-ignore]

from bridge.http.app import Bridge
from bridge.http.server import BridgeServer
from bridge.kafka.errors import PublishError
from bridge.logs import configure_logging
from bridge.records import OutgoingRecord
from bridge.settings import Settings, SettingsError, load_settings

# What `produce` takes as headers (a list of ours is one, read-only).
_Headers = list[tuple[str, str | bytes | None]]

# librdkafka reports deliveries to whoever polls it: the event loop does, this often (in
# seconds) while records wait for their acknowledgement, and not at all when none does.
POLL_INTERVAL = 0.001


class Delivery:
    """One callback's wait for the acknowledgements of its records."""

    __slots__ = ("future", "left", "publisher")

    def __init__(
        self, publisher: LibrdkafkaPublisher, future: asyncio.Future[None], records: int
    ) -> None:
        self.publisher = publisher
        self.future = future
        self.left = records

    def report(self, error: object, message: object) -> None:
        """librdkafka's delivery report of one record (from `poll`, on the event loop)."""
        self.publisher.waiting -= 1
        if self.future.done():
            return
        if error is not None:
            self.future.set_exception(PublishError(f"Kafka refused: {error}", reason="Refused"))
            return
        self.left -= 1
        if self.left == 0:
            self.future.set_result(None)


class LibrdkafkaPublisher:
    ready = True

    def __init__(self, settings: Settings) -> None:
        self.producer = confluent_kafka.Producer(
            {
                "bootstrap.servers": settings.kafka_bootstrap_servers,
                "acks": "all",
                "enable.idempotence": True,
                "linger.ms": settings.kafka_linger_ms,
                "compression.type": settings.kafka_compression,
                "partitioner": "murmur2_random",  # the Java client's, as the bridge's
            }
        )
        self.waiting = 0  # records produced and not yet reported
        self.poller: asyncio.Task[None] | None = None

    async def publish(self, records: Sequence[OutgoingRecord]) -> None:
        loop = asyncio.get_running_loop()
        delivery = Delivery(self, loop.create_future(), len(records))
        if self.poller is None:  # it starts after this turn, when the records are queued
            self.poller = loop.create_task(self._poll())
        for record in records:
            try:
                self.producer.produce(
                    record.topic,
                    record.value,
                    record.key,
                    headers=cast(_Headers, record.headers),  # read, not changed
                    on_delivery=delivery.report,
                )
            except BufferError:
                raise PublishError("librdkafka's queue is full", reason="Overloaded") from None
            self.waiting += 1
        await delivery.future

    async def _poll(self) -> None:
        while self.waiting:
            self.producer.poll(0)
            await asyncio.sleep(POLL_INTERVAL)
        self.poller = None


def main() -> int:
    try:
        settings = load_settings()
    except SettingsError as error:
        print(f"librdkafka_server: {error}", file=sys.stderr)
        return 2
    if settings.workers != 1:
        print("librdkafka_server: one worker only", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    server = BridgeServer(Bridge(settings, publisher=LibrdkafkaPublisher(settings)))
    server.run()
    return 0 if server.started else 1


if __name__ == "__main__":
    raise SystemExit(main())
