"""Reading topics back, for the `bridge consume` and `bridge dlq` tools.

The only module besides `publisher` that talks to Kafka; nothing on the serving
path imports it.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Sequence
from typing import Any, Protocol, TextIO

import msgspec
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from bridge.kafka.options import client_options
from bridge.settings import Settings


class Record(Protocol):
    """What the tools read of an aiokafka `ConsumerRecord`."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]]


class PrintedRecord(msgspec.Struct, frozen=True):
    topic: str
    partition: int
    offset: int
    key: str | None
    headers: dict[str, str]
    value: msgspec.Raw | str


def printable(record: Record) -> PrintedRecord:
    """A record as JSON: the value inline (compacted) when it is JSON, else as text."""
    value: msgspec.Raw | str
    raw = record.value or b""
    try:
        msgspec.json.decode(raw)
        value = msgspec.Raw(msgspec.json.format(raw, indent=0))
    except msgspec.DecodeError:
        value = raw.decode(errors="replace")
    return PrintedRecord(
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        key=None if record.key is None else record.key.decode(errors="replace"),
        headers={name: data.decode(errors="replace") for name, data in record.headers},
        value=value,
    )


def write_json(out: TextIO, item: msgspec.Struct, *, pretty: bool) -> None:
    encoded = msgspec.json.encode(item)
    if pretty:
        encoded = msgspec.json.format(encoded, indent=2)
    out.write(encoded.decode() + "\n")
    out.flush()


async def records(
    settings: Settings,
    topic: str,
    *,
    group: str | None,
    from_beginning: bool,
    idle_timeout: float | None,
) -> AsyncIterator[Record]:
    """Records as they come; ends after `idle_timeout` seconds without one."""
    consumer = AIOKafkaConsumer(
        topic,
        **client_options(settings),
        group_id=group,
        auto_offset_reset="earliest" if from_beginning else "latest",
        enable_auto_commit=group is not None,
    )
    await consumer.start()
    try:
        while True:
            try:
                yield await asyncio.wait_for(consumer.getone(), idle_timeout)
            except TimeoutError:
                return
    finally:
        await consumer.stop()


async def print_records(
    settings: Settings,
    topic: str,
    *,
    group: str | None = None,
    from_beginning: bool = False,
    keys: Sequence[str] = (),
    pretty: bool = False,
    max_records: int | None = None,
    idle_timeout: float | None = None,
    out: TextIO = sys.stdout,
) -> int:
    wanted = {key.encode() for key in keys}
    printed = 0
    if max_records == 0:
        return 0
    async for record in records(
        settings, topic, group=group, from_beginning=from_beginning, idle_timeout=idle_timeout
    ):
        if wanted and record.key not in wanted:
            continue
        write_json(out, printable(record), pretty=pretty)
        printed += 1
        if max_records is not None and printed >= max_records:
            break
    return 0


async def read_to_end(settings: Settings, topic: str) -> list[Record]:
    """Every record the topic holds now, in partition and offset order."""
    partitions = [TopicPartition(topic, n) for n in await partitions_of(settings, topic)]
    consumer = AIOKafkaConsumer(
        **client_options(settings), enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends: dict[Any, int] = await consumer.end_offsets(partitions)
        found: list[Record] = []
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            for batch in (await consumer.getmany(timeout_ms=1000)).values():
                found.extend(batch)
        found.sort(key=lambda record: (record.partition, record.offset))
        return [r for r in found if r.offset < ends[TopicPartition(topic, r.partition)]]
    finally:
        await consumer.stop()


async def partitions_of(settings: Settings, topic: str) -> list[int]:
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        [described] = await admin.describe_topics([topic])
    finally:
        await admin.close()
    if described["error_code"] or not described["partitions"]:
        raise LookupError(f"topic {topic} does not exist")
    return sorted(partition["partition"] for partition in described["partitions"])


async def read_one(settings: Settings, topic: str, partition: int, offset: int) -> Record:
    consumer = AIOKafkaConsumer(**client_options(settings), enable_auto_commit=False)
    await consumer.start()
    try:
        tp = TopicPartition(topic, partition)
        consumer.assign([tp])
        consumer.seek(tp, offset)
        try:
            record: Record = await asyncio.wait_for(consumer.getone(), 10)
        except TimeoutError:
            raise LookupError(f"no record at {topic} {partition}:{offset}") from None
        if record.offset != offset:
            raise LookupError(f"no record at {topic} {partition}:{offset}")
        return record
    finally:
        await consumer.stop()


async def append(
    settings: Settings, topic: str, value: bytes, headers: list[tuple[str, bytes]]
) -> None:
    """Write one record and wait for its acknowledgement."""
    producer = AIOKafkaProducer(**client_options(settings), acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, headers=headers)
    finally:
        await producer.stop()
