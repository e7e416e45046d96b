"""An example downstream consumer of the video topic: copy it and put your work in `handle`.

    python examples/consumer.py --group my-team

Kafka's address and the topic default to the bridge's own settings
(`BRIDGE_KAFKA_BOOTSTRAP_SERVERS`, `BRIDGE_TOPIC_VIDEO_UPLOAD`).

- Subscribes with its own consumer group: every team gets every record.
- Decodes each record with the bridge's typed decoder (`bridge.contract`).
- Drops duplicates by the `ce_id` header: delivery is at least once, and a
  callback the platform sends again arrives again with the same id.
- Keeps each video's order: records of one videoId share a partition, and
  this loop handles a partition's records one after the other, committing
  only what it has handled.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import signal

from aiokafka import AIOKafkaConsumer

from bridge.contract import ContractError, VideoUploaded, decode_video_record
from bridge.settings import load_settings


class RecentIds:
    """The ids seen lately; old ones are forgotten so memory stays bounded."""

    def __init__(self, size: int = 100_000) -> None:
        self.size = size
        self.ids: collections.OrderedDict[str, None] = collections.OrderedDict()

    def seen(self, event_id: str) -> bool:
        if event_id in self.ids:
            self.ids.move_to_end(event_id)
            return True
        self.ids[event_id] = None
        if len(self.ids) > self.size:
            self.ids.popitem(last=False)
        return False


def handle(uploaded: VideoUploaded) -> None:
    """Your work goes here. It must be safe to run twice for the same video."""
    video = uploaded.video
    print(
        f"video {video.video_id} {video.video_name!r} size={video.size} "
        f"duration={video.duration}s uploaded_at={video.uploaded_at} id={uploaded.event.id}",
        flush=True,
    )


async def run(
    bootstrap: str, group: str, topic: str, stop_after: int | None, idle_timeout: float | None
) -> None:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    recent = RecentIds()
    handled = 0
    loop_time = asyncio.get_running_loop().time
    last_record = loop_time()
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    await consumer.start()
    try:
        while not stopping.is_set():
            batches = await consumer.getmany(timeout_ms=1000)
            for records in batches.values():  # one partition's records, in order
                for record in records:
                    try:
                        uploaded = decode_video_record(record.value, record.headers)
                    except ContractError as error:
                        print(f"skipping {record.partition}:{record.offset}: {error}", flush=True)
                        continue
                    if recent.seen(uploaded.event.id):
                        print(f"duplicate {uploaded.event.id} dropped", flush=True)
                        continue
                    handle(uploaded)
                    handled += 1
            if batches:
                await consumer.commit()  # only after handling: a crash replays, never skips
                last_record = loop_time()
            if stop_after is not None and handled >= stop_after:
                break
            if idle_timeout is not None and loop_time() - last_record > idle_timeout:
                break
    finally:
        await consumer.stop()


def main() -> None:
    settings = load_settings()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", default=settings.kafka_bootstrap_servers)
    parser.add_argument("--group", default="example-consumer")
    parser.add_argument("--topic", default=settings.topic_video_upload)
    parser.add_argument("--stop-after", type=int, help="exit after handling N videos")
    parser.add_argument("--idle-timeout", type=float, help="exit after this long without records")
    args = parser.parse_args()
    asyncio.run(run(args.bootstrap, args.group, args.topic, args.stop_after, args.idle_timeout))


if __name__ == "__main__":
    main()
