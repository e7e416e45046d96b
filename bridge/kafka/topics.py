"""The bridge's topics at start-up: there, describable, or created when allowed."""

from __future__ import annotations

import logging
import time

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (
    TopicAlreadyExistsError,
    TopicAuthorizationFailedError,
    UnknownTopicOrPartitionError,
)
from aiokafka.protocol.metadata import MetadataRequest

from bridge.kafka.errors import StartupError
from bridge.kafka.options import client_options
from bridge.settings import Settings

log = logging.getLogger("bridge.kafka.topics")

# Metadata error codes of a topic: it does not exist, or this client may not describe it.
_UNKNOWN_TOPIC = UnknownTopicOrPartitionError.errno
_TOPIC_NOT_AUTHORIZED = TopicAuthorizationFailedError.errno


async def ensure_topics(settings: Settings, topics: list[str]) -> None:
    """Return when every topic exists; raise `StartupError` when one is denied or missing."""
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        # Asked by name, so that a topic this client may not describe is told apart
        # from a missing one; never auto-created by the asking.
        request = MetadataRequest(topics, allow_auto_topic_creation=False)
        metadata = (await admin._send_request(request)).to_object()
        errors = {topic["topic"]: topic["error_code"] for topic in metadata["topics"]}
        denied = [topic for topic in topics if errors.get(topic) == _TOPIC_NOT_AUTHORIZED]
        if denied:
            raise StartupError(
                f"kafka denies Describe on topic {', '.join(denied)} to this client: grant "
                "its principal Describe and Write on the topic (or the topic does not exist)"
            )
        missing = [topic for topic in topics if errors.get(topic) == _UNKNOWN_TOPIC]
        if not missing:
            return
        if not settings.create_topics:
            raise StartupError(
                f"kafka topics missing: {', '.join(missing)}; create them or set "
                "BRIDGE_CREATE_TOPICS=true"
            )
        await _create_topics(admin, missing, settings)
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
    log.info("created kafka topics", extra={"topics": names, "replicas": replicas})


class PartitionCounts:
    """How many partitions each topic has, as the producer's metadata last said."""

    def __init__(self, topics: list[str]) -> None:
        self._topics = topics
        self._counts: dict[str, int] = {}

    def __call__(self, topic: str) -> int:
        return self._counts[topic]

    async def learn(self, producer: AIOKafkaProducer) -> None:
        for topic in self._topics:
            self._counts[topic] = len(await producer.partitions_for(topic))

    def refresh(self, producer: AIOKafkaProducer) -> None:
        """Partitions added to a topic are used from the next metadata answer on."""
        for topic in self._topics:
            known = producer.client.cluster.partitions_for_topic(topic)
            if known:
                self._counts[topic] = len(known)


# A denied set of topics is logged again at most this often (seconds).
DENIAL_LOG_INTERVAL = 10.0


class DenialLog:
    """One error line per set of topics Kafka denies us, at most every DENIAL_LOG_INTERVAL."""

    def __init__(self) -> None:
        self._logged: dict[frozenset[str], float] = {}

    def denied(self, topics: set[str]) -> None:
        key = frozenset(topics)
        now = time.monotonic()
        if now - self._logged.get(key, float("-inf")) >= DENIAL_LOG_INTERVAL:
            self._logged[key] = now
            log.error(
                f"kafka denies Write on topic {', '.join(sorted(topics))} to this client: "
                "grant its principal Write and Describe on the topic"
            )
