"""The callback bodies the load generators post."""

from __future__ import annotations

from tests.kafka_tools import java_partition
from tests.samples import SAMPLE_VIDEO_IDS, VIDEO_SAMPLE, sample_video, video_body

VENDOR_SAMPLE_VIDEOS = 2
# Bodies of the spread set: enough for each of the bench topic's partitions to get as
# many records as the others, in an order that visits them all in turn.
SPREAD_BODIES = 60


def vendor_sample() -> bytes:
    """The vendor's own example body, verbatim: two videos, pretty-printed.

    Its two videoIds are the same in every callback, so its records go to two
    partitions only (of six, 5 and 4), as a platform resending one upload would.
    """
    return VIDEO_SAMPLE


def spread_samples(partitions: int, count: int = SPREAD_BODIES) -> list[bytes]:
    """`count` copies of the vendor's sample, each with two videoIds of its own, chosen so
    that the records of consecutive bodies go to every partition in turn, as distinct
    uploads do. Same bytes as the sample but for the ids, so the same size."""
    ids = _ids_by_partition(partitions, count * VENDOR_SAMPLE_VIDEOS)
    bodies = []
    for n in range(count):
        first, second = ids[2 * n], ids[2 * n + 1]
        body = VIDEO_SAMPLE.replace(SAMPLE_VIDEO_IDS[0].encode(), first.encode())
        bodies.append(body.replace(SAMPLE_VIDEO_IDS[1].encode(), second.encode()))
    return bodies


def _ids_by_partition(partitions: int, count: int) -> list[str]:
    """`count` 32-character ids, the n-th of which goes to partition n % `partitions`."""
    ids: list[str] = []
    candidate = 0
    while len(ids) < count:
        wanted = len(ids) % partitions
        while True:
            candidate += 1
            video_id = f"SPREAD{candidate:026X}"
            if java_partition(video_id.encode(), partitions) == wanted:
                ids.append(video_id)
                break
    return ids


def videos_body(count: int) -> bytes:
    """A body of `count` copies of the sample's first video, each with its own videoId."""
    return video_body(*(sample_video(videoId=f"BENCH{n:027X}") for n in range(count)))
