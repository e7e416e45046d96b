"""Wire structs of the Video Transcoding Callback, sent once a video's renditions exist.

Unlike the upload callback, its `data` is one object, not a list: that object
is the value of the record. The docs' example writes the key `"videoId "` with
a trailing space (`bridge.wire.decoders` reads it as `videoId`).
"""

from __future__ import annotations

import enum
from typing import Annotated

import msgspec

from bridge.wire.upload import Encrypt, VideoKey, documented


class UrlType(enum.StrEnum):
    # The docs name "PC" and say the other value is for mobile, without spelling it.
    PC = "PC"


class VideoUrl(msgspec.Struct, rename="camel", kw_only=True, frozen=True, gc=False):
    """The playback addresses of one player type, by quality."""

    url_type: Annotated[str | None, documented(UrlType)] = None
    origin_url: str | None = None
    fluent_url: Annotated[str | None, msgspec.Meta(description="LD")] = None
    sd_url: Annotated[str | None, msgspec.Meta(description="SD")] = None
    high_url: Annotated[str | None, msgspec.Meta(description="HD")] = None
    hd_pull_url: Annotated[str | None, msgspec.Meta(description="UHD")] = None


class TranscodedVideo(msgspec.Struct, rename="camel", kw_only=True, frozen=True):
    """`data` of a Video Transcoding Callback: the value of a record on the transcode topic."""

    video_id: VideoKey
    encrypt: Annotated[int | None, documented(Encrypt)] = None
    swf_code: str | None = None
    # No longer used, by the vendor's docs.
    html_code: str | None = None
    # Empty for encrypted videos.
    auto_code: str | None = None
    try_watch_auto_code: str | None = None
    custom_code: str | None = None
    video_url: list[VideoUrl] | None = None
    try_watch_video_url: list[VideoUrl] | None = None
