"""Reconciliation at scale: a window of many videos against the fake video API.

Starts a broker of its own, fills the video-upload topic with all but a share of
a synthetic catalogue (as if their callbacks had arrived), then times
`bridge reconcile` over the window twice and prints its figures as JSON:

    make reconcile-scale
    .venv/bin/python -m tests.reconcile_scale --videos 100000 --missing 5000   # the same

Outside `make test`: at 100,000 videos it runs for minutes. The figures are in
docs/reconciliation.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer

from tests.broker import LocalBroker
from tests.fake_vod_api import Catalogue, FakeVideoApi, video, video_id
from tests.kafka_tools import create_topics, unique_topic
from tests.servers import bridge_env

ACCESS_KEY = "ak-scale"
SECRET_KEY = "sk-scale-0123456789abcdef"


async def fill(bootstrap: str, topic: str, items: list[bytes]) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=20, max_batch_size=1 << 20
    )
    await producer.start()
    try:
        sent = [await producer.send(topic, item, key=video_id(item).encode()) for item in items]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


def timed_run(env: dict[str, str], start: datetime, end: datetime) -> dict[str, Any]:
    """One `bridge reconcile` process: its summary line, wall time and peak resident memory."""
    began = time.monotonic()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bridge",
            "reconcile",
            "--since",
            start.isoformat(),
            "--until",
            end.isoformat(),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    stderr = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    summary = next(
        json.loads(line)
        for line in stderr.splitlines()
        if line.startswith("{") and json.loads(line)["event"] == "reconciliation run finished"
    )
    return {
        "exit_code": process.returncode,
        "wall_seconds": round(time.monotonic() - began, 1),
        "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),  # Linux reports KiB
        **{
            k: summary[k]
            for k in (
                "videos_listed",
                "already_present",
                "produced",
                "records_read",
                "api_calls",
                "api_errors",
                "duration_seconds",
                "complete",
            )
        },
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=100_000)
    parser.add_argument("--missing", type=int, default=5_000)
    args = parser.parse_args()
    end = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    start = end - timedelta(hours=24)
    spacing = (end - start).total_seconds() / args.videos
    first = int(start.timestamp())
    catalogue = Catalogue([video(n, first + int(n * spacing)) for n in range(args.videos)])
    items = catalogue.items()
    step = args.videos // args.missing if args.missing else args.videos + 1
    delivered = [item for n, item in enumerate(items) if n % step != 0 or not args.missing]
    topic = unique_topic("scale")
    with tempfile.TemporaryDirectory() as state, LocalBroker(Path(state) / "kafka") as broker:
        asyncio.run(create_topics(broker.bootstrap, topic, partitions=6))
        asyncio.run(fill(broker.bootstrap, topic, delivered))
        with FakeVideoApi(catalogue, access_key=ACCESS_KEY, secret_key=SECRET_KEY) as api:
            env = bridge_env(
                {
                    "kafka_bootstrap_servers": broker.bootstrap,
                    "topic_video_upload": topic,
                    **api.client_settings(),
                    # The fake's limit is not the subject here: the run's own cost is.
                    "vod_api_rate_limit": "1000000",
                    "vod_api_rate_share": "1",
                }
            )
            runs = [timed_run(env, start, end) for _ in range(2)]
    figures = {
        "videos": args.videos,
        "in_topic_before": len(delivered),
        "first_run": runs[0],
        "second_run": runs[1],
    }
    print(json.dumps(figures, indent=2))
    ok = runs[0]["produced"] == args.videos - len(delivered) and runs[1]["produced"] == 0
    return 0 if ok and all(run["exit_code"] == 0 for run in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
