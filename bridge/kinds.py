"""The callback kinds the bridge accepts, as data.

A kind ties a route to its envelope, its item struct, the field that keys its
records, its topic and its CloudEvents type. Adding a kind is adding one
`CallbackKind` to `KINDS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

import msgspec

from bridge import schema
from bridge.config import Settings


@dataclass(frozen=True, slots=True)
class CallbackKind:
    name: str  # the route is /callbacks/{name}
    event_type: str
    list_field: str  # the items are `data.<list_field>`
    total_field: str  # and their count `data.<total_field>`
    total_is_string: bool  # as the vendor documents it
    key_field: str  # wire name of the key, for error messages and docs
    envelope: msgspec.json.Decoder[Any]
    items_of: Callable[[Any], list[msgspec.Raw]]
    item: msgspec.json.Decoder[Any]
    key_of: Callable[[Any], str]
    topic_of: Callable[[Settings], str]
    item_type: type[msgspec.Struct]

    @property
    def route(self) -> str:
        return f"/callbacks/{self.name}"

    @property
    def items_path(self) -> str:
        """Where the items sit in the body, for error messages."""
        return f"$.data.{self.list_field}"

    def body_for(self, items: list[bytes], message: str = "success") -> bytes:
        """A body around `items`, kept byte for byte, as the platform would send it."""
        total = f'"{len(items)}"' if self.total_is_string else str(len(items))
        head = f'{{"code":200,"data":{{"{self.list_field}":['.encode()
        tail = (
            f'],"{self.total_field}":{total}}},"message":{msgspec.json.encode(message).decode()}}}'
        )
        return head + b",".join(items) + tail.encode()


VIDEO_UPLOAD = CallbackKind(
    name="video-upload",
    event_type="com.cdnetworks.cloudvod.video.uploaded",
    list_field="videoListInfo",
    total_field="videoTotal",
    total_is_string=False,
    key_field="videoId",
    envelope=msgspec.json.Decoder(schema.VideoUploadEnvelope),
    items_of=lambda envelope: envelope.data.video_list_info,
    item=msgspec.json.Decoder(schema.Video),
    key_of=attrgetter("video_id"),
    topic_of=attrgetter("topic_video_upload"),
    item_type=schema.Video,
)

MATERIAL_UPLOAD = CallbackKind(
    name="material-upload",
    event_type="com.cdnetworks.cloudvod.material.uploaded",
    list_field="materialList",
    total_field="total",
    total_is_string=True,
    key_field="id",
    envelope=msgspec.json.Decoder(schema.MaterialUploadEnvelope),
    items_of=lambda envelope: envelope.data.material_list,
    item=msgspec.json.Decoder(schema.Material),
    key_of=attrgetter("id"),
    topic_of=attrgetter("topic_material_upload"),
    item_type=schema.Material,
)

KINDS: tuple[CallbackKind, ...] = (VIDEO_UPLOAD, MATERIAL_UPLOAD)
KINDS_BY_ROUTE = {kind.route: kind for kind in KINDS}
