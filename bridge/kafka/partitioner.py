"""Partitions as the Java client chooses them: murmur2 of the key, made positive, modulo
the partition count, so that each video's records land where any Kafka client puts them.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

_M = 0x5BD1E995
_MASK = 0xFFFFFFFF


# Unpackers of a key's 4-byte words, by their number, made once: keys are short and
# mostly of a few lengths (videoIds). Longer keys are read word by word.
_UNPACKERS = [struct.Struct(f"<{words}I").unpack_from for words in range(65)]


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 (unsigned), in as few Python operations as it allows: the words
    unpacked at once, the mixing steps fused."""
    length = len(data)
    h = 0x9747B28C ^ length
    words = length >> 2
    if words < len(_UNPACKERS):
        unpacked: Iterable[int] = _UNPACKERS[words](data)
    else:
        unpacked = (k for (k,) in struct.iter_unpack("<I", data[: words << 2]))
    for k in unpacked:
        k = (k * _M) & _MASK
        h = ((h * _M) ^ ((k ^ (k >> 24)) * _M)) & _MASK
    rest = length & 3
    if rest:
        whole = words << 2
        if rest == 3:
            h ^= data[whole + 2] << 16
        if rest >= 2:
            h ^= data[whole + 1] << 8
        h ^= data[whole]
        h = (h * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    h ^= h >> 15
    return h


def partition_for(key: bytes, partitions: int) -> int:
    return (murmur2(key) & 0x7FFFFFFF) % partitions
