"""Reading topics back, for the `bridge consume` tool."""

from __future__ import annotations

import asyncio
import sys
from typing import Any, TextIO

import msgspec
from aiokafka import AIOKafkaConsumer

from bridge.config import Settings
from bridge.publisher import client_options


class PrintedRecord(msgspec.Struct, frozen=True):
    topic: str
    partition: int
    offset: int
    key: str | None
    headers: dict[str, str]
    value: msgspec.Raw | str


def printable(record: Any) -> PrintedRecord:
    """A record as one JSON line: the value inline (compacted) when it is JSON, else as text."""
    value: msgspec.Raw | str
    try:
        msgspec.json.decode(record.value)
        value = msgspec.Raw(msgspec.json.format(record.value, indent=0))
    except msgspec.DecodeError:
        value = record.value.decode(errors="replace")
    return PrintedRecord(
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        key=None if record.key is None else record.key.decode(errors="replace"),
        headers={name: data.decode(errors="replace") for name, data in record.headers},
        value=value,
    )


async def print_records(
    settings: Settings,
    topic: str,
    *,
    from_beginning: bool,
    max_records: int | None,
    idle_timeout: float | None,
    out: TextIO = sys.stdout,
) -> int:
    consumer = AIOKafkaConsumer(
        topic,
        **client_options(settings),
        auto_offset_reset="earliest" if from_beginning else "latest",
        enable_auto_commit=False,
    )
    await consumer.start()
    encoder = msgspec.json.Encoder()
    seen = 0
    try:
        while max_records is None or seen < max_records:
            try:
                record = await asyncio.wait_for(consumer.getone(), idle_timeout)
            except TimeoutError:
                break
            out.write(encoder.encode(printable(record)).decode() + "\n")
            out.flush()
            seen += 1
    finally:
        await consumer.stop()
    return 0
