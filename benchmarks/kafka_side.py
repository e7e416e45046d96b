"""The bridge's Kafka side alone: its publisher, at a fixed rate of callbacks, per linger.

    python -m benchmarks.kafka_side --rate 1000 --lingers 0,5,10,20 --seconds 15

Starts a local broker and, for each `BRIDGE_KAFKA_LINGER_MS` given, a `KafkaPublisher`
as a bridge worker has one, then publishes the records the bridge builds for the
vendor's sample (`kafka_ceiling.callback_records`) at `--rate` callbacks a second,
each callback its own task, as the HTTP side would. No HTTP: what is printed is what
the batcher, aiokafka and the broker cost a callback, apart from the rest of the
bridge, with the lingers compared in one run. Also run is the same pacing with a
publisher that does nothing, the baseline that the pacing itself costs.

Per linger it prints the CPU of this process per callback (from /proc, within the
measured window), the produce requests a second (the batcher's sends), the CPU per
request that follows, and the broker's CPU per callback.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

import uvloop

from benchmarks import procs
from benchmarks.kafka_ceiling import callback_records
from benchmarks.options import PARTITIONS
from bridge.kafka.batching import Batcher, NodeId
from bridge.kafka.publisher import KafkaPublisher
from bridge.metrics import Metrics
from bridge.records import OutgoingRecord
from bridge.settings import Settings
from tests.broker import LocalBroker

Publish = Callable[[Sequence[OutgoingRecord]], Coroutine[Any, Any, None]]


def own_cpu_seconds() -> float:
    return procs.cpu_seconds([os.getpid()])


async def paced(publish: Publish, batch: list[OutgoingRecord], rate: int, seconds: float) -> int:
    """Publishes `batch` `rate` times a second for `seconds`, each in a task of its own;
    returns how many were published, once all are acknowledged."""
    loop = asyncio.get_running_loop()
    waiting: set[asyncio.Task[None]] = set()
    started = loop.time()
    sent = 0
    while (due := started + sent / rate) < started + seconds:
        if due > loop.time():
            await asyncio.sleep(due - loop.time())
        task = asyncio.create_task(publish(batch))
        waiting.add(task)
        task.add_done_callback(waiting.discard)
        sent += 1
    await asyncio.gather(*waiting)
    return sent


class Counted:
    """Counts the batcher's sends that hand batches over: its produce requests."""

    def __init__(self, batcher: Batcher) -> None:
        self.requests = 0
        send = batcher._send

        def counting(node: NodeId) -> None:
            if batcher.brokers[node].waiting:
                self.requests += 1
            send(node)

        batcher._send = counting  # type: ignore[method-assign]


async def nothing(records: Sequence[OutgoingRecord]) -> None:
    """The publisher of the baseline: the pacing and the tasks, no Kafka."""


async def measure(
    settings: Settings | None, rate: int, seconds: float, warmup: float, broker_pid: int | None
) -> tuple[float, float, float | None]:
    """(CPU µs per callback, produce requests per second, broker CPU µs per callback)."""
    broker_pids = [] if broker_pid is None else [broker_pid]
    base = settings or Settings(allow_unauthenticated=True)
    batch = callback_records(base)
    publisher = None
    counted = None
    publish: Publish = nothing
    if settings is not None:
        publisher = KafkaPublisher(settings, [settings.topic_video_upload], Metrics())
        await publisher.start()
        batcher = publisher._current.batcher
        assert batcher is not None
        counted = Counted(batcher)
        publish = publisher.publish
    try:
        await paced(publish, batch, rate, warmup)  # not counted
        requests_before = counted.requests if counted else 0
        cpu, broker, wall = own_cpu_seconds(), procs.cpu_seconds(broker_pids), time.monotonic()
        sent = await paced(publish, batch, rate, seconds)
        wall = time.monotonic() - wall
        cpu, broker = own_cpu_seconds() - cpu, procs.cpu_seconds(broker_pids) - broker
        requests = (counted.requests if counted else 0) - requests_before
    finally:
        if publisher is not None:
            await publisher.stop()
    return 1e6 * cpu / sent, requests / wall, None if broker_pid is None else 1e6 * broker / sent


def publisher_settings(bootstrap: str, linger: int, purpose: str) -> Settings:
    """A publisher's settings for a run: the given linger, the bridge's default
    compression, and a fresh topic of the bench's partitions, created by the publisher."""
    return Settings(
        kafka_bootstrap_servers=bootstrap,
        topic_video_upload=f"{purpose}-{uuid.uuid4().hex[:12]}",
        create_topics=True,
        topic_partitions=PARTITIONS,
        allow_unauthenticated=True,
        kafka_linger_ms=linger,
    )


def _us(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f}"


async def run(bootstrap: str, broker_pid: int | None, args: argparse.Namespace) -> None:
    print(f"{args.rate} callbacks/s of the vendor sample (2 records each), {args.seconds:g} s each")
    print(
        "| linger ms | CPU µs/callback | produce requests/s | CPU µs/request | broker µs/callback |"
    )
    print("|---|---|---|---|---|")
    paced_cpu, _, idle = await measure(None, args.rate, args.seconds, args.warmup, broker_pid)
    print(f"| (no Kafka: the pacing alone) | {paced_cpu:.0f} | | | {_us(idle)} (idle) |")
    for linger in args.lingers:
        settings = publisher_settings(bootstrap, linger, "kafka-side")
        cpu, requests, broker = await measure(
            settings, args.rate, args.seconds, args.warmup, broker_pid
        )
        per_request = (cpu - paced_cpu) * args.rate / requests if requests else None
        print(f"| {linger} | {cpu:.0f} | {requests:.0f} | {_us(per_request)} | {_us(broker)} |")
    print("CPU µs/request: the CPU above the pacing's, spread over the produce requests.")


def _ints(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.kafka_side", description=__doc__)
    parser.add_argument("--rate", type=int, default=1000, help="callbacks/s (default 1000)")
    parser.add_argument("--lingers", type=_ints, default=[0, 5, 10, 20], metavar="MS,...")
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds, not counted")
    parser.add_argument(
        "--bootstrap", help="use this broker instead of starting one (its CPU is not measured)"
    )
    args = parser.parse_args(argv)
    if args.bootstrap is not None:
        uvloop.run(run(args.bootstrap, None, args))
        return 0
    with tempfile.TemporaryDirectory() as state, LocalBroker(Path(state)) as broker:
        assert broker.pid is not None, "the broker started but wrote no pid"
        uvloop.run(run(broker.bootstrap, broker.pid, args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
