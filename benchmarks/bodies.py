"""The callback bodies the load generators post."""

from __future__ import annotations

from tests.samples import VIDEO_SAMPLE, sample_video, video_body

VENDOR_SAMPLE_VIDEOS = 2


def vendor_sample() -> bytes:
    """The vendor's own example body, verbatim: two videos, pretty-printed."""
    return VIDEO_SAMPLE


def videos_body(count: int) -> bytes:
    """A body of `count` copies of the sample's first video, each with its own videoId."""
    return video_body(*(sample_video(videoId=f"BENCH{n:027X}") for n in range(count)))
