"""The Kafka side of the bridge; the only module of the serving path that imports aiokafka.

One idempotent producer per process (`acks=all`). A request's records are all
handed to the producer at once and the request waits, within a deadline, for
every acknowledgement: the caller answers 200 only when `publish` returns.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, KafkaError, TopicAlreadyExistsError
from aiokafka.helpers import create_ssl_context

from bridge.config import Settings
from bridge.errors import Unavailable
from bridge.records import OutgoingRecord

log = logging.getLogger("bridge.publisher")


class Publisher(Protocol):
    """What the HTTP layer needs from Kafka."""

    @property
    def ready(self) -> bool: ...

    async def publish(self, records: Sequence[OutgoingRecord]) -> None:
        """Return once every record is acknowledged; raise `Unavailable` otherwise."""


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


class KafkaPublisher:
    """Owns the producer: connects, checks topics, publishes, stops."""

    def __init__(self, settings: Settings, topics: Iterable[str]) -> None:
        self._settings = settings
        self._topics = sorted(set(topics))
        self._producer: AIOKafkaProducer | None = None
        self._connecting: asyncio.Task[None] | None = None
        # During start-up a missing topic stops the process; later it is only logged.
        self._starting = True

    @property
    def ready(self) -> bool:
        return self._producer is not None

    async def start(self) -> None:
        """Connect within the start-up timeout, or go on connecting in the background.

        Raises `StartupError` when the broker answers but the topics are missing
        and may not be created: that needs an operator, not a retry.
        """
        self._connecting = asyncio.create_task(self._connect_until_ready())
        done, _ = await asyncio.wait(
            {self._connecting}, timeout=self._settings.startup_timeout_seconds
        )
        self._starting = False
        if done:
            self._connecting.result()
        else:
            log.warning(
                "kafka not reachable at %s yet; serving as not ready and still trying",
                self._settings.kafka_bootstrap_servers,
            )

    async def stop(self) -> None:
        """Deliver what is buffered, then close. Safe to call twice."""
        if self._connecting is not None:
            self._connecting.cancel()
            await asyncio.gather(self._connecting, return_exceptions=True)
            self._connecting = None
        producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()

    async def publish(self, records: Sequence[OutgoingRecord]) -> None:
        producer = self._producer
        if producer is None:
            raise Unavailable("Not connected to Kafka yet; retry later")
        timeout = self._settings.produce_timeout_seconds
        deliveries: list[asyncio.Future[Any]] = []
        try:
            async with asyncio.timeout(timeout):
                for record in records:
                    deliveries.append(
                        await producer.send(
                            record.topic, record.value, record.key, headers=record.headers
                        )
                    )
                # wait() rather than gather(): a late acknowledgement must not
                # find its future cancelled.
                await asyncio.wait(deliveries)
        except TimeoutError:
            _discard_outcomes(deliveries)
            raise Unavailable(f"Kafka did not acknowledge within {timeout:g} s") from None
        except KafkaError as error:
            _discard_outcomes(deliveries)
            raise Unavailable(f"Kafka refused the records: {type(error).__name__}") from None
        failed = [d.exception() for d in deliveries if d.exception() is not None]
        if failed:
            raise Unavailable(
                f"Kafka refused {len(failed)} of {len(deliveries)} records: "
                f"{type(failed[0]).__name__}"
            )

    async def _connect_until_ready(self) -> None:
        backoff = 0.2
        while True:
            try:
                await self._connect()
                return
            except KafkaConnectionError as error:
                log.info("kafka not reachable: %s; retrying in %.1f s", error, backoff)
            except KafkaError as error:
                log.warning("kafka refused: %r; retrying in %.1f s", error, backoff)
            except StartupError as error:
                if self._starting:
                    raise
                log.error("%s", error)
                backoff = 5.0
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 5.0)

    async def _connect(self) -> None:
        await self._ensure_topics()
        producer = AIOKafkaProducer(**producer_options(self._settings))
        try:
            await producer.start()
        except BaseException:
            await producer.stop()
            raise
        self._producer = producer
        log.info("kafka producer connected to %s", self._settings.kafka_bootstrap_servers)

    async def _ensure_topics(self) -> None:
        admin = AIOKafkaAdminClient(**client_options(self._settings))
        await admin.start()
        try:
            missing = [topic for topic in self._topics if topic not in await admin.list_topics()]
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
    log.info("created kafka topics %s (%d replicas)", ", ".join(names), replicas)


def _discard_outcomes(deliveries: list[asyncio.Future[Any]]) -> None:
    """Mark late failures as seen, so they are not reported as never retrieved."""
    for delivery in deliveries:
        delivery.add_done_callback(lambda d: d.cancelled() or d.exception())
