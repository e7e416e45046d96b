"""The partitions the bridge picks are the Java client's, and so are aiokafka's (the tools)."""

from __future__ import annotations

import pytest
from aiokafka.partitioner import murmur2 as aiokafka_murmur2

from bridge.kafka.partitioner import murmur2, partition_for
from tests.kafka_tools import java_murmur2, java_partition

# Apache Kafka's own vectors (UtilsTest.testMurmur2): the Java client's hash, signed.
KAFKA_MURMUR2_VECTORS = {
    b"21": -973932308,
    b"foobar": -790332482,
    b"a-little-bit-long-string": -985981536,
    b"a-little-bit-longer-string": -1486304829,
    b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
    b"abc": 479470107,
}


def signed(unsigned: int) -> int:
    return unsigned - (1 << 32) if unsigned & 0x80000000 else unsigned


@pytest.mark.parametrize(("data", "expected"), KAFKA_MURMUR2_VECTORS.items())
def test_the_reference_murmur2_gives_kafkas_vectors(data: bytes, expected: int) -> None:
    assert java_murmur2(data) == expected


@pytest.mark.parametrize(("data", "expected"), KAFKA_MURMUR2_VECTORS.items())
def test_the_bridges_murmur2_gives_kafkas_vectors(data: bytes, expected: int) -> None:
    assert signed(murmur2(data)) == expected


@pytest.mark.parametrize(("data", "expected"), KAFKA_MURMUR2_VECTORS.items())
def test_aiokafkas_murmur2_gives_kafkas_vectors(data: bytes, expected: int) -> None:
    assert signed(aiokafka_murmur2(data)) == expected


@pytest.mark.parametrize(
    "key",
    [b"", b"a", b"ab", b"abc", b"abcd", b"9B0F7BA8BCB9D056D4C24ADDBF821D10", b"x" * 1001],
    ids=["empty", "1", "2", "3", "4", "video-id", "long"],
)
def test_murmur2_is_the_reference_for_every_tail_length(key: bytes) -> None:
    assert signed(murmur2(key)) == java_murmur2(key)


def test_partitions_are_the_java_clients() -> None:
    keys = [f"VIDEO{i}".encode() for i in range(200)]
    assert [partition_for(k, 6) for k in keys] == [java_partition(k, 6) for k in keys]
