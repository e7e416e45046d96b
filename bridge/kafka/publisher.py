"""The producer's lifecycle and `publish`; the only part of the serving path that produces.

One idempotent producer per process (`acks=all`). A request's records are all
handed to the producer at once and the request waits, within a deadline, for
every acknowledgement: the caller answers 200 only when `publish` returns.
The watchdog decides readiness and when a stalled producer is replaced.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Sequence

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, TopicAuthorizationFailedError

from bridge.deadlines import Deadlines
from bridge.kafka.batching import Batcher
from bridge.kafka.connection import connect_until_done, new_producer
from bridge.kafka.errors import (
    SEQUENCE_BREAKERS,
    PartitionStalled,
    ProducerReplaced,
    PublishError,
    StartupError,
    refusal,
)
from bridge.kafka.preflight import certificate_problem
from bridge.kafka.replacement import REFUSED, CurrentProducer
from bridge.kafka.topics import DenialLog, PartitionCounts, ensure_topics
from bridge.kafka.watchdog import PROBE_INTERVAL, Watchdog
from bridge.metrics import Metrics
from bridge.records import OutgoingRecord
from bridge.settings import Settings

log = logging.getLogger("bridge.kafka.publisher")


class KafkaPublisher:
    """Owns the producer: connects, checks topics, publishes, watches, replaces, stops."""

    def __init__(self, settings: Settings, topics: Iterable[str], metrics: Metrics) -> None:
        self._settings = settings
        self._topics = sorted(set(topics))
        self._metrics = metrics
        self._deadlines = Deadlines(settings.produce_timeout_seconds)
        self._partitions = PartitionCounts(self._topics)
        self._watchdog = Watchdog(settings.producer_stall_seconds, self._topics)
        self._current = CurrentProducer(
            settings, self._partitions, self._watchdog, metrics, lambda: self._records_in_flight
        )
        self._connecting: asyncio.Task[None] | None = None
        self._watching: asyncio.Task[None] | None = None
        # During start-up a missing topic stops the process; later it is only logged.
        self._starting = True
        self._records_in_flight = 0
        # Read when scraped, rather than kept up to date twice per callback.
        metrics.records_in_flight.set_function(lambda: self._records_in_flight)
        # The records counter of each topic, its label looked up once.
        self._produced = {topic: metrics.records.labels(topic) for topic in self._topics}
        self._denials = DenialLog()

    @property
    def ready(self) -> bool:
        return self._current.producer is not None and self._watchdog.in_contact

    @property
    def producer(self) -> AIOKafkaProducer | None:
        return self._current.producer

    async def start(self) -> None:
        """Connect within the start-up timeout, or go on connecting in the background.

        Raises `StartupError` when the broker answers but the topics are missing
        and may not be created, or refuse this client: that needs an operator, not a retry.
        """
        problem = certificate_problem(self._settings.kafka_ssl_certfile)
        if problem is not None:
            raise StartupError(problem)
        self._connecting = asyncio.create_task(
            connect_until_done(self._settings, self._connect, lambda: self._starting)
        )
        done, _ = await asyncio.wait(
            {self._connecting}, timeout=self._settings.startup_timeout_seconds
        )
        self._starting = False
        if done:
            self._connecting.result()
        else:
            log.warning(
                "kafka not reachable yet; serving as not ready and still trying",
                extra={"bootstrap": self._settings.kafka_bootstrap_servers},
            )

    async def stop(self) -> None:
        """Deliver what is buffered, then close. Safe to call twice."""
        for task in (self._connecting, self._watching):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        self._connecting = self._watching = None
        await self._watchdog.stop()
        self._metrics.kafka_ready.set(0)
        await self._current.stop()

    async def publish(self, records: Sequence[OutgoingRecord]) -> None:
        batcher = self._current.batcher
        if batcher is None:
            raise self._failed("Not connected to Kafka yet; retry later", "NotConnected")
        limit = self._settings.max_records_in_flight
        if self._records_in_flight + len(records) > limit:
            raise self._failed(
                f"More than {limit} records waiting for Kafka; retry later", "Overloaded"
            )
        self._records_in_flight += len(records)
        started = time.monotonic()
        try:
            await self._deliver(batcher, records)
        finally:
            self._records_in_flight -= len(records)
        self._watchdog.delivered()
        self._metrics.produce_seconds.observe(self._watchdog.last_delivery - started)
        counts: dict[str, int] = {}
        for record in records:
            counts[record.topic] = counts.get(record.topic, 0) + 1
        for topic, count in counts.items():
            self._produced[topic].inc(count)

    def _failed(self, message: str, reason: str) -> PublishError:
        return self._counted(PublishError(message, reason=reason))

    def _counted(self, error: PublishError) -> PublishError:
        """`error`, counted in `bridge_producer_errors_total` by its reason."""
        self._metrics.producer_errors.labels(error.reason).inc()
        return error

    async def _deliver(self, batcher: Batcher, records: Sequence[OutgoingRecord]) -> None:
        timeout = self._settings.produce_timeout_seconds
        acknowledged = batcher.add(records)
        watch = self._deadlines.arm(lambda: _expire(acknowledged))
        try:
            await acknowledged
        except TimeoutError:
            raise self._failed(
                f"Kafka did not acknowledge within {timeout:g} s", "Timeout"
            ) from None
        except PartitionStalled:
            raise self._failed("Kafka is not taking records; retry later", "Backlog") from None
        except (KafkaError, ProducerReplaced) as error:
            refused = self._counted(refusal(error))
            if isinstance(error, TopicAuthorizationFailedError):
                self._denials.denied({record.topic for record in records})
            if isinstance(error, SEQUENCE_BREAKERS):
                self._current.replace_soon(REFUSED)
            raise refused from None
        finally:
            watch.armed = False

    async def _connect(self) -> None:
        await ensure_topics(self._settings, self._topics)
        producer = await new_producer(self._settings)
        await self._partitions.learn(producer)
        self._current.use(producer)
        self._watchdog.contacted()
        self._metrics.kafka_ready.set(1)
        self._watching = asyncio.create_task(self._watch())
        log.info(
            "kafka producer connected", extra={"bootstrap": self._settings.kafka_bootstrap_servers}
        )

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(PROBE_INTERVAL)
            producer = self._current.producer
            if producer is None:
                continue
            if await self._watchdog.probe(producer):
                self._partitions.refresh(producer)
                if self._watchdog.stalled(self._records_waiting()):
                    await self._current.replace(producer)
            self._metrics.kafka_ready.set(1 if self.ready else 0)

    def _records_waiting(self) -> bool:
        """Callbacks wait for records, or the producer holds batches it neither delivers nor
        fails: callbacks refused meanwhile (a stalled partition) wait for nothing, but the
        producer is as stuck."""
        batcher = self._current.batcher
        return self._records_in_flight > 0 or (batcher is not None and batcher.unacknowledged())


def _expire(acknowledged: asyncio.Future[None]) -> None:
    if not acknowledged.done():
        acknowledged.set_exception(TimeoutError())
