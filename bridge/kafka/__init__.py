"""The Kafka layer: client options, topics, the producer and its watchdog, batching.

It raises Kafka-level errors (`bridge.kafka.errors`); the HTTP layer alone decides statuses.
`Publisher` is all the HTTP layer sees of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from bridge.records import OutgoingRecord


class Publisher(Protocol):
    """What the HTTP layer needs from Kafka."""

    @property
    def ready(self) -> bool: ...

    async def publish(self, records: Sequence[OutgoingRecord]) -> None:
        """Return once every record is acknowledged; raise `PublishError` otherwise."""
