"""Coalescing the records of concurrent callbacks into one Kafka batch per partition.

Handing records to the producer one by one costs a coroutine, a future and a
wake-up each. Instead, every callback appends its records to the open batch of
their partition and waits on one ticket. A partition's open batch goes to the
producer as soon as the producer has taken the previous one, so batches grow
with the load and stay small (quick) when it is light, with no timer of ours.
A ticket resolves when every batch holding its records is acknowledged.

Partitions are chosen as the Java client chooses them: murmur2 of the key,
made positive, modulo the partition count; records without a key are spread
round-robin.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import struct
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from bridge.kafka.errors import PartitionStalled
from bridge.records import OutgoingRecord

_M = 0x5BD1E995
_MASK = 0xFFFFFFFF


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 (unsigned), twice as fast as a byte-at-a-time loop."""
    length = len(data)
    h = 0x9747B28C ^ length
    whole = length & ~3
    for (k,) in struct.iter_unpack("<I", data[:whole]):
        k = (k * _M) & _MASK
        k ^= k >> 24
        h = ((h * _M) ^ (k * _M)) & _MASK
    rest = length & 3
    if rest:
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


class Builder(Protocol):
    """aiokafka's `BatchBuilder`, as far as it is used here."""

    def append(
        self, *, timestamp: int | None, key: bytes | None, value: bytes, headers: Any
    ) -> object | None: ...

    def close(self) -> None: ...


class Producer(Protocol):
    """aiokafka's `AIOKafkaProducer`, as far as it is used here."""

    def create_batch(self) -> Builder: ...

    async def send_batch(
        self, batch: Builder, topic: str, *, partition: int
    ) -> asyncio.Future[Any]: ...


class Ticket:
    """One callback's wait: resolved when all batches holding its records are acknowledged."""

    __slots__ = ("future", "pending")

    def __init__(self, future: asyncio.Future[None]) -> None:
        self.future = future
        self.pending = 0

    def settle(self, error: BaseException | None) -> None:
        if self.future.done():  # failed already, or the caller gave up waiting
            return
        if error is not None:
            self.future.set_exception(error)
            return
        self.pending -= 1
        if self.pending == 0:
            self.future.set_result(None)


class OpenBatch:
    __slots__ = ("builder", "tickets")

    def __init__(self, builder: Builder) -> None:
        self.builder = builder
        self.tickets: list[Ticket] = []

    def add(self, record: OutgoingRecord, ticket: Ticket) -> bool:
        appended = self.builder.append(
            timestamp=None, key=record.key, value=record.value, headers=record.headers
        )
        if appended is None:
            return False  # full
        if not self.tickets or self.tickets[-1] is not ticket:
            self.tickets.append(ticket)
            ticket.pending += 1
        return True

    def abandoned(self) -> bool:
        """Every callback with records here has been answered already (503): none waits."""
        return all(ticket.future.done() for ticket in self.tickets)


Partition = tuple[str, int]

# How long the producer may go without taking a partition's next batch before new
# callbacks for it are refused at once: it takes one every few milliseconds unless
# Kafka stopped taking them (a stalled broker), when records would only pile up.
STALLED_AFTER = 1.0


class Batcher:
    def __init__(self, producer: Producer, partition_count: Callable[[str], int]) -> None:
        self.producer = producer
        self.partition_count = partition_count
        self.open: dict[Partition, collections.deque[OpenBatch]] = {}
        self.flushing: dict[Partition, asyncio.Task[None]] = {}
        self.waiting_since: dict[Partition, float] = {}
        self.spread = itertools.count()
        self.aborted: BaseException | None = None

    def add(self, records: Sequence[OutgoingRecord]) -> asyncio.Future[None]:
        """Queue `records`; the future resolves once Kafka has acknowledged them all."""
        ticket = Ticket(asyncio.get_running_loop().create_future())
        if self.aborted is not None:
            ticket.future.set_exception(self.aborted)
            return ticket.future
        placed = [(self._place(record), record) for record in records]
        now = asyncio.get_running_loop().time()
        for where in {where for where, _ in placed}:
            since = self.waiting_since.get(where)
            if since is not None and now - since > STALLED_AFTER:
                _drop_abandoned(self.open[where])
                ticket.future.set_exception(PartitionStalled())
                return ticket.future
        for where, record in placed:
            self._append(where, record, ticket)
        if ticket.pending == 0:
            ticket.future.set_result(None)
        return ticket.future

    def _place(self, record: OutgoingRecord) -> Partition:
        count = self.partition_count(record.topic)
        if record.key is None:
            return record.topic, next(self.spread) % count
        return record.topic, partition_for(record.key, count)

    def _append(self, where: Partition, record: OutgoingRecord, ticket: Ticket) -> None:
        queue = self.open.get(where)
        if queue is None:
            queue = self.open[where] = collections.deque()
        if not queue or not queue[-1].add(record, ticket):
            _drop_abandoned(queue)
            batch = OpenBatch(self.producer.create_batch())
            if not batch.add(record, ticket):
                raise ValueError("a record larger than an empty batch")
            queue.append(batch)
        if where not in self.flushing:
            self.flushing[where] = asyncio.create_task(self._flush(where))

    async def _flush(self, where: Partition) -> None:
        """Hand the partition's batches over, each once the producer took the one before."""
        topic, partition = where
        queue = self.open[where]
        try:
            while queue:
                batch = queue.popleft()
                if batch.abandoned():
                    continue  # its callbacks were answered 503; the sender sends them again
                batch.builder.close()
                self.waiting_since[where] = asyncio.get_running_loop().time()
                try:
                    delivered = await self.producer.send_batch(
                        batch.builder, topic, partition=partition
                    )
                except Exception as error:  # noqa: BLE001 - every failure goes to the waiters
                    for ticket in batch.tickets:
                        ticket.settle(error)
                    continue
                finally:
                    del self.waiting_since[where]
                delivered.add_done_callback(_settler(batch.tickets))
        finally:
            del self.flushing[where]

    def abort(self, error: BaseException) -> None:
        """Fail every waiting callback: the producer behind this batcher is being replaced."""
        self.aborted = error
        for task in self.flushing.values():
            task.cancel()
        for queue in self.open.values():
            for batch in queue:
                for ticket in batch.tickets:
                    ticket.settle(error)
            queue.clear()


def _drop_abandoned(queue: collections.deque[OpenBatch]) -> None:
    """While the producer cannot take batches (a frozen broker), the queue would grow with
    every refused callback; keep only batches that a callback still waits for."""
    if any(batch.abandoned() for batch in queue):
        kept = [batch for batch in queue if not batch.abandoned()]
        queue.clear()
        queue.extend(kept)


def _settler(tickets: list[Ticket]) -> Callable[[asyncio.Future[Any]], None]:
    def settle(delivered: asyncio.Future[Any]) -> None:
        error = asyncio.CancelledError() if delivered.cancelled() else delivered.exception()
        for ticket in tickets:
            ticket.settle(error)

    return settle
