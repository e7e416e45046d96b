"""The Kafka ceiling, for the benchmark only: the records the bridge builds for the vendor's
sample, produced flat out with the bridge's producer settings, no HTTP in the way.

    BRIDGE_KAFKA_BOOTSTRAP_SERVERS=... BRIDGE_TOPIC_VIDEO_UPLOAD=... \
        python -m benchmarks.kafka_ceiling --seconds 15 --warmup 3

Keeps up to `BRIDGE_MAX_RECORDS_IN_FLIGHT` records unacknowledged, as one bridge worker
may. Prints `measuring` and `measured` around the measured window, then one JSON
object: every record acknowledged (warm-up included, to compare with the topic), and
the records acknowledged within the measured window, per second.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import Any

import msgspec
from aiokafka import AIOKafkaProducer

from benchmarks.bodies import vendor_sample
from bridge import records
from bridge.kafka.options import producer_options
from bridge.kinds import VIDEO_UPLOAD
from bridge.logs import utc_now
from bridge.settings import Settings, load_settings


class Outcome(msgspec.Struct, frozen=True):
    acknowledged: int  # every record Kafka acknowledged, warm-up included
    failed: int
    measured: int  # acknowledged within the measured window
    seconds: float
    records_per_s: float
    records_per_callback: int
    cpu_seconds: float  # this process, within the measured window


def callback_records(settings: Settings) -> list[records.OutgoingRecord]:
    """What the bridge produces for one vendor sample, headers and all."""
    decoded = records.decode_callback(VIDEO_UPLOAD, vendor_sample())
    context = records.Context(
        route=VIDEO_UPLOAD.route, received_at=utc_now(), source=settings.event_source
    )
    return records.records_for(VIDEO_UPLOAD, decoded.items, settings.topic_video_upload, context)


async def produce(settings: Settings, seconds: float, warmup: float) -> Outcome:
    batch = callback_records(settings)
    producer = AIOKafkaProducer(**producer_options(settings))
    await producer.start()
    window = asyncio.Semaphore(settings.max_records_in_flight)
    acknowledged = failed = outstanding = 0
    settled = asyncio.Event()

    def delivered(delivery: asyncio.Future[Any]) -> None:
        nonlocal acknowledged, failed, outstanding
        window.release()
        outstanding -= 1
        if outstanding == 0:
            settled.set()
        if delivery.cancelled() or delivery.exception() is not None:
            failed += 1
        else:
            acknowledged += 1

    async def send_until(deadline: float) -> None:
        nonlocal outstanding
        while time.monotonic() < deadline:
            for record in batch:
                await window.acquire()
                outstanding += 1
                settled.clear()
                delivery = await producer.send(
                    record.topic, record.value, record.key, headers=record.headers
                )
                delivery.add_done_callback(delivered)
            await asyncio.sleep(0)  # let the sender and the acknowledgements run

    try:
        await send_until(time.monotonic() + warmup)
        _say("measuring")
        started, before, cpu = time.monotonic(), acknowledged, time.process_time()
        await send_until(started + seconds)
        elapsed, measured = time.monotonic() - started, acknowledged - before
        cpu = time.process_time() - cpu
        _say("measured")
        await producer.flush()
        if outstanding:
            await settled.wait()
    finally:
        await producer.stop()
    return Outcome(
        acknowledged=acknowledged,
        failed=failed,
        measured=measured,
        seconds=elapsed,
        records_per_s=measured / elapsed,
        records_per_callback=len(batch),
        cpu_seconds=cpu,
    )


def _say(line: str) -> None:
    """Tells the harness where the measured window starts and ends."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def main() -> int:
    parser = argparse.ArgumentParser(prog="kafka_ceiling", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    args = parser.parse_args()
    outcome = asyncio.run(produce(load_settings(), args.seconds, args.warmup))
    sys.stdout.write(msgspec.json.encode(outcome).decode() + "\n")
    return 0 if outcome.failed == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
