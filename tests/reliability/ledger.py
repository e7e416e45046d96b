"""Checking a topic against what a sender was told: nothing acknowledged may be missing.

A video event is a (key, value bytes) pair as sent. The topic is read in full
(up to its end offsets) after the traffic stopped, and compared event by event.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from tests.kafka_tools import read_all
from tests.reliability.sender import Sender

Event = tuple[bytes, bytes]  # key, value


@dataclass
class Audit:
    records: int
    acknowledged: int  # distinct events answered 200
    lost: list[Event] = field(default_factory=list)  # acknowledged, not in the topic
    duplicates: int = 0  # copies beyond the first of an event
    unacknowledged_stored: int = 0  # stored although never answered 200
    strangers: int = 0  # records whose key and bytes were never sent: corruption
    bad_headers: int = 0  # ce_id not the digest of the value, or ce_subject not the key
    unequal_duplicates: int = 0  # copies of an event whose headers differ (ce_id, subject)
    late_copies: int = 0  # a copy of an older version after a newer one of the same key
    order_violations: int = 0  # acknowledged versions of a key stored out of order


def _digest(value: bytes) -> bytes:
    return hashlib.blake2b(value, digest_size=16).hexdigest().encode()


async def audit(bootstrap: str, topic: str, *senders: Sender) -> Audit:
    sent: dict[Event, bool] = {}  # event -> acknowledged
    versions: dict[Event, int] = {}
    lanes: set[bytes] = set()
    for sender in senders:
        for callback in sender.callbacks:
            for video_id, value in callback.videos.items():
                event = (video_id.encode(), value)
                sent[event] = sent.get(event, False) or callback.acknowledged
                if callback.lane is not None:
                    versions[event] = callback.version
                    lanes.add(event[0])
    records = await read_all(bootstrap, topic)
    stored: Counter[Event] = Counter()
    headers_of: dict[Event, list[tuple[Any, ...]]] = {}
    result = Audit(records=len(records), acknowledged=sum(sent.values()))
    for record in records:
        event = (record.key, record.value)
        stored[event] += 1
        headers = dict(record.headers)
        if headers.get("ce_id") != _digest(record.value) or headers.get("ce_subject") != record.key:
            result.bad_headers += 1
        headers_of.setdefault(event, []).append((headers.get("ce_id"), headers.get("ce_subject")))
        if event not in sent:
            result.strangers += 1
    result.lost = sorted(event for event, acked in sent.items() if acked and event not in stored)
    result.duplicates = sum(count - 1 for count in stored.values())
    result.unacknowledged_stored = sum(1 for event in stored if event in sent and not sent[event])
    result.unequal_duplicates = sum(1 for copies in headers_of.values() if len(set(copies)) > 1)
    result.late_copies, result.order_violations = _order(records, versions, sent, lanes)
    return result


def _order(
    records: list[Any], versions: dict[Event, int], sent: dict[Event, bool], lanes: set[bytes]
) -> tuple[int, int]:
    """Late copies, and order violations among acknowledged versions, per lane key.

    `read_all` returns records by partition and offset, and a key has one
    partition, so the records of a key come in the order Kafka stored them.
    """
    late = violations = 0
    newest: dict[bytes, int] = {}
    newest_acknowledged: dict[bytes, int] = {}
    seen: set[Event] = set()
    for record in records:
        if record.key not in lanes:
            continue
        event = (record.key, record.value)
        version = versions[event]
        if version < newest.get(record.key, 0):
            late += 1
        newest[record.key] = max(version, newest.get(record.key, 0))
        if sent[event] and event not in seen:  # the first copy of an acknowledged version
            if version < newest_acknowledged.get(record.key, 0):
                violations += 1
            newest_acknowledged[record.key] = version
        seen.add(event)
    return late, violations
