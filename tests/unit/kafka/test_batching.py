"""The batcher with a stand-in producer; tests/e2e/test_publisher.py runs it against Kafka.

The linger is 0 unless a test is about it: then it is long, and what is checked is when
the next send is scheduled, not that it happens. Tests wait for what they expect (a
batch handed over, a ticket resolved, a count reached); that something does not happen
is read from the batcher's schedule, never from having waited a while.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from bridge.kafka.batches import Builder
from bridge.kafka.batching import STALLED_AFTER, Batcher, NodeId
from bridge.kafka.errors import PartitionStalled
from bridge.records import OutgoingRecord
from tests.kafka_tools import java_partition


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

    async def handed(self, count: int) -> None:
        """Waits until `count` batches were handed over in all."""
        async with asyncio.timeout(5):
            while len(self.sent) < count:
                self.taken.clear()
                await self.taken.wait()


def sent_keys(producer: FakeProducer) -> list[list[bytes | None]]:
    return [[key for key, _ in builder.records] for _, _, builder, _ in producer.sent]


def acknowledge(producer: FakeProducer) -> None:
    for _, _, _, delivered in producer.sent:
        if not delivered.done():
            delivered.set_result(None)


def batcher_for(
    producer: FakeProducer,
    partitions: int = 1,
    linger: float = 0.0,
    leader_of: Callable[[str, int], NodeId] = lambda topic, partition: 1,
) -> Batcher:
    return Batcher(producer, lambda topic: partitions, leader_of, linger)


def record(key: str | None, value: str = "{}", topic: str = "videos") -> OutgoingRecord:
    return OutgoingRecord(topic, None if key is None else key.encode(), value.encode(), [])


async def settled(*tickets: asyncio.Future[None]) -> None:
    """Waits until every ticket is resolved, one way or the other."""
    async with asyncio.timeout(5):
        await asyncio.wait(tickets)


async def test_concurrent_callbacks_share_one_batch_per_partition() -> None:
    producer = FakeProducer()
    batcher = batcher_for(producer)

    first = batcher.add([record("a"), record("b")])
    second = batcher.add([record("c")])
    await producer.handed(1)

    assert [(t, p) for t, p, _, _ in producer.sent] == [("videos", 0)]
    assert sent_keys(producer) == [[b"a", b"b", b"c"]]
    assert producer.sent[0][2].closed
    assert not first.done() and not second.done()

    producer.sent[0][3].set_result(None)
    await settled(first, second)

    assert first.exception() is None
    assert second.exception() is None


async def test_the_batches_of_a_brokers_partitions_are_handed_over_at_once() -> None:
    """In one turn of the loop, so that the producer's sender, which runs between turns,
    finds them together and sends them in one request."""
    producer = FakeProducer()
    leaders = {0: 1, 1: 1, 2: 1, 3: 2}  # partition -> broker
    batcher = batcher_for(producer, partitions=4, leader_of=lambda topic, p: leaders[p])
    key_of = {java_partition(k.encode(), 4): k for k in (f"k{n}" for n in range(40))}
    turn = 0
    handed: dict[int, int] = {}  # partition -> the turn it was handed over in
    take = producer.send_batch

    async def send_batch(batch: Builder, topic: str, *, partition: int) -> asyncio.Future[Any]:
        handed[partition] = turn
        return await take(batch, topic, partition=partition)

    producer.send_batch = send_batch  # type: ignore[method-assign]
    batcher.add([record(key_of[p]) for p in (0, 1, 2, 3)])
    async with asyncio.timeout(5):
        while len(handed) < 4:  # counting the turns is what this test is about
            await asyncio.sleep(0)
            turn += 1

    assert handed[0] == handed[1] == handed[2]
    assert sorted(p for _, p, _, _ in producer.sent) == [0, 1, 2, 3]


async def test_records_wait_while_their_brokers_request_is_outstanding() -> None:
    producer = FakeProducer()
    batcher = batcher_for(producer)

    first = batcher.add([record("a")])
    await producer.handed(1)
    assert sent_keys(producer) == [[b"a"]]  # the broker was idle: at once

    waiting = [batcher.add([record("b")])]
    await asyncio.sleep(0)  # c comes in a later turn of the loop than b
    waiting.append(batcher.add([record("c")]))
    broker = batcher.brokers[1]
    assert broker.in_flight == 1 and broker.send is None  # a request is outstanding: b and c wait

    acknowledge(producer)
    await producer.handed(2)
    assert first.exception() is None and not any(w.done() for w in waiting)
    assert sent_keys(producer) == [[b"a"], [b"b", b"c"]]  # together, in one batch

    acknowledge(producer)
    await settled(*waiting)
    assert all(w.exception() is None for w in waiting)


async def test_a_broker_gets_no_second_request_within_the_linger() -> None:
    producer = FakeProducer()
    batcher = batcher_for(producer, linger=60.0)

    first = batcher.add([record("a")])
    await producer.handed(1)
    assert sent_keys(producer) == [[b"a"]]  # idle since ever: at once, linger or not
    broker = batcher.brokers[1]
    acknowledge(producer)
    await settled(first)

    batcher.add([record("b")])
    assert isinstance(broker.send, asyncio.TimerHandle)
    assert broker.send.when() == broker.last_sent + 60.0
    assert sent_keys(producer) == [[b"a"]]

    batcher.abort(RuntimeError("done"))  # cancels the timer


async def test_a_broker_idle_for_the_linger_is_sent_to_at_once() -> None:
    producer = FakeProducer()
    batcher = batcher_for(producer, linger=60.0)
    first = batcher.add([record("a")])
    await producer.handed(1)
    acknowledge(producer)
    await settled(first)
    batcher.brokers[1].last_sent -= 60.0  # as if a minute passed

    batcher.add([record("b")])
    assert not isinstance(batcher.brokers[1].send, asyncio.TimerHandle)
    await producer.handed(2)

    assert sent_keys(producer) == [[b"a"], [b"b"]]


async def test_one_brokers_outstanding_request_does_not_hold_another_brokers() -> None:
    producer = FakeProducer()
    keys = {java_partition(k.encode(), 2): k for k in (f"k{n}" for n in range(20))}
    batcher = batcher_for(producer, partitions=2, leader_of=lambda topic, p: 1 + p)

    batcher.add([record(keys[0])])
    await producer.handed(1)
    batcher.add([record(keys[1])])
    await producer.handed(2)

    assert [p for _, p, _, _ in producer.sent] == [0, 1]


async def test_a_ticket_waits_for_every_batch_holding_its_records() -> None:
    producer = FakeProducer()
    keys = ["k1", "k2", "k3", "k4", "k5", "k6"]
    partitions = {java_partition(k.encode(), 3) for k in keys}
    batcher = batcher_for(producer, partitions=3)

    ticket = batcher.add([record(key) for key in keys])
    await producer.handed(len(partitions))

    assert sorted(p for _, p, _, _ in producer.sent) == sorted(partitions)
    acknowledged = [delivered for _, _, _, delivered in producer.sent[:-1]]
    for delivered in acknowledged:
        delivered.set_result(None)
    # A future's done callbacks run in the order they were added: once gather's have,
    # so have the batcher's, and every acknowledgement but the last is in.
    await asyncio.gather(*acknowledged)
    assert batcher.brokers[1].in_flight == 1
    assert not ticket.done()

    producer.sent[-1][3].set_result(None)
    await settled(ticket)
    assert ticket.exception() is None


async def test_a_failed_batch_fails_its_tickets_only() -> None:
    producer = FakeProducer()
    batcher = batcher_for(producer)
    doomed = batcher.add([record("a")])
    await producer.handed(1)
    producer.sent[0][3].set_exception(ConnectionError("broker gone"))
    spared = batcher.add([record("b")])
    await producer.handed(2)
    producer.sent[1][3].set_result(None)
    await settled(doomed, spared)

    assert isinstance(doomed.exception(), ConnectionError)
    assert spared.exception() is None


async def test_a_batch_the_producer_refuses_fails_its_tickets() -> None:
    producer = FakeProducer()
    batcher = batcher_for(producer)

    async def refuse(batch: Builder, topic: str, *, partition: int) -> Any:
        raise ConnectionError("producer closed")

    producer.send_batch = refuse  # type: ignore[method-assign]
    refused = batcher.add([record("a")])
    await settled(refused)

    assert isinstance(refused.exception(), ConnectionError)
    assert not batcher.unacknowledged()


async def test_records_beyond_a_full_batch_open_the_next() -> None:
    producer = FakeProducer(capacity=2)
    batcher = batcher_for(producer)

    batcher.add([record(k) for k in "abcde"])
    await producer.handed(3)

    assert sent_keys(producer) == [[b"a", b"b"], [b"c", b"d"], [b"e"]]


async def test_the_records_of_a_key_are_sent_in_order() -> None:
    producer = FakeProducer(capacity=1)
    batcher = batcher_for(producer)

    for count, value in enumerate(("1", "2", "3", "4"), start=1):
        batcher.add([record("video", value)])
        await producer.handed(count)
        acknowledge(producer)

    assert [builder.records[0][1] for _, _, builder, _ in producer.sent] == [
        b"1",
        b"2",
        b"3",
        b"4",
    ]


async def test_records_without_key_are_spread_round_robin() -> None:
    producer = FakeProducer(capacity=1)
    batcher = batcher_for(producer, partitions=3)

    batcher.add([record(None) for _ in range(6)])
    await producer.handed(6)

    assert sorted(p for _, p, _, _ in producer.sent) == [0, 0, 1, 1, 2, 2]


async def test_abort_fails_what_waits_and_what_comes_after() -> None:
    producer = FakeProducer()
    batcher = batcher_for(producer)
    waiting = batcher.add([record("a")])

    batcher.abort(RuntimeError("replaced"))
    later = batcher.add([record("b")])

    assert str(later.exception()) == "replaced"
    assert str(waiting.exception()) == "replaced"
    assert batcher.brokers[1].send is None  # the send it had scheduled is cancelled
    assert producer.sent == []


async def test_abort_fails_the_batches_the_producer_has_not_taken() -> None:
    producer = FakeProducer(capacity=1)
    batcher = batcher_for(producer)
    asked = asyncio.Event()

    async def send_batch_stuck(batch: Builder, topic: str, *, partition: int) -> Any:
        asked.set()
        await asyncio.Event().wait()  # the producer never takes the batch

    producer.send_batch = send_batch_stuck  # type: ignore[method-assign]
    waiting = batcher.add([record("a"), record("b")])
    async with asyncio.timeout(5):
        await asked.wait()

    batcher.abort(RuntimeError("replaced"))
    await settled(waiting)

    assert str(waiting.exception()) == "replaced"


async def test_nothing_to_send_resolves_at_once() -> None:
    batcher = batcher_for(FakeProducer())

    ticket = batcher.add([])

    assert ticket.done() and ticket.exception() is None


async def test_batches_no_callback_waits_for_are_dropped_not_sent() -> None:
    """Regression: with the broker frozen, refused callbacks' records piled up in memory."""
    producer = FakeProducer(capacity=1)
    batcher = batcher_for(producer)
    first = batcher.add([record("a")])
    await producer.handed(1)  # "a" is with the producer, which acknowledges nothing for now
    given_up = batcher.add([record("b"), record("c")])
    given_up.set_exception(TimeoutError())  # as the produce deadline does
    waiting = batcher.add([record("d")])

    queued = [batch.builder for batch in batcher.open[("videos", 0)]]
    assert [[k for k, _ in b.records] for b in queued if isinstance(b, FakeBuilder)] == [[b"d"]]
    producer.sent[0][3].set_result(None)
    await producer.handed(2)
    await settled(first)
    assert sent_keys(producer) == [[b"a"], [b"d"]]
    assert first.exception() is None
    assert not waiting.done()


async def test_a_broker_that_stopped_acknowledging_refuses_at_once() -> None:
    producer = FakeProducer(capacity=1)
    batcher = batcher_for(producer)
    waiting = [batcher.add([record("a")])]
    await producer.handed(1)  # "a" is with the producer, never acknowledged
    waiting += [batcher.add([record(k)]) for k in "bcde"]  # accepted: not stalled yet
    assert batcher.unacknowledged()
    batcher.brokers[1].last_sent -= STALLED_AFTER + 0.1  # as if a second passed
    refused = batcher.add([record("f")])

    assert isinstance(refused.exception(), PartitionStalled)
    assert not any(ticket.done() for ticket in waiting)


async def test_a_stalled_broker_refuses_only_its_own_partitions() -> None:
    producer = FakeProducer()
    keys = {java_partition(k.encode(), 2): k for k in (f"k{n}" for n in range(20))}
    batcher = batcher_for(producer, partitions=2, leader_of=lambda topic, p: 1 + p)
    batcher.add([record(keys[0])])
    acknowledged = batcher.add([record(keys[1])])
    await producer.handed(2)
    producer.sent[1][3].set_result(None)  # broker 2 acknowledges; broker 1 never does
    await settled(acknowledged)
    batcher.brokers[1].last_sent -= STALLED_AFTER + 0.1

    assert isinstance(batcher.add([record(keys[0])]).exception(), PartitionStalled)
    other = batcher.add([record(keys[1])])
    await producer.handed(3)
    assert not other.done() and len(producer.sent) == 3
