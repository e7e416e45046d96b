"""What a produce request costs the broker: the bridge's publisher against Kafka's own client.

    python -m benchmarks.broker_cost --rate 3000 --linger 5 --seconds 15 --rounds 3

Starts a local broker, warms its JVM up with both clients, then in each round measures
the broker's CPU (from /proc) while it is idle, then, each client first in turn, while
the bridge's `KafkaPublisher` publishes the records of `--rate` vendor samples a second
(as `benchmarks.kafka_side` does, no HTTP) and while Apache Kafka's `ProducerPerformance`
produces as many records a second, of the same mean size, with the same linger,
`acks=all`, the bridge's compression and idempotence. The Java client is the broker's
own: what the broker spends on a request from it is what a produce request costs this
broker, and what follows for its CPU per callback is the requests a client sends.

Per client and round it prints the produce requests a second, the records in each, the
broker's CPU per callback's worth of records, and the broker's CPU per request above
its idle. The Java producer picks partitions itself (its records have no keys): its
requests hold one or two partitions' batches, as the bridge's hold for the sample.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import re
import statistics
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import uvloop

from benchmarks import procs
from benchmarks.kafka_ceiling import callback_records
from benchmarks.kafka_side import measure, publisher_settings
from benchmarks.segments import LIB, java
from tests.broker import LocalBroker
from tests.kafka_tools import create_topics

# ProducerPerformance reports every second here; the measured window lies between two
# reports, after those of its start-up (the JVM's, its connections', its first batches').
REPORT_SECONDS = 1
STARTUP_REPORTS = 2
REPORT = re.compile(r"^(\d+) records sent, ")
METRIC = re.compile(r"^producer-metrics:records-per-request-avg:\{[^}]*\}\s*:\s*([0-9.]+)$")


class Reading(NamedTuple):
    requests_per_s: float
    records_per_request: float
    broker_us_per_callback: float
    broker_us_per_request: float  # above the broker's idle


def idle_cpu_per_s(broker_pid: int, seconds: float) -> float:
    before = procs.cpu_seconds([broker_pid])
    time.sleep(seconds)
    return (procs.cpu_seconds([broker_pid]) - before) / seconds


def bridge_reading(
    bootstrap: str, broker_pid: int, rate: int, linger: int, seconds: float, idle: float
) -> Reading:
    settings = publisher_settings(bootstrap, linger, "broker-cost")
    per_callback = len(callback_records(settings))
    _, requests, broker = uvloop.run(measure(settings, rate, seconds, 2.0, broker_pid))
    assert broker is not None
    above_idle = broker * rate / 1e6 - idle
    return Reading(requests, rate * per_callback / requests, broker, 1e6 * above_idle / requests)


def java_reading(
    bootstrap: str, broker_pid: int, rate: int, linger: int, seconds: float, idle: float
) -> Reading:
    """ProducerPerformance at the bridge's record rate: after its start-up's reports, the
    next ones (at least `seconds`) are measured, and one more comes before it ends."""
    settings = publisher_settings(bootstrap, linger, "broker-cost")
    samples = callback_records(settings)
    size = round(statistics.mean(len(r.value) + len(r.key or b"") for r in samples))
    records_per_s = rate * len(samples)
    first = STARTUP_REPORTS
    last = first + math.ceil(seconds / REPORT_SECONDS)
    topic = settings.topic_video_upload
    asyncio.run(create_topics(bootstrap, topic, partitions=settings.topic_partitions))
    command = [java(), "-Xmx256m", "-cp", f"{LIB}/*", "org.apache.kafka.tools.ProducerPerformance"]
    command += ["--topic", topic, "--record-size", str(size), "--print-metrics"]
    command += ["--num-records", str(records_per_s * REPORT_SECONDS * (last + 1))]
    command += ["--reporting-interval", str(1000 * REPORT_SECONDS)]
    command += ["--throughput", str(records_per_s), "--producer-props"]
    command += [f"bootstrap.servers={bootstrap}", f"linger.ms={linger}", "acks=all"]
    command += [f"compression.type={settings.kafka_compression}", "enable.idempotence=true"]
    seen = 0
    started = ended = cpu_started = cpu_ended = 0.0
    per_request = None
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as producer:
        assert producer.stdout is not None
        for line in producer.stdout:
            if REPORT.match(line):
                seen += 1
                if seen == first:
                    started, cpu_started = time.monotonic(), procs.cpu_seconds([broker_pid])
                elif seen == last:
                    ended, cpu_ended = time.monotonic(), procs.cpu_seconds([broker_pid])
            elif found := METRIC.match(line.strip()):
                # Printed at the end, averaged over the client's metric window (its
                # start-up included): the records a second are held to the rate instead.
                per_request = float(found.group(1))
    if producer.returncode != 0 or per_request is None or not ended:
        raise RuntimeError(f"ProducerPerformance failed ({producer.returncode})")
    broker_per_s = (cpu_ended - cpu_started) / (ended - started)
    requests = records_per_s / per_request
    return Reading(
        requests,
        per_request,
        1e6 * broker_per_s / rate,
        1e6 * (broker_per_s - idle) / requests,
    )


def _row(client: str, round_: object, reading: Reading) -> str:
    r = reading
    return (
        f"| {client} | {round_} | {r.requests_per_s:.0f} | {r.records_per_request:.1f} | "
        f"{r.broker_us_per_callback:.0f} | {r.broker_us_per_request:.0f} |"
    )


def run(bootstrap: str, pid: int, args: argparse.Namespace) -> None:
    if args.warmup > 0:
        print(f"warming the broker up for {2 * args.warmup:g} s", flush=True)
        bridge_reading(bootstrap, pid, args.rate, args.linger, args.warmup, 0.0)
        java_reading(bootstrap, pid, args.rate, args.linger, args.warmup, 0.0)
    print(
        f"{args.rate} callbacks/s of the vendor sample (2 records each) or as many records, "
        f"linger {args.linger} ms, {args.seconds:g} s each"
    )
    print(
        "| client | round | produce requests/s | records/request | broker µs/callback "
        "| broker µs/request above idle |"
    )
    print("|---|---|---|---|---|---|")
    readings: dict[str, list[Reading]] = {"bridge": [], "java": []}
    for round_ in range(1, args.rounds + 1):
        idle = idle_cpu_per_s(pid, args.seconds)
        print(f"| (idle) | {round_} | | | {1e6 * idle / args.rate:.0f} | |", flush=True)
        clients = [("bridge", bridge_reading), ("java", java_reading)]
        # In turn first: the first after the idle window tends to cost the broker more.
        for client, reading_of in clients if round_ % 2 else clients[::-1]:
            reading = reading_of(bootstrap, pid, args.rate, args.linger, args.seconds, idle)
            readings[client].append(reading)
            print(_row(client, round_, reading), flush=True)
    for client, taken in readings.items():
        median = Reading(*(statistics.median(values) for values in zip(*taken, strict=True)))
        print(_row(f"{client}, median", "all", median))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.broker_cost", description=__doc__)
    parser.add_argument("--rate", type=int, default=3000, help="callbacks/s (default 3000)")
    parser.add_argument("--linger", type=int, default=5, help="ms, both clients (default 5)")
    parser.add_argument("--seconds", type=float, default=15.0, help="measured, each client")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=float, default=30.0, help="seconds, each client")
    parser.add_argument(
        "--bootstrap", metavar="HOST:PORT", help="a running broker of this machine instead"
    )
    args = parser.parse_args(argv)
    if args.seconds < REPORT_SECONDS:
        parser.error(f"--seconds must be at least {REPORT_SECONDS}: the Java client's reports")
    if args.bootstrap is not None:
        _, _, port = args.bootstrap.rpartition(":")
        if not port.isdigit():
            parser.error(f"--bootstrap must be HOST:PORT, got {args.bootstrap!r}")
        pid = procs.listener(int(port))
        if pid is None:
            parser.error(f"no process of this machine listens on {args.bootstrap}")
        run(args.bootstrap, pid, args)
        return 0
    with tempfile.TemporaryDirectory() as state, LocalBroker(Path(state)) as broker:
        assert broker.pid is not None, "the broker started but wrote no pid"
        run(broker.bootstrap, broker.pid, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
