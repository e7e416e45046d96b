"""Is the cluster answering, and is the producer still delivering while it does?

Readiness follows the cluster's metadata answers: every broker is asked at
once, and one answer will do. A producer that holds records and delivers none
for `producer_stall_seconds` while the cluster answers (as aiokafka's
idempotent producer can after broker trouble) is declared stalled, and the
publisher replaces it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from functools import partial
from typing import Any

from aiokafka import AIOKafkaClient, AIOKafkaProducer
from aiokafka.protocol.metadata import MetadataRequest

log = logging.getLogger("bridge.kafka.watchdog")

PROBE_INTERVAL = 1.0  # seconds between metadata requests
PROBE_TIMEOUT = 2.0
# Without a metadata answer for this long the bridge is not ready.
CONTACT_MAX_AGE = 3.0


class BrokerQuestions:
    """Asks every broker for metadata at once: did any answer within `PROBE_TIMEOUT`?

    aiokafka's own metadata update asks one broker at a time, and waits out
    request_timeout_ms on one that takes the request and never answers (behind a
    network that drops packets): asked that way, one such broker made the bridge
    not ready for most of that time, while the others served its callbacks. A
    broker not done with the last question is not asked again meanwhile.
    """

    def __init__(self, topics: list[str]) -> None:
        self._request = MetadataRequest(topics, allow_auto_topic_creation=False)
        self._client: AIOKafkaClient | None = None
        self._asking: dict[int, asyncio.Task[Any]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    async def any_answers(self, client: AIOKafkaClient) -> bool:
        if client is not self._client:  # a new producer: the old one's questions end with it
            self._client, self._asking = client, {}
        for node in {broker.nodeId for broker in client.cluster.brokers()}:
            if node not in self._asking:
                task = asyncio.create_task(client.send(node, self._request))
                task.add_done_callback(partial(self._answered, node))
                self._asking[node] = task
                self._tasks.add(task)
        waiting = set(self._asking.values())
        deadline = asyncio.get_running_loop().time() + PROBE_TIMEOUT
        while waiting:
            left = deadline - asyncio.get_running_loop().time()
            done, waiting = await asyncio.wait(
                waiting, timeout=max(left, 0), return_when=asyncio.FIRST_COMPLETED
            )
            if not done:
                return False
            if any(not task.cancelled() and task.exception() is None for task in done):
                return True
        return False

    def _answered(self, node: int, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if self._asking.get(node) is task:
            del self._asking[node]
        if not task.cancelled():
            task.exception()  # a broker that did not answer: retrieved, and told by the result

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


class Watchdog:
    def __init__(self, stall_seconds: float, topics: list[str]) -> None:
        self.stall_seconds = stall_seconds
        self._brokers = BrokerQuestions(topics)
        now = time.monotonic()
        self.last_contact = float("-inf")
        self.reachable_since = now
        self.last_delivery = now

    @property
    def in_contact(self) -> bool:
        return time.monotonic() - self.last_contact < CONTACT_MAX_AGE

    def contacted(self) -> None:
        self.last_contact = time.monotonic()

    def delivered(self) -> None:
        self.last_delivery = time.monotonic()

    async def probe(self, producer: AIOKafkaProducer) -> bool:
        """Ask for metadata; True when a broker answered within `PROBE_TIMEOUT`."""
        was_in_contact = self.in_contact
        # The producer's view of the cluster (leaders, partitions) is refreshed in the
        # background; readiness does not wait for it.
        producer.client.force_metadata_update()
        answered = await self._brokers.any_answers(producer.client)
        now = time.monotonic()
        if answered:
            if now - self.last_contact >= CONTACT_MAX_AGE:
                self.reachable_since = now
            self.last_contact = now
        if was_in_contact != self.in_contact:
            log.warning("kafka reachable" if self.in_contact else "kafka unreachable; not ready")
        return bool(answered)

    async def stop(self) -> None:
        await self._brokers.stop()

    def stalled(self, records_waiting: bool) -> bool:
        """Records wait, the cluster answers, and nothing was delivered for too long."""
        waiting_since = max(self.last_delivery, self.reachable_since)
        return records_waiting and time.monotonic() - waiting_since > self.stall_seconds
