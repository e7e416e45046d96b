"""The producer in use, and its replacement when it stops delivering or loses its sequence.

A replaced producer's batcher fails every callback still waiting (503, and the
sender sends again); the old producer is stopped in the background.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine

from aiokafka import AIOKafkaProducer
from aiokafka.structs import TopicPartition

from bridge.kafka.batching import Batcher
from bridge.kafka.connection import replacement, retire
from bridge.kafka.errors import ProducerReplaced
from bridge.kafka.watchdog import Watchdog
from bridge.metrics import Metrics
from bridge.settings import Settings

log = logging.getLogger("bridge.kafka.replacement")

STALLED = "kafka producer stopped delivering while the cluster answers; replacing it"
REFUSED = "kafka refused a batch; replacing the producer to restart its sequence numbers"


class CurrentProducer:
    def __init__(
        self,
        settings: Settings,
        partition_count: Callable[[str], int],
        watchdog: Watchdog,
        metrics: Metrics,
        records_in_flight: Callable[[], int],
    ) -> None:
        self._settings = settings
        self._partition_count = partition_count
        self._watchdog = watchdog
        self._metrics = metrics
        self._records_in_flight = records_in_flight
        self.producer: AIOKafkaProducer | None = None
        self.batcher: Batcher | None = None
        self._background: set[asyncio.Task[None]] = set()

    def use(self, producer: AIOKafkaProducer) -> None:
        self.producer = producer
        linger = self._settings.kafka_linger_ms / 1000
        self.batcher = Batcher(producer, self._partition_count, leaders(producer), linger)

    def replace_soon(self, why: str) -> None:
        if self.producer is not None:
            self._in_background(self.replace(self.producer, why))

    async def replace(self, stuck: AIOKafkaProducer, why: str = STALLED) -> None:
        if stuck is not self.producer:
            return  # replaced already
        log.error(why, extra={"records_in_flight": self._records_in_flight()})
        fresh = await replacement(self._settings)
        if fresh is None:
            return
        if stuck is not self.producer:  # another replacement won the race
            await retire(fresh)
            return
        if self.batcher is not None:
            self.batcher.abort(ProducerReplaced())
        self.use(fresh)
        self._watchdog.delivered()
        self._metrics.producer_recreations.inc()
        # The stuck producer's pending sends fail or time out; their callers answer 503.
        self._in_background(retire(stuck))

    async def stop(self) -> None:
        """Stop the background work, then deliver what is buffered and close."""
        for task in self._background:
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        self._background.clear()
        producer, self.producer, self.batcher = self.producer, None, None
        if producer is not None:
            await producer.stop()

    def _in_background(self, work: Coroutine[None, None, None]) -> None:
        task = asyncio.create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)


def leaders(producer: AIOKafkaProducer) -> Callable[[str, int], int | None]:
    """The broker leading a partition, as `producer` last heard (None: not known yet)."""
    cluster = producer.client.cluster

    def leader_of(topic: str, partition: int) -> int | None:
        leader: int | None = cluster.leader_for_partition(TopicPartition(topic, partition))
        return None if leader is None or leader < 0 else leader

    return leader_of
