"""Partitions as the Java client chooses them: murmur2 of the key, made positive, modulo
the partition count, so that each video's records land where any Kafka client puts them.
"""

from __future__ import annotations

from murmurhash2 import murmurhash2

# The seed of Kafka's `Utils.murmur2`.
_KAFKA_SEED = 0x9747B28C


def murmur2(key: bytes) -> int:
    """Kafka's murmur2 of `key` (unsigned)."""
    return murmurhash2(key, _KAFKA_SEED)


def partition_for(key: bytes, partitions: int) -> int:
    return (murmur2(key) & 0x7FFFFFFF) % partitions
