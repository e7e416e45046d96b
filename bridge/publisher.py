"""The Kafka side of the bridge; the only module of the serving path that imports aiokafka.

One idempotent producer per process (`acks=all`). A request's records are all
handed to the producer at once and the request waits, within a deadline, for
every acknowledgement: the caller answers 200 only when `publish` returns.

A watchdog asks the cluster for metadata every second, every broker at once.
Readiness follows its answers, and a producer that stops delivering while the
cluster answers (as aiokafka's idempotent producer can after broker trouble)
is replaced.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import ssl
import time
from collections.abc import Iterable, Sequence
from functools import partial
from typing import Any, Protocol

from aiokafka import AIOKafkaClient, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (
    KafkaConnectionError,
    KafkaError,
    MessageSizeTooLargeError,
    OutOfOrderSequenceNumber,
    RecordListTooLargeError,
    TopicAlreadyExistsError,
    TopicAuthorizationFailedError,
)
from aiokafka.helpers import create_ssl_context
from aiokafka.protocol.metadata import MetadataRequest

from bridge.batching import Backlog, Batcher
from bridge.config import Settings
from bridge.deadlines import Deadlines
from bridge.errors import BodyTooLarge, Unavailable
from bridge.metrics import Metrics
from bridge.oauth import token_provider
from bridge.preflight import certificate_problem, refusal
from bridge.records import OutgoingRecord

log = logging.getLogger("bridge.publisher")

PROBE_INTERVAL = 1.0  # seconds between metadata requests
PROBE_TIMEOUT = 2.0
STALE_AFTER = 3.0  # metadata older than this makes the bridge not ready

# Records the broker refuses for their size: retrying cannot help.
TOO_LARGE = (MessageSizeTooLargeError, RecordListTooLargeError)
# A batch the broker refused leaves a gap in the idempotent producer's sequence
# numbers for its partition, and aiokafka does not close it: every later batch
# there fails with OutOfOrderSequenceNumber. Only a new producer starts afresh.
SEQUENCE_BREAKERS = (*TOO_LARGE, OutOfOrderSequenceNumber)
_STALLED = "kafka producer stopped delivering while the cluster answers; replacing it"
_REFUSED = "kafka refused a batch; replacing the producer to restart its sequence numbers"
# Metadata error codes of a topic: it does not exist, or this client may not describe it.
_UNKNOWN_TOPIC = 3
_TOPIC_NOT_AUTHORIZED = TopicAuthorizationFailedError.errno
DENIED_LOG_INTERVAL = 10.0  # seconds between log lines about the same denied topics


class Publisher(Protocol):
    """What the HTTP layer needs from Kafka."""

    @property
    def ready(self) -> bool: ...

    async def publish(self, records: Sequence[OutgoingRecord]) -> None:
        """Return once every record is acknowledged; raise `Unavailable` otherwise."""


class ProducerReplaced(Exception):
    """The producer holding a callback's records stopped delivering and was replaced."""


class StartupError(RuntimeError):
    """The broker answered, but the bridge cannot work with it; the message is one line."""


def client_options(settings: Settings) -> dict[str, Any]:
    """Connection options shared by the producer, the admin client and the tools' consumers."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap_servers,
        "client_id": settings.kafka_client_id,
        "request_timeout_ms": settings.kafka_request_timeout_ms,
        "security_protocol": settings.kafka_security_protocol,
    }
    if settings.kafka_security_protocol in ("SSL", "SASL_SSL"):
        options["ssl_context"] = _ssl_context(settings)
    if settings.kafka_security_protocol.startswith("SASL_"):
        options["sasl_mechanism"] = settings.kafka_sasl_mechanism
        options["sasl_plain_username"] = settings.kafka_sasl_username
        options["sasl_plain_password"] = settings.kafka_sasl_password
    if settings.kafka_sasl_mechanism == "OAUTHBEARER":
        options["sasl_oauth_token_provider"] = token_provider(settings)
    return options


def _ssl_context(settings: Settings) -> ssl.SSLContext:
    context: ssl.SSLContext = create_ssl_context(
        cafile=settings.kafka_ssl_cafile or None,
        certfile=settings.kafka_ssl_certfile or None,
        keyfile=settings.kafka_ssl_keyfile or None,
        password=settings.kafka_ssl_key_password or None,
    )
    return context


def producer_options(settings: Settings) -> dict[str, Any]:
    compression = settings.kafka_compression
    return {
        **client_options(settings),
        "acks": "all",
        "enable_idempotence": True,
        "compression_type": None if compression == "none" else compression,
        "linger_ms": settings.kafka_linger_ms,
        "max_batch_size": settings.kafka_max_batch_bytes,
        "max_request_size": settings.kafka_max_request_bytes,
    }


class BrokerProbe:
    """Asks every broker for metadata at once: did any answer within PROBE_TIMEOUT?

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


class KafkaPublisher:
    """Owns the producer: connects, checks topics, publishes, watches, replaces, stops."""

    def __init__(self, settings: Settings, topics: Iterable[str], metrics: Metrics) -> None:
        self._settings = settings
        self._topics = sorted(set(topics))
        self._metrics = metrics
        self._producer: AIOKafkaProducer | None = None
        self._batcher: Batcher | None = None
        self._deadlines = Deadlines(settings.produce_timeout_seconds)
        self._brokers = BrokerProbe(self._topics)
        self._partitions: dict[str, int] = {}
        self._connecting: asyncio.Task[None] | None = None
        self._watching: asyncio.Task[None] | None = None
        self._retiring: set[asyncio.Task[None]] = set()
        # During start-up a missing topic stops the process; later it is only logged.
        self._starting = True
        self._records_in_flight = 0
        now = time.monotonic()
        self._last_contact = float("-inf")  # last metadata answer
        self._reachable_since = now
        self._last_delivery = now
        self._denied_logged: dict[frozenset[str], float] = {}

    @property
    def ready(self) -> bool:
        fresh = time.monotonic() - self._last_contact < STALE_AFTER
        return self._producer is not None and fresh

    @property
    def producer(self) -> AIOKafkaProducer | None:
        return self._producer

    async def start(self) -> None:
        """Connect within the start-up timeout, or go on connecting in the background.

        Raises `StartupError` when the broker answers but the topics are missing
        and may not be created, or refuse this client: that needs an operator, not a retry.
        """
        problem = certificate_problem(self._settings.kafka_ssl_certfile)
        if problem is not None:
            raise StartupError(problem)
        self._connecting = asyncio.create_task(self._connect_until_ready())
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
        for task in (self._connecting, self._watching, *self._retiring):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        self._connecting = self._watching = None
        self._retiring.clear()
        await self._brokers.stop()
        producer, self._producer = self._producer, None
        self._batcher = None
        self._metrics.kafka_ready.set(0)
        if producer is not None:
            await producer.stop()

    async def publish(self, records: Sequence[OutgoingRecord]) -> None:
        batcher = self._batcher
        if batcher is None:
            raise Unavailable("Not connected to Kafka yet; retry later")
        limit = self._settings.max_records_in_flight
        if self._records_in_flight + len(records) > limit:
            self._metrics.producer_errors.labels("Overloaded").inc()
            raise Unavailable(f"More than {limit} records waiting for Kafka; retry later")
        self._records_in_flight += len(records)
        self._metrics.records_in_flight.inc(len(records))
        started = time.monotonic()
        try:
            await self._deliver(batcher, records)
        finally:
            self._records_in_flight -= len(records)
            self._metrics.records_in_flight.dec(len(records))
        self._last_delivery = time.monotonic()
        self._metrics.produce_seconds.observe(self._last_delivery - started)
        for topic, count in collections.Counter(record.topic for record in records).items():
            self._metrics.records.labels(topic).inc(count)

    async def _deliver(self, batcher: Batcher, records: Sequence[OutgoingRecord]) -> None:
        timeout = self._settings.produce_timeout_seconds
        acknowledged = batcher.add(records)
        watch = self._deadlines.arm(lambda: _expire(acknowledged))
        try:
            await acknowledged
        except TimeoutError:
            self._metrics.producer_errors.labels("Timeout").inc()
            raise Unavailable(f"Kafka did not acknowledge within {timeout:g} s") from None
        except Backlog:
            self._metrics.producer_errors.labels("Backlog").inc()
            raise Unavailable("Kafka is not taking records; retry later") from None
        except (KafkaError, ProducerReplaced) as error:
            name = type(error).__name__
            self._metrics.producer_errors.labels(name).inc()
            if isinstance(error, TopicAuthorizationFailedError):
                self._log_denied({record.topic for record in records})
            if isinstance(error, SEQUENCE_BREAKERS):
                self._replace_soon(_REFUSED)
            if isinstance(error, TOO_LARGE):
                raise BodyTooLarge(
                    f"A record of this callback is larger than Kafka accepts ({name})"
                ) from None
            raise Unavailable(f"Kafka refused the records: {name}") from None
        finally:
            watch.armed = False

    def _log_denied(self, topics: set[str]) -> None:
        key = frozenset(topics)
        now = time.monotonic()
        if now - self._denied_logged.get(key, float("-inf")) >= DENIED_LOG_INTERVAL:
            self._denied_logged[key] = now
            log.error(
                f"kafka denies Write on topic {', '.join(sorted(topics))} to this client: "
                "grant its principal Write and Describe on the topic"
            )

    def _replace_soon(self, why: str) -> None:
        producer = self._producer
        if producer is not None:
            replacing = asyncio.create_task(self._replace(producer, why))
            self._retiring.add(replacing)
            replacing.add_done_callback(self._retiring.discard)

    def _partition_count(self, topic: str) -> int:
        return self._partitions[topic]

    async def _learn_partitions(self, producer: AIOKafkaProducer) -> None:
        for topic in self._topics:
            self._partitions[topic] = len(await producer.partitions_for(topic))

    def _refresh_partitions(self, producer: AIOKafkaProducer) -> None:
        """Partitions added to a topic are used from the next metadata answer on."""
        for topic in self._topics:
            known = producer.client.cluster.partitions_for_topic(topic)
            if known:
                self._partitions[topic] = len(known)

    async def _connect_until_ready(self) -> None:
        backoff = 0.2
        while True:
            try:
                await self._connect()
                return
            except KafkaConnectionError as error:
                reason = await refusal(self._settings, client_options(self._settings))
                if reason is None:
                    log.info("kafka not reachable; retrying", extra={"error": str(error)})
                elif self._starting:
                    raise StartupError(reason) from None
                else:
                    log.error(reason)
            except KafkaError as error:
                log.warning("kafka refused; retrying", extra={"error": repr(error)})
            except StartupError as error:
                if self._starting:
                    raise
                log.error(str(error))
                backoff = 5.0
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 5.0)

    async def _connect(self) -> None:
        await self._ensure_topics()
        producer = await self._new_producer()
        await self._learn_partitions(producer)
        self._use(producer)
        self._last_contact = time.monotonic()
        self._metrics.kafka_ready.set(1)
        self._watching = asyncio.create_task(self._watch())
        log.info(
            "kafka producer connected", extra={"bootstrap": self._settings.kafka_bootstrap_servers}
        )

    def _use(self, producer: AIOKafkaProducer) -> None:
        self._producer = producer
        self._batcher = Batcher(producer, self._partition_count)

    async def _new_producer(self) -> AIOKafkaProducer:
        producer = AIOKafkaProducer(**producer_options(self._settings))
        try:
            await producer.start()
        except BaseException:
            await producer.stop()
            raise
        return producer

    async def _ensure_topics(self) -> None:
        admin = AIOKafkaAdminClient(**client_options(self._settings))
        await admin.start()
        try:
            # Asked by name, so that a topic this client may not describe is told apart
            # from a missing one; never auto-created by the asking.
            request = MetadataRequest(self._topics, allow_auto_topic_creation=False)
            metadata = (await admin._send_request(request)).to_object()
            errors = {topic["topic"]: topic["error_code"] for topic in metadata["topics"]}
            denied = [topic for topic in self._topics if errors.get(topic) == _TOPIC_NOT_AUTHORIZED]
            if denied:
                raise StartupError(
                    f"kafka denies Describe on topic {', '.join(denied)} to this client: grant "
                    "its principal Describe and Write on the topic (or the topic does not exist)"
                )
            missing = [topic for topic in self._topics if errors.get(topic) == _UNKNOWN_TOPIC]
            if not missing:
                return
            if not self._settings.create_topics:
                raise StartupError(
                    f"kafka topics missing: {', '.join(missing)}; create them or set "
                    "BRIDGE_CREATE_TOPICS=true"
                )
            await _create_topics(admin, missing, self._settings)
        finally:
            await admin.close()

    async def _watch(self) -> None:
        """Every second: is the cluster answering, and is the producer still delivering?"""
        while True:
            await asyncio.sleep(PROBE_INTERVAL)
            producer = self._producer
            if producer is None:
                continue
            if await self._probe(producer):
                self._refresh_partitions(producer)
                if self._stalled():
                    await self._replace(producer)
            self._metrics.kafka_ready.set(1 if self.ready else 0)

    async def _probe(self, producer: AIOKafkaProducer) -> bool:
        was_ready = self.ready
        # The producer's view of the cluster (leaders, partitions) is refreshed in the
        # background; readiness does not wait for it.
        producer.client.force_metadata_update()
        answered = await self._brokers.any_answers(producer.client)
        now = time.monotonic()
        if answered:
            if now - self._last_contact >= STALE_AFTER:
                self._reachable_since = now
            self._last_contact = now
        if was_ready != self.ready:
            log.warning("kafka reachable" if self.ready else "kafka unreachable; not ready")
        return bool(answered)

    def _stalled(self) -> bool:
        """Records wait, the cluster answers, and nothing was delivered for too long."""
        waiting_since = max(self._last_delivery, self._reachable_since)
        return (
            self._records_in_flight > 0
            and time.monotonic() - waiting_since > self._settings.producer_stall_seconds
        )

    async def _replace(self, stuck: AIOKafkaProducer, why: str = _STALLED) -> None:
        if stuck is not self._producer:
            return  # replaced already
        log.error(why, extra={"records_in_flight": self._records_in_flight})
        try:
            fresh = await asyncio.wait_for(self._new_producer(), PROBE_TIMEOUT * 5)
        except (TimeoutError, KafkaError) as error:
            log.warning("could not start a new producer yet", extra={"error": repr(error)})
            return
        if stuck is not self._producer:  # another replacement won the race
            await _retire(fresh)
            return
        if self._batcher is not None:
            self._batcher.abort(ProducerReplaced())
        self._use(fresh)
        self._last_delivery = time.monotonic()
        self._metrics.producer_recreations.inc()
        # The stuck producer's pending sends fail or time out; their callers answer 503.
        retiring = asyncio.create_task(_retire(stuck))
        self._retiring.add(retiring)
        retiring.add_done_callback(self._retiring.discard)


def _expire(acknowledged: asyncio.Future[None]) -> None:
    if not acknowledged.done():
        acknowledged.set_exception(TimeoutError())


async def _retire(producer: AIOKafkaProducer) -> None:
    try:
        await asyncio.wait_for(producer.stop(), 10)
    except (TimeoutError, KafkaError):
        log.warning("the replaced producer did not stop cleanly")


async def _create_topics(admin: AIOKafkaAdminClient, names: list[str], settings: Settings) -> None:
    replicas = settings.topic_replication_factor
    if replicas == 0:
        replicas = min(3, len((await admin.describe_cluster())["brokers"]))
    topics = [NewTopic(name, settings.topic_partitions, replicas) for name in names]
    response = await admin.create_topics(topics)
    for name, code, *rest in response.topic_errors:
        if code and code != TopicAlreadyExistsError.errno:  # another replica won the race
            message = rest[0] if rest else ""
            raise StartupError(f"kafka refused to create topic {name}: error {code} {message}")
    log.info("created kafka topics", extra={"topics": names, "replicas": replicas})
