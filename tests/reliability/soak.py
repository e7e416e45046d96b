"""Soak: the bridge under steady load for a long time, watched from outside.

    python -m tests.reliability.soak [--seconds 600] [--rate N] [--out FILE]

Starts a local broker (or uses `--bootstrap`) and `bridge serve`, measures the
highest rate it sustains with a short closed-loop burst (unless `--rate` is
given), then sends at half that rate for `--seconds`. Every few seconds it
samples the bridge's resident memory and open file descriptors (from /proc)
and the 99th percentile latency of the callbacks answered since the last
sample. At the end every acknowledged video must be in the topic. It reports
the least-squares slopes (MiB/min, fds/min, ms/min) and writes everything as
JSON. Exit status 1 when a video was lost, a callback got anything but 200,
or memory or descriptors grew steadily.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from tests.broker import LocalBroker
from tests.kafka_tools import unique_topic
from tests.reliability.ledger import audit
from tests.reliability.sender import Sender
from tests.running import rss_mib
from tests.servers import BridgeProcess

TOKEN = "soak-test-token-0123456789"
ROUTE = f"/callbacks/video-upload/{TOKEN}"
WARM_UP_SHARE = 0.2  # slopes are also given without the first fifth of the run
# Steady growth beyond these, after the warm-up, fails the soak.
MAX_RSS_SLOPE = 1.0  # MiB per minute
MAX_FD_SLOPE = 0.5  # descriptors per minute


@dataclass
class Sample:
    at: float  # seconds since the soak began
    rss_mib: float
    open_fds: int
    answered: int  # callbacks answered since the previous sample
    p99_ms: float | None
    statuses: dict[str, int]


def slope(points: Sequence[tuple[float, float]]) -> float:
    """Least-squares slope of y over x."""
    if len(points) < 2:
        return 0.0
    mean_x = statistics.fmean(x for x, _ in points)
    mean_y = statistics.fmean(y for _, y in points)
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / spread if spread else 0.0


def p99(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


async def measure_max_rate(url: str, seconds: float, concurrency: int) -> Sender:
    """A closed loop of `concurrency` senders for `seconds`: what is answered is the max."""
    burst = Sender(url, f"burst-{uuid.uuid4().hex[:8]}", rate=1e9, in_flight=concurrency, tries=1)
    stop = asyncio.Event()
    running = asyncio.create_task(burst.run(stop))
    await asyncio.sleep(seconds)  # the length of the burst
    stop.set()
    await running
    return burst


async def soak(
    bootstrap: str,
    work_dir: Path,
    *,
    seconds: float,
    rate: float | None,
    sample_every: float,
    burst_seconds: float = 10.0,
) -> dict[str, Any]:
    topic = unique_topic("soak-video")
    settings = {
        "kafka_bootstrap_servers": bootstrap,
        "topic_video_upload": topic,
        "topic_material_upload": unique_topic("soak-material"),
        "topic_dlq": unique_topic("soak-dlq"),
        "create_topics": "true",
        "auth_tokens": TOKEN,
        "log_level": "warning",
    }
    bridge = await asyncio.to_thread(BridgeProcess(work_dir / "bridge.log", **settings).start)
    assert bridge.process is not None
    pid = bridge.process.pid
    url = bridge.url + ROUTE
    senders = []
    try:
        max_rate = None
        if rate is None:
            burst = await measure_max_rate(url, burst_seconds, concurrency=32)
            senders.append(burst)
            max_rate = burst.statuses().get(200, 0) / burst_seconds
            rate = max_rate / 2
        sender = Sender(url, f"soak-{uuid.uuid4().hex[:8]}", rate=rate, in_flight=64)
        senders.append(sender)
        samples = await _run(sender, pid, seconds, sample_every)
        assert bridge.exit_code() is None
    finally:
        code = await asyncio.to_thread(bridge.stop)
    result = await audit(bootstrap, topic, *senders)
    return _summary(sender, samples, result, max_rate, rate, seconds, code)


async def _run(sender: Sender, pid: int, seconds: float, every: float) -> list[Sample]:
    stop = asyncio.Event()
    running = asyncio.create_task(sender.run(stop))
    began = time.monotonic()
    samples: list[Sample] = []
    seen = 0
    try:
        while (elapsed := time.monotonic() - began) < seconds:
            await asyncio.sleep(min(every, seconds - elapsed))  # the sampling period
            attempts = sender.attempts()
            recent, seen = attempts[seen:], len(attempts)
            statuses: dict[str, int] = {}
            for attempt in recent:
                statuses[str(attempt.status)] = statuses.get(str(attempt.status), 0) + 1
            samples.append(
                Sample(
                    at=round(time.monotonic() - began, 2),
                    rss_mib=round(rss_mib(pid), 2),
                    open_fds=psutil.Process(pid).num_fds(),
                    answered=len(recent),
                    p99_ms=_rounded(p99([(a.ended - a.started) * 1000 for a in recent])),
                    statuses=statuses,
                )
            )
    finally:
        stop.set()
        await running
    return samples


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _slopes(samples: list[Sample], since: float) -> dict[str, float]:
    kept = [s for s in samples if s.at >= since]
    minutes = [(s.at / 60, s) for s in kept]
    return {
        "rss_mib_per_min": round(slope([(m, s.rss_mib) for m, s in minutes]), 3),
        "open_fds_per_min": round(slope([(m, float(s.open_fds)) for m, s in minutes]), 3),
        "p99_ms_per_min": round(
            slope([(m, s.p99_ms) for m, s in minutes if s.p99_ms is not None]), 3
        ),
    }


def _summary(
    sender: Sender,
    samples: list[Sample],
    result: Any,
    max_rate: float | None,
    rate: float,
    seconds: float,
    exit_code: int | None,
) -> dict[str, Any]:
    statuses = {str(status): n for status, n in sorted(sender.statuses().items())}
    latencies = [(a.ended - a.started) * 1000 for a in sender.attempts()]
    p99_all = p99(latencies)
    return {
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds": seconds,
        "max_rate_callbacks_per_s": None if max_rate is None else round(max_rate, 1),
        "rate_callbacks_per_s": round(rate, 1),
        "achieved_callbacks_per_s": round(len(sender.callbacks) / seconds, 1),
        "videos_per_callback": sender.videos_per_callback,
        "callbacks": len(sender.callbacks),
        "statuses": statuses,
        "acknowledged_videos": result.acknowledged,  # with the burst's
        "records": result.records,
        "lost": len(result.lost),
        "duplicates": result.duplicates,
        "bad_headers": result.bad_headers,
        "strangers": result.strangers,
        "order_violations": result.order_violations,
        "p99_ms_overall": _rounded(p99_all),
        "median_ms_overall": _rounded(statistics.median(latencies) if latencies else None),
        "slopes": _slopes(samples, 0),
        "slopes_after_warm_up": _slopes(samples, seconds * WARM_UP_SHARE),
        "rss_mib_first_last": [samples[0].rss_mib, samples[-1].rss_mib] if samples else None,
        "open_fds_first_last": [samples[0].open_fds, samples[-1].open_fds] if samples else None,
        "bridge_exit_code": exit_code,
        "samples": [asdict(sample) for sample in samples],
    }


def verdict(summary: dict[str, Any]) -> list[str]:
    """What makes the soak fail, one line each; empty when it passed."""
    problems = []
    if summary["lost"]:
        problems.append(f"{summary['lost']} acknowledged videos are not in the topic")
    if set(summary["statuses"]) != {"200"}:
        problems.append(f"answers other than 200: {summary['statuses']}")
    for check in ("bad_headers", "strangers", "order_violations"):
        if summary[check]:
            problems.append(f"{check}: {summary[check]}")
    steady = summary["slopes_after_warm_up"]
    if steady["rss_mib_per_min"] > MAX_RSS_SLOPE:
        problems.append(f"memory grows {steady['rss_mib_per_min']} MiB/min after the warm-up")
    if steady["open_fds_per_min"] > MAX_FD_SLOPE:
        problems.append(f"descriptors grow {steady['open_fds_per_min']}/min after the warm-up")
    if summary["bridge_exit_code"] != 0:
        problems.append(f"the bridge exited with {summary['bridge_exit_code']} on SIGTERM")
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--rate", type=float, help="callbacks per second (default: half the max)")
    parser.add_argument("--sample-every", type=float, default=5)
    parser.add_argument("--burst-seconds", type=float, default=10)
    parser.add_argument("--bootstrap", help="an existing broker (default: start one)")
    parser.add_argument("--out", type=Path, default=Path("build/reliability/soak.json"))
    args = parser.parse_args(argv)
    with ExitStack() as stack:
        work_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="soak-")))
        bootstrap = args.bootstrap
        if bootstrap is None:
            broker = stack.enter_context(LocalBroker(work_dir / "kafka"))
            bootstrap = broker.bootstrap
        summary = asyncio.run(
            soak(
                bootstrap,
                work_dir,
                seconds=args.seconds,
                rate=args.rate,
                sample_every=args.sample_every,
                burst_seconds=args.burst_seconds,
            )
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2) + "\n")
    shown = {key: value for key, value in summary.items() if key != "samples"}
    print(json.dumps(shown, indent=2))
    problems = verdict(summary)
    for problem in problems:
        print(f"soak failed: {problem}", file=sys.stderr)
    print(f"results written to {args.out}")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
