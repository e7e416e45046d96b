"""Is the cluster answering, and is the producer still delivering while it does?

Readiness follows the cluster's metadata answers. A producer that holds records
and delivers none for `producer_stall_seconds` while the cluster answers (as
aiokafka's idempotent producer can after broker trouble) is declared stalled,
and the publisher replaces it.
"""

from __future__ import annotations

import asyncio
import logging
import time

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

log = logging.getLogger("bridge.kafka.watchdog")

PROBE_INTERVAL = 1.0  # seconds between metadata requests
PROBE_TIMEOUT = 2.0
# Without a metadata answer for this long the bridge is not ready.
CONTACT_MAX_AGE = 3.0


class Watchdog:
    def __init__(self, stall_seconds: float) -> None:
        self.stall_seconds = stall_seconds
        now = time.monotonic()
        self.last_contact = float("-inf")
        self.reachable_since = now
        self.last_delivery = now

    @property
    def in_contact(self) -> bool:
        return time.monotonic() - self.last_contact < CONTACT_MAX_AGE

    def contacted(self) -> None:
        self.last_contact = time.monotonic()

    def delivered(self) -> None:
        self.last_delivery = time.monotonic()

    async def probe(self, producer: AIOKafkaProducer) -> bool:
        """Ask for metadata; True when the cluster answered within `PROBE_TIMEOUT`."""
        was_in_contact = self.in_contact
        try:
            answered = await asyncio.wait_for(
                producer.client.force_metadata_update(), PROBE_TIMEOUT
            )
        except (TimeoutError, KafkaError):
            answered = False
        now = time.monotonic()
        if answered:
            if now - self.last_contact >= CONTACT_MAX_AGE:
                self.reachable_since = now
            self.last_contact = now
        if was_in_contact != self.in_contact:
            log.warning("kafka reachable" if self.in_contact else "kafka unreachable; not ready")
        return bool(answered)

    def stalled(self, records_in_flight: int) -> bool:
        """Records wait, the cluster answers, and nothing was delivered for too long."""
        waiting_since = max(self.last_delivery, self.reachable_since)
        return records_in_flight > 0 and time.monotonic() - waiting_since > self.stall_seconds
