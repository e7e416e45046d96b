"""A batch being filled for one partition, and the callbacks that wait for it.

The producer's side is aiokafka's, described here as far as it is used, so that the
batcher's tests can stand in for it.
"""

from __future__ import annotations

import asyncio
import collections
from typing import Any, Protocol

from bridge.records import OutgoingRecord


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

    def settle(self, error: BaseException | None) -> None:
        for ticket in self.tickets:
            ticket.settle(error)


def drop_abandoned(queue: collections.deque[OpenBatch]) -> None:
    """While Kafka takes no batches (a frozen broker), the queue would grow with every
    refused callback; keep only batches that a callback still waits for."""
    if any(batch.abandoned() for batch in queue):
        kept = [batch for batch in queue if not batch.abandoned()]
        queue.clear()
        queue.extend(kept)
