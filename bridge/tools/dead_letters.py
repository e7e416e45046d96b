"""Looking at dead letters, and sending them again through the normal path.

A replay posts the kept bytes to the bridge like the platform would: a whole
body as it was, or a single item wrapped in a callback of its own, so that the
items forwarded the first time are not sent twice. Each successful replay is
marked in the dead-letter topic, and a marked letter is not replayed again
unless forced.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from bridge.kinds import KINDS_BY_ROUTE
from bridge.tools.topic_reader import Record

REPLAY_OF = "dlq_replay_of"


class DeadLetter(msgspec.Struct, frozen=True, rename="camel"):
    partition: int
    offset: int
    route: str
    scope: str
    status: str
    reason: str
    path: str | None
    received_at: str
    request_id: str | None
    size: int
    replayed: bool

    @property
    def position(self) -> str:
        return f"{self.partition}:{self.offset}"


class ReplayError(ValueError):
    """A dead letter that cannot be replayed as asked; the message is one line."""


def headers_of(record: Record) -> dict[str, str]:
    return {name: value.decode(errors="replace") for name, value in record.headers}


def is_marker(record: Record) -> bool:
    return any(name == REPLAY_OF for name, _ in record.headers)


def listing(records: Sequence[Record]) -> list[DeadLetter]:
    """The dead letters among `records` (markers left out), each flagged if replayed."""
    replayed = {headers_of(r)[REPLAY_OF] for r in records if is_marker(r)}
    letters = []
    for record in records:
        if is_marker(record):
            continue
        headers = headers_of(record)
        position = f"{record.partition}:{record.offset}"
        letters.append(
            DeadLetter(
                partition=record.partition,
                offset=record.offset,
                route=headers.get("dlq_route", ""),
                scope=headers.get("dlq_scope", ""),
                status=headers.get("dlq_status", ""),
                reason=headers.get("dlq_reason", ""),
                path=headers.get("dlq_path"),
                received_at=headers.get("dlq_received_at", ""),
                request_id=headers.get("dlq_request_id"),
                size=len(record.value or b""),
                replayed=position in replayed,
            )
        )
    return letters


def position(text: str) -> tuple[int, int]:
    """`PARTITION:OFFSET`, as `bridge dlq list` shows them."""
    partition, sep, offset = text.partition(":")
    if not sep or not partition.isdigit() or not offset.isdigit():
        raise ReplayError(f"{text!r} is not PARTITION:OFFSET")
    return int(partition), int(offset)


def replay_body(record: Record, replacement: bytes | None = None) -> tuple[str, bytes]:
    """The route and body that send `record` (or its `replacement` bytes) through the bridge."""
    headers = headers_of(record)
    kind = KINDS_BY_ROUTE.get(headers.get("dlq_route", ""))
    if kind is None:
        raise ReplayError(f"dead letter has no known route: {headers.get('dlq_route')!r}")
    value = replacement if replacement is not None else record.value or b""
    if headers.get("dlq_scope") == "item":
        return kind.route, kind.body_for([value.strip()], message="replay")
    return kind.route, value


def marker_headers(record: Record, status: int) -> list[tuple[str, bytes]]:
    return [
        (REPLAY_OF, f"{record.partition}:{record.offset}".encode()),
        ("dlq_replay_status", str(status).encode()),
    ]
