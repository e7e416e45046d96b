"""The batcher with a stand-in producer; tests/e2e/test_publisher.py runs it against Kafka."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bridge.kafka.batching import STALLED_AFTER, Batcher, Builder, murmur2, partition_for
from bridge.kafka.errors import PartitionStalled
from bridge.records import OutgoingRecord
from tests.kafka_tools import java_murmur2, java_partition


class FakeBuilder:
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.records: list[tuple[bytes | None, bytes]] = []
        self.closed = False

    def append(
        self, *, timestamp: int | None, key: bytes | None, value: bytes, headers: Any
    ) -> object | None:
        if self.closed or len(self.records) >= self.capacity:
            return None
        self.records.append((key, value))
        return object()

    def close(self) -> None:
        self.closed = True


class FakeProducer:
    """Takes batches; each is acknowledged (or failed) when the test says so."""

    def __init__(self, capacity: int = 100) -> None:
        self.capacity = capacity
        self.sent: list[tuple[str, int, FakeBuilder, asyncio.Future[Any]]] = []
        self.taken = asyncio.Event()

    def create_batch(self) -> FakeBuilder:
        return FakeBuilder(self.capacity)

    async def send_batch(
        self, batch: Builder, topic: str, *, partition: int
    ) -> asyncio.Future[Any]:
        assert isinstance(batch, FakeBuilder)
        delivered: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.sent.append((topic, partition, batch, delivered))
        self.taken.set()
        return delivered


def record(key: str | None, value: str = "{}", topic: str = "videos") -> OutgoingRecord:
    return OutgoingRecord(topic, None if key is None else key.encode(), value.encode(), [])


async def settle_all() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


@pytest.mark.parametrize(
    "key", [b"", b"a", b"ab", b"abc", b"abcd", b"9B0F7BA8BCB9D056D4C24ADDBF821D10", b"x" * 1001]
)
def test_murmur2_is_kafkas(key: bytes) -> None:
    assert murmur2(key) == java_murmur2(key) & 0xFFFFFFFF


def test_partitions_are_the_java_clients() -> None:
    keys = [f"VIDEO{i}".encode() for i in range(200)]
    assert [partition_for(k, 6) for k in keys] == [java_partition(k, 6) for k in keys]


async def test_concurrent_callbacks_share_one_batch_per_partition() -> None:
    producer = FakeProducer()
    batcher = Batcher(producer, lambda topic: 1)

    first = batcher.add([record("a"), record("b")])
    second = batcher.add([record("c")])
    await settle_all()

    assert [(t, p, [k for k, _ in b.records]) for t, p, b, _ in producer.sent] == [
        ("videos", 0, [b"a", b"b", b"c"])
    ]
    assert producer.sent[0][2].closed
    assert not first.done() and not second.done()

    producer.sent[0][3].set_result(None)
    await settle_all()

    assert first.done() and first.exception() is None
    assert second.done() and second.exception() is None


async def test_a_ticket_waits_for_every_batch_holding_its_records() -> None:
    producer = FakeProducer()
    keys = ["k1", "k2", "k3", "k4", "k5", "k6"]
    batcher = Batcher(producer, lambda topic: 3)

    ticket = batcher.add([record(key) for key in keys])
    await settle_all()

    assert sorted(p for _, p, _, _ in producer.sent) == sorted(
        {java_partition(k.encode(), 3) for k in keys}
    )
    for _, _, _, delivered in producer.sent[:-1]:
        delivered.set_result(None)
    await settle_all()
    assert not ticket.done()

    producer.sent[-1][3].set_result(None)
    await settle_all()
    assert ticket.done() and ticket.exception() is None


async def test_a_failed_batch_fails_its_tickets_only() -> None:
    producer = FakeProducer()
    batcher = Batcher(producer, lambda topic: 1)
    doomed = batcher.add([record("a")])
    await settle_all()
    producer.sent[0][3].set_exception(ConnectionError("broker gone"))
    spared = batcher.add([record("b")])
    await settle_all()
    producer.sent[1][3].set_result(None)
    await settle_all()

    assert isinstance(doomed.exception(), ConnectionError)
    assert spared.exception() is None


async def test_records_beyond_a_full_batch_open_the_next() -> None:
    producer = FakeProducer(capacity=2)
    batcher = Batcher(producer, lambda topic: 1)

    batcher.add([record(k) for k in "abcde"])
    await settle_all()

    assert [[k for k, _ in b.records] for _, _, b, _ in producer.sent] == [
        [b"a", b"b"],
        [b"c", b"d"],
        [b"e"],
    ]


async def test_records_without_key_are_spread_round_robin() -> None:
    producer = FakeProducer(capacity=1)
    batcher = Batcher(producer, lambda topic: 3)

    batcher.add([record(None) for _ in range(6)])
    await settle_all()

    assert sorted(p for _, p, _, _ in producer.sent) == [0, 0, 1, 1, 2, 2]


async def test_abort_fails_what_waits_and_what_comes_after() -> None:
    producer = FakeProducer()
    batcher = Batcher(producer, lambda topic: 1)
    waiting = batcher.add([record("a")])

    batcher.abort(RuntimeError("replaced"))
    later = batcher.add([record("b")])
    await settle_all()

    assert str(later.exception()) == "replaced"
    assert waiting.done()
    assert str(waiting.exception()) == "replaced"


async def test_nothing_to_send_resolves_at_once() -> None:
    batcher = Batcher(FakeProducer(), lambda topic: 1)

    ticket = batcher.add([])

    assert ticket.done() and ticket.exception() is None


async def test_batches_no_callback_waits_for_are_dropped_not_sent() -> None:
    """Regression: with the broker frozen, refused callbacks' records piled up in memory."""
    producer = FakeProducer(capacity=1)
    batcher = Batcher(producer, lambda topic: 1)
    first = batcher.add([record("a")])
    await settle_all()  # "a" is with the producer, which takes nothing more for now
    given_up = batcher.add([record("b"), record("c")])
    given_up.set_exception(TimeoutError())  # as the produce deadline does
    waiting = batcher.add([record("d")])

    queued = [batch.builder for batch in batcher.open[("videos", 0)]]
    assert [[k for k, _ in b.records] for b in queued if isinstance(b, FakeBuilder)] == [[b"d"]]
    producer.sent[0][3].set_result(None)
    await settle_all()
    assert [[k for k, _ in b.records] for _, _, b, _ in producer.sent] == [[b"a"], [b"d"]]
    assert first.exception() is None
    assert not waiting.done()


async def test_a_partition_kafka_stopped_taking_refuses_at_once() -> None:
    never = FakeProducer(capacity=1)
    batcher = Batcher(never, lambda topic: 1)

    async def send_batch_stuck(batch: Builder, topic: str, *, partition: int) -> Any:
        await asyncio.Event().wait()  # the producer never takes the batch

    never.send_batch = send_batch_stuck  # type: ignore[method-assign]
    waiting = [batcher.add([record("a")])]
    await settle_all()  # "a" is with the producer, for ever
    waiting += [batcher.add([record(k)]) for k in "bcde"]  # accepted: not stalled yet
    batcher.waiting_since[("videos", 0)] -= STALLED_AFTER + 0.1  # as if a second passed
    refused = batcher.add([record("f")])

    assert isinstance(refused.exception(), PartitionStalled)
    assert not any(ticket.done() for ticket in waiting)
