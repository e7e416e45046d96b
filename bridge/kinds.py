"""The callback kinds the bridge accepts, as data.

A kind ties a route to the shape of its body, its item struct, the field that
keys its records, its topic setting and its CloudEvents type. Everything that
knows the kinds (routes, topics and their start-up checks, metrics labels, the
CLI's `--kind`, the published contract, the typed decoders) reads this table.
Adding a kind is adding one `CallbackKind` to `KINDS`, its item struct, and
the setting that names its topic.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

import msgspec

from bridge.settings import Settings
from bridge.wire import upload
from bridge.wire.decoders import ItemDecoder
from bridge.wire.layouts import DataObject, ItemList, Layout, WholeBody
from bridge.wire.processing import ProcessingNotification
from bridge.wire.transcoding import TranscodedVideo


@dataclass(frozen=True, slots=True)
class CallbackKind:
    name: str  # the route is /callbacks/{name}
    title: str  # the vendor's name for it
    event_type: str
    layout: Layout
    key_field: str  # wire name of the key, for error messages and docs
    item_type: type[msgspec.Struct]
    key_of: Callable[[Any], str]
    topic_setting: str  # the `Settings` field (BRIDGE_<upper>) naming its topic
    item: ItemDecoder[Any] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "item", ItemDecoder(self.item_type))

    @property
    def route(self) -> str:
        return f"/callbacks/{self.name}"

    @property
    def topic_variable(self) -> str:
        return f"BRIDGE_{self.topic_setting.upper()}"

    def topic_of(self, settings: Settings) -> str:
        topic: str = getattr(settings, self.topic_setting)
        return topic

    def body_for(self, items: list[bytes], message: str = "success") -> bytes:
        """A body around `items`, kept byte for byte, as the platform would send it."""
        return self.layout.body_for(items, message)


VIDEO_UPLOAD = CallbackKind(
    name="video-upload",
    title="Video Upload Callback",
    event_type="com.cdnetworks.cloudvod.video.uploaded",
    layout=ItemList(
        field="videoListInfo",
        total_field="videoTotal",
        total_is_string=False,
        envelope=msgspec.json.Decoder(upload.VideoUploadEnvelope),
        items_of=lambda envelope: envelope.data.video_list_info,
    ),
    key_field="videoId",
    item_type=upload.Video,
    key_of=attrgetter("video_id"),
    topic_setting="topic_video_upload",
)

MATERIAL_UPLOAD = CallbackKind(
    name="material-upload",
    title="Material Upload Callback",
    event_type="com.cdnetworks.cloudvod.material.uploaded",
    layout=ItemList(
        field="materialList",
        total_field="total",
        total_is_string=True,
        envelope=msgspec.json.Decoder(upload.MaterialUploadEnvelope),
        items_of=lambda envelope: envelope.data.material_list,
    ),
    key_field="id",
    item_type=upload.Material,
    key_of=attrgetter("id"),
    topic_setting="topic_material_upload",
)

VIDEO_TRANSCODE = CallbackKind(
    name="video-transcode",
    title="Video Transcoding Callback",
    event_type="com.cdnetworks.cloudvod.video.transcoded",
    layout=DataObject(),
    key_field="videoId",
    item_type=TranscodedVideo,
    key_of=attrgetter("video_id"),
    topic_setting="topic_video_transcode",
)

MEDIA_PROCESSING = CallbackKind(
    name="media-processing",
    title="Media-processing notification",
    event_type="com.cdnetworks.media.processing.notified",
    layout=WholeBody(),
    key_field="id",
    item_type=ProcessingNotification,
    key_of=attrgetter("id"),
    topic_setting="topic_media_processing",
)

KINDS: tuple[CallbackKind, ...] = (
    VIDEO_UPLOAD,
    MATERIAL_UPLOAD,
    VIDEO_TRANSCODE,
    MEDIA_PROCESSING,
)
KINDS_BY_NAME = {kind.name: kind for kind in KINDS}
KINDS_BY_ROUTE = {kind.route: kind for kind in KINDS}
