"""Test-side Kafka helpers: create topics and read everything a topic holds."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from bridge.settings import Settings
from bridge.tools.topic_reader import partitions_of, read_to_end


def unique_topic(purpose: str) -> str:
    return f"test.{purpose}.{uuid.uuid4().hex[:10]}"


async def create_topics(bootstrap: str, *names: str, partitions: int = 3) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1) for name in names])
    finally:
        await admin.close()


async def read_all(bootstrap: str, topic: str, within: float = 30.0) -> list[Any]:
    """Every record in `topic` now (the tools' `read_to_end`), once the topic is known."""
    settings = Settings(kafka_bootstrap_servers=bootstrap)
    async with asyncio.timeout(within):
        while True:
            try:
                await partitions_of(settings, topic)
                break
            except LookupError:  # created moments ago: not in the metadata yet
                await asyncio.sleep(0.1)
        return await read_to_end(settings, topic)


def java_murmur2(data: bytes) -> int:
    """Kafka's Java `Utils.murmur2`, written out independently of aiokafka's copy."""
    m, r = 0x5BD1E995, 24
    length = len(data)
    h = (0x9747B28C ^ length) & 0xFFFFFFFF
    for i in range(0, length - length % 4, 4):
        k = int.from_bytes(data[i : i + 4], "little")
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> r
        k = (k * m) & 0xFFFFFFFF
        h = ((h * m) & 0xFFFFFFFF) ^ k
    tail = data[length - length % 4 :]
    if tail:
        for shift, byte in reversed(list(enumerate(tail))):
            h ^= byte << (8 * shift)
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


def java_partition(key: bytes, partitions: int) -> int:
    """The Java client's default partition for a keyed record: toPositive(murmur2) % n."""
    return (java_murmur2(key) & 0x7FFFFFFF) % partitions
