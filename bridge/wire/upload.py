"""Wire structs of the platform's callbacks, and the decoders built from them.

The structs describe the bodies exactly as the platform sends them: field names
are the vendor's (camelCase), documented strings stay strings even when they
hold numbers, and unknown fields are accepted so a field the vendor adds later
breaks nothing. The only hard requirement on an item is its key (`videoId`,
material `id`): present, a string, not empty.

The bridge forwards each item's original bytes; these structs validate them
and give consumers typed access (see `bridge.contract`).
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Annotated

import msgspec

VideoKey = Annotated[
    str, msgspec.Meta(min_length=1, description="Video identity; the key of the record.")
]
MaterialKey = Annotated[
    str, msgspec.Meta(min_length=1, description="Material identity; the key of the record.")
]
# Documented as a string and sent as one, but holding a number; a plain number
# is accepted too, in case the vendor ever sends what the value means.
NumericString = Annotated[
    str | int,
    msgspec.Meta(description='A number, usually sent as a string (for example "36").'),
]
UnixSeconds = Annotated[
    str | int,
    msgspec.Meta(description='Unix time in seconds, usually sent as a string ("1501578866").'),
]


class Encrypt(enum.IntEnum):
    UNENCRYPTED = 0
    ENCRYPTED = 1


class FlashImageRatio(enum.IntEnum):
    WIDESCREEN_16_9 = 0
    STANDARD_4_3 = 1


class FlashAutoPlay(enum.IntEnum):
    NO = 0
    YES = 1


class VideoState(enum.StrEnum):
    UNAVAILABLE = "0"
    AVAILABLE = "1"


class VideoSourceCode(enum.IntEnum):
    OTHERS = 0
    UPLOAD = 1
    LIVE_RECORDING = 2
    VIDEO_FETCH = 3
    VIDEO_TRIMMING = 4
    VIDEO_SPLICING = 5
    LIVE_RECORDING_FROM_CDN_EDGE = 6
    COMMON_LIVE_RECORDING = 10
    UPLOAD_SDK = 11
    UPLOAD_TOOL = 12


class Clarity(enum.IntEnum):
    ORIGINAL = 1
    FD = 2
    LD = 3
    SD = 4
    HD = 5
    LIVE_RECORDING = -99


class ServerType(enum.IntEnum):
    PC = 0
    RAW_VIDEO = 1
    MOBILE = 2


def _documented(values: type[enum.Enum]) -> msgspec.Meta:
    """Describe an enum-valued field while still accepting undocumented values."""
    names = ", ".join(f"{member.value!r} ({member.name})" for member in values)
    return msgspec.Meta(description=f"Documented values: {names}. Other values are accepted.")


# The other kinds' struct modules describe their enums the same way.
documented = _documented


def number(value: str | int | None) -> int | None:
    """A number the vendor may send as a string; None when absent or not a number."""
    if isinstance(value, int):
        return value
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def moment(value: str | int | None) -> datetime | None:
    """Unix seconds (as the vendor sends them) as an aware UTC datetime."""
    seconds = number(value)
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)


class VideoResolution(msgspec.Struct, rename="camel", kw_only=True, frozen=True, gc=False):
    """One rendition of a video."""

    clarity: Annotated[int | None, _documented(Clarity)] = None
    # The vendor's own example sends -1, which the table does not list.
    server_type: Annotated[int | None, _documented(ServerType)] = None
    height: int | None = None
    width: int | None = None
    # Documented as "long, unit: bit"; probably bytes. Kept as sent.
    file_size: int | None = None


class Video(msgspec.Struct, rename="camel", kw_only=True, frozen=True):
    """One element of `videoListInfo`: the value of a record on the video topic."""

    video_id: VideoKey
    video_name: str | None = None
    create_user: str | None = None
    encrypt: Annotated[int | None, _documented(Encrypt)] = None
    video_size: NumericString | None = None
    video_duration: NumericString | None = None
    create_time: UnixSeconds | None = None
    upload_time: UnixSeconds | None = None
    update_time: UnixSeconds | None = None
    video_description: str | None = None
    # The vendor sends the string "null" when there is no category.
    video_classification: str | None = None
    image_url: str | None = None
    publish_domain: str | None = None
    flash_player_name: str | None = None
    flash_player_id: str | None = None
    flash_image_ratio: Annotated[int | None, _documented(FlashImageRatio)] = None
    flash_auto_play: Annotated[int | None, _documented(FlashAutoPlay)] = None
    video_state: Annotated[NumericString | None, _documented(VideoState)] = None
    # Meaning depends on `encrypt`; see the vendor's table.
    transcode_state: NumericString | None = None
    video_source_code: Annotated[int | None, _documented(VideoSourceCode)] = None
    video_resolutions: list[VideoResolution] | None = None

    # Typed views of the fields the vendor sends as strings.
    @property
    def size(self) -> int | None:
        return number(self.video_size)

    @property
    def duration(self) -> int | None:
        return number(self.video_duration)

    @property
    def uploaded_at(self) -> datetime | None:
        return moment(self.upload_time)

    @property
    def updated_at(self) -> datetime | None:
        return moment(self.update_time)

    @property
    def created_at(self) -> datetime | None:
        return moment(self.create_time)

    @property
    def category(self) -> str | None:
        """`videoClassification`, with the vendor's "null" (and "") as None."""
        return (
            None if self.video_classification in (None, "", "null") else self.video_classification
        )


class Material(msgspec.Struct, rename="camel", kw_only=True, frozen=True):
    """One element of `materialList`: the value of a record on the material topic."""

    id: MaterialKey
    name: str | None = None
    suffix: str | None = None
    file_size: int | None = None
    url: str | None = None
    create_user: str | None = None
    create_time: UnixSeconds | None = None


# Envelopes as decoded on the hot path: items stay raw bytes, each validated on
# its own, so one bad item does not spoil the others and is forwarded untouched.
class VideoPage(msgspec.Struct, rename="camel", kw_only=True, frozen=True):
    video_list_info: list[msgspec.Raw]
    video_total: NumericString | None = None


class VideoUploadEnvelope(msgspec.Struct, kw_only=True, frozen=True):
    data: VideoPage
    code: int | None = None
    message: str | None = None


class MaterialPage(msgspec.Struct, rename="camel", kw_only=True, frozen=True):
    material_list: list[msgspec.Raw]
    total: NumericString | None = None


class MaterialUploadEnvelope(msgspec.Struct, kw_only=True, frozen=True):
    data: MaterialPage
    code: int | None = None
    message: str | None = None
