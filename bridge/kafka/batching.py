"""Coalescing the records of concurrent callbacks into few Kafka batches and requests.

Handing records to the producer one by one costs a coroutine, a future and a
wake-up each; sending each callback's records in a produce request of their own
costs the broker a request, a log append and a replication round each, which at
moderate load is most of what the broker does. Instead, every callback appends
its records to the open batch of their partition and waits on one ticket, and
the open batches of all partitions led by one broker go to the producer
together, at one moment, so that they travel in one produce request:

- at once, when that broker has nothing in flight and was last sent to at least
  `linger` ago: an idle bridge adds no delay;
- otherwise when its outstanding request is acknowledged, and no sooner than
  `linger` after the last send: while callbacks keep coming, a broker gets at
  most one request per `linger`, holding whatever came meanwhile.

So batches grow with the load, a record waits at most `linger` (or the round
trip of the request before it, when that is longer), and the number of produce
requests is bounded whatever the rate. A ticket resolves when every batch
holding its records is acknowledged.

Partitions are chosen as the Java client chooses them (`bridge.kafka.partitioner`);
records without a key are spread round-robin.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
from collections.abc import Callable, Sequence
from typing import Any

from bridge.kafka.batches import OpenBatch, Producer, Ticket, drop_abandoned
from bridge.kafka.errors import PartitionStalled
from bridge.kafka.partitioner import partition_for
from bridge.records import OutgoingRecord

Partition = tuple[str, int]
# A broker's node id, as the cluster metadata names the leader of a partition; None
# while a partition's leader is not known (the producer waits for it).
NodeId = int | None

# How long a broker may hold a request unacknowledged before new callbacks for its
# partitions are refused at once: a healthy broker answers within milliseconds, and
# one that stopped taking records (stalled, frozen) would only let them pile up.
STALLED_AFTER = 1.0


class Broker:
    """One broker's side of the schedule: what waits for its next send, and when that is."""

    __slots__ = ("in_flight", "last_sent", "node", "send", "waiting")

    def __init__(self, node: NodeId) -> None:
        self.node = node
        self.waiting: set[Partition] = set()  # partitions with open batches for it
        self.in_flight = 0  # batches of its last send not yet acknowledged or failed
        self.last_sent = float("-inf")  # loop time of its last send
        self.send: asyncio.Handle | None = None  # the next send, when scheduled

    def stalled(self, now: float) -> bool:
        return self.in_flight > 0 and now - self.last_sent > STALLED_AFTER


class Batcher:
    """Open batches per partition, sent per broker (see the module's docstring).

    `leader_of(topic, partition)` names the broker a partition's batches go to; it is
    asked when a partition opens a batch, so a new leader is followed from the next one.
    """

    def __init__(
        self,
        producer: Producer,
        partition_count: Callable[[str], int],
        leader_of: Callable[[str, int], NodeId] = lambda topic, partition: None,
        linger: float = 0.005,
    ) -> None:
        self.producer = producer
        self.partition_count = partition_count
        self.leader_of = leader_of
        self.linger = linger
        self.open: dict[Partition, collections.deque[OpenBatch]] = {}
        self.leaders: dict[Partition, NodeId] = {}
        self.brokers: dict[NodeId, Broker] = {}
        self.sending: set[asyncio.Task[None]] = set()
        self.spread = itertools.count()
        self.aborted: BaseException | None = None

    def add(self, records: Sequence[OutgoingRecord]) -> asyncio.Future[None]:
        """Queue `records`; the future resolves once Kafka has acknowledged them all."""
        loop = asyncio.get_running_loop()
        ticket = Ticket(loop.create_future())
        if self.aborted is not None:
            ticket.future.set_exception(self.aborted)
            return ticket.future
        placed = [(self._place(record), record) for record in records]
        now = loop.time()
        for where in {where for where, _ in placed}:
            if where not in self.leaders:
                continue  # a partition not written to yet
            broker = self.brokers[self.leaders[where]]
            if broker.stalled(now):
                for waiting in broker.waiting:
                    drop_abandoned(self.open[waiting])
                ticket.future.set_exception(PartitionStalled())
                return ticket.future
        touched: set[NodeId] = set()
        for where, record in placed:
            touched.add(self._append(where, record, ticket))
        for node in touched:
            self._schedule(node)
        if ticket.pending == 0:
            ticket.future.set_result(None)
        return ticket.future

    def _place(self, record: OutgoingRecord) -> Partition:
        count = self.partition_count(record.topic)
        if record.key is None:
            return record.topic, next(self.spread) % count
        return record.topic, partition_for(record.key, count)

    def _append(self, where: Partition, record: OutgoingRecord, ticket: Ticket) -> NodeId:
        """Adds `record` to its partition's open batch; returns the broker it waits for."""
        queue = self.open.get(where)
        if queue is None:
            queue = self.open[where] = collections.deque()
        if not queue:
            node = self.leaders[where] = self.leader_of(*where)
            broker = self.brokers.get(node)
            if broker is None:
                broker = self.brokers[node] = Broker(node)
            broker.waiting.add(where)
        elif queue[-1].add(record, ticket):
            return self.leaders[where]
        drop_abandoned(queue)
        batch = OpenBatch(self.producer.create_batch())
        if not batch.add(record, ticket):
            raise ValueError("a record larger than an empty batch")
        queue.append(batch)
        return self.leaders[where]

    def _schedule(self, node: NodeId) -> None:
        """The broker's next send: at once when it is idle, else when its request is
        acknowledged (see `_delivered`), and no sooner than `linger` after the last."""
        broker = self.brokers[node]
        if broker.send is not None or broker.in_flight or not broker.waiting:
            return
        loop = asyncio.get_running_loop()
        due = broker.last_sent + self.linger
        # At once still means after this turn of the loop, so that the callbacks
        # handled in the same turn share the batches.
        if due > loop.time():
            broker.send = loop.call_at(due, self._send, node)
        else:
            broker.send = loop.call_soon(self._send, node)

    def _send(self, node: NodeId) -> None:
        """Hands every open batch for the broker to the producer, in one go."""
        broker = self.brokers[node]
        broker.send = None
        batches: list[tuple[Partition, OpenBatch]] = []
        later: list[tuple[Partition, OpenBatch]] = []
        for where in broker.waiting:
            queue = self.open[where]
            # The first batch of every partition first: the producer takes one batch a
            # partition at a time, and the others should not wait behind a second.
            kept = [batch for batch in queue if not batch.abandoned()]
            queue.clear()
            if kept:
                batches.append((where, kept[0]))
                later.extend((where, batch) for batch in kept[1:])
        broker.waiting = set()
        batches += later
        if not batches:
            return
        broker.last_sent = asyncio.get_running_loop().time()
        broker.in_flight = len(batches)
        task = asyncio.create_task(self._hand_over(broker, batches))
        self.sending.add(task)
        task.add_done_callback(self.sending.discard)

    async def _hand_over(self, broker: Broker, batches: list[tuple[Partition, OpenBatch]]) -> None:
        """Gives the batches to the producer; without a wait in between (the usual case)
        its sender finds them all at once and sends them in one request."""
        handed = 0
        try:
            for (topic, partition), batch in batches:
                batch.builder.close()
                try:
                    delivered = await self.producer.send_batch(
                        batch.builder, topic, partition=partition
                    )
                except Exception as error:  # noqa: BLE001 - every failure goes to the waiters
                    handed += 1
                    batch.settle(error)
                    self._done(broker)
                    continue
                handed += 1
                delivered.add_done_callback(self._delivered(broker, batch))
        except asyncio.CancelledError:
            # Aborted while the producer could not take a batch: fail what is left.
            reason = self.aborted or asyncio.CancelledError()
            for _, batch in batches[handed:]:
                batch.settle(reason)
            raise

    def _delivered(self, broker: Broker, batch: OpenBatch) -> Callable[[asyncio.Future[Any]], None]:
        def settle(delivered: asyncio.Future[Any]) -> None:
            batch.settle(
                asyncio.CancelledError() if delivered.cancelled() else delivered.exception()
            )
            self._done(broker)

        return settle

    def _done(self, broker: Broker) -> None:
        """One batch of the broker's last send is acknowledged or failed."""
        broker.in_flight -= 1
        if broker.in_flight == 0 and self.aborted is None:
            self._schedule(broker.node)

    def unacknowledged(self) -> bool:
        """Batches were handed to the producer and are neither acknowledged nor failed."""
        return any(broker.in_flight for broker in self.brokers.values())

    def abort(self, error: BaseException) -> None:
        """Fail every waiting callback: the producer behind this batcher is being replaced."""
        self.aborted = error
        for broker in self.brokers.values():
            if broker.send is not None:
                broker.send.cancel()
                broker.send = None
            broker.waiting.clear()
        for task in self.sending:
            task.cancel()
        for queue in self.open.values():
            for batch in queue:
                batch.settle(error)
            queue.clear()
