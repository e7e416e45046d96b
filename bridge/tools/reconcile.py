"""Reconciliation: produce every video the API lists for a window that the topic lacks.

The topic is the only state. A run reads the video-upload topic from the
window's start minus a slack (found with offsets-for-times, never from the
beginning) up to its end offsets, keeping the newest `updateTime` per
`videoId`; then it streams the API's pages for the window and produces each
listed video that has no record with an equal or newer `updateTime`. Records
are built by `bridge.records`, exactly as the callback path builds them, plus
one header saying where they came from.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Awaitable
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any, TextIO

import msgspec
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError

from bridge.kafka.options import client_options, producer_options
from bridge.kinds import VIDEO_UPLOAD
from bridge.logs import utc_now
from bridge.records import Context, Item, OutgoingRecord, records_for
from bridge.settings import Settings
from bridge.tools.run_stats import ReconcileMetrics, RunStats
from bridge.tools.topic_reader import partitions_of
from bridge.tools.windows import Window, lookback_window
from bridge.vod.api import ApiCounts, ApiUnavailable, VendorError, VideoApi
from bridge.wire.upload import number

log = logging.getLogger("bridge.tools.reconcile")

# A CloudEvents extension attribute (lowercase letters and digits only), absent on
# records of the callback path.
ORIGIN_HEADER = ("ce_origin", b"reconciliation")
ROUTE = "reconcile"
_NEVER = -1  # the updateTime of a record without a readable one: older than any


class ReconcileError(Exception):
    """The run could not check its whole window; the message is one line."""


class _Stamp(msgspec.Struct, rename="camel"):
    update_time: str | int | None = None


_stamp = msgspec.json.Decoder(_Stamp)


async def newest_in_topic(
    settings: Settings, topic: str, since: datetime, stats: RunStats
) -> dict[bytes, int]:
    """The newest `updateTime` of each key with a record from `since` to the current end."""
    partitions = [TopicPartition(topic, n) for n in await partitions_of(settings, topic)]
    consumer = AIOKafkaConsumer(**client_options(settings), enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(partitions)
        ends: dict[TopicPartition, int] = await consumer.end_offsets(partitions)
        starts = await consumer.offsets_for_times(
            {tp: int(since.timestamp() * 1000) for tp in partitions}
        )
        left = {}
        for tp in partitions:
            found = starts[tp]
            if found is not None and found.offset < ends[tp]:
                consumer.seek(tp, found.offset)
                left[tp] = ends[tp]
        newest: dict[bytes, int] = {}
        while left:
            fetched = await consumer.getmany(*left, timeout_ms=1000, max_records=5000)
            for tp, batch in fetched.items():
                for record in batch:
                    if record.offset >= left.get(tp, 0) or record.key is None:
                        continue
                    stats.records_read += 1
                    stamp = _update_time(record.value or b"")
                    if stamp > newest.get(record.key, _NEVER - 1):
                        newest[record.key] = stamp
            for tp in list(left):
                if await consumer.position(tp) >= left[tp]:
                    del left[tp]
        return newest
    finally:
        await consumer.stop()


def _update_time(value: bytes) -> int:
    try:
        found = number(_stamp.decode(value).update_time)
    except msgspec.DecodeError:
        return _NEVER
    return _NEVER if found is None else found


# Records sent and not yet acknowledged before the run waits for them: listing goes on
# while Kafka acknowledges, and what is held stays bounded.
_MAX_UNACKNOWLEDGED = 1000


class _Sink:
    """Where a run's records go: the topic, or a listing on stdout with `--dry-run`."""

    def __init__(self, settings: Settings, dry_run: bool, out: TextIO) -> None:
        self._settings = settings
        self._dry_run = dry_run
        self._out = out
        self._producer: AIOKafkaProducer | None = None
        self._unacknowledged: list[Awaitable[Any]] = []

    async def __aenter__(self) -> _Sink:
        if not self._dry_run:
            producer = AIOKafkaProducer(**producer_options(self._settings))
            try:
                await producer.start()
            except BaseException:
                await producer.stop()
                raise
            self._producer = producer
        return self

    async def __aexit__(self, kind: type[BaseException] | None, *exc_info: object) -> None:
        if self._producer is None:
            return
        try:
            if kind is None:
                await self._acknowledged()
        finally:
            await self._producer.stop()

    async def _acknowledged(self) -> None:
        """Every record sent so far acknowledged (acks=all); raises the first failure."""
        pending, self._unacknowledged = self._unacknowledged, []
        await asyncio.gather(*pending)

    async def put(self, records: list[OutgoingRecord], reasons: list[str]) -> None:
        if self._producer is None:
            for record, reason in zip(records, reasons, strict=True):
                line = {"videoId": (record.key or b"").decode(), "reason": reason}
                self._out.write(msgspec.json.encode(line).decode() + "\n")
            self._out.flush()
            return
        for r in records:
            sent = await self._producer.send(r.topic, r.value, key=r.key, headers=r.headers)
            self._unacknowledged.append(sent)
        if len(self._unacknowledged) >= _MAX_UNACKNOWLEDGED:
            await self._acknowledged()


async def reconcile(
    settings: Settings, window: Window, *, dry_run: bool = False, out: TextIO = sys.stdout
) -> RunStats:
    """One run over `window`; `stats.complete` only when every listed video was checked."""
    started = time.monotonic()
    stats = RunStats(window.start.isoformat(), window.end.isoformat(), dry_run=dry_run)
    counts = ApiCounts()
    topic = settings.topic_video_upload
    try:
        api = VideoApi(settings, counts)
        since = window.start - timedelta(seconds=settings.reconcile_slack_seconds)
        newest = await newest_in_topic(settings, topic, since, stats)
        async with _Sink(settings, dry_run, out) as sink:
            async for page in api.pages(window.start, window.end):
                await _settle(page, newest, sink, settings, stats)
        stats.complete = stats.invalid == 0
    except (VendorError, ApiUnavailable) as error:
        raise ReconcileError(str(error)) from None
    except KafkaError as error:
        raise ReconcileError(f"kafka: {type(error).__name__}: {error}") from None
    except LookupError as error:  # the topic does not exist
        raise ReconcileError(str(error)) from None
    finally:
        stats.api_calls = counts.calls
        stats.api_errors = counts.errors
        stats.api_rate_limited = counts.rate_limited
        stats.duration_seconds = round(time.monotonic() - started, 3)
        log.info("reconciliation run finished", extra=asdict(stats))
    return stats


async def _settle(
    page: list[bytes],
    newest: dict[bytes, int],
    sink: _Sink,
    settings: Settings,
    stats: RunStats,
) -> None:
    items: list[Item] = []
    reasons: list[str] = []
    for value in page:
        stats.videos_listed += 1
        try:
            video = VIDEO_UPLOAD.item.decode(value)
        except msgspec.ValidationError as error:  # before DecodeError: it is a subclass
            stats.invalid += 1
            log.error(
                "the video API listed an item without a usable videoId",
                extra={"reason": str(error)},
            )
            continue
        except msgspec.DecodeError as error:
            stats.invalid += 1
            log.error("the video API listed an item that is not JSON", extra={"reason": str(error)})
            continue
        key = VIDEO_UPLOAD.key_of(video).encode()
        stamp = number(video.update_time)
        stamp = _NEVER if stamp is None else stamp
        known = newest.get(key)
        if known is not None and known >= stamp:
            stats.already_present += 1
            continue
        newest[key] = stamp  # listed twice (pages shift, halves overlap): produced once
        items.append(Item(key.decode(), value))
        reasons.append("missing" if known is None else "newer")
    if not items:
        return
    context = Context(route=ROUTE, received_at=utc_now(), source=settings.event_source)
    records = [
        record._replace(headers=[*record.headers, ORIGIN_HEADER])
        for record in records_for(VIDEO_UPLOAD, items, settings.topic_video_upload, context)
    ]
    await sink.put(records, reasons)
    stats.produced += len(records)


async def every(
    settings: Settings,
    period: timedelta,
    lookback: timedelta,
    *,
    dry_run: bool,
    metrics: ReconcileMetrics,
) -> None:
    """One run per period over the last `lookback`, forever; a failed run is retried next period."""
    while True:
        began = time.monotonic()
        try:
            stats = await reconcile(settings, lookback_window(lookback), dry_run=dry_run)
        except ReconcileError as error:
            log.error("reconciliation run failed", extra={"reason": str(error)})
            metrics.runs.labels("failed").inc()
        else:
            metrics.record(stats)
        await asyncio.sleep(max(0.0, period.total_seconds() - (time.monotonic() - began)))
