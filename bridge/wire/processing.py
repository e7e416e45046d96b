"""Wire structs of media-processing notifications (pullVideo's `notifyUrl`, persistent tasks).

The whole notification is the value of the record, keyed by its `id` (the
task's persistentId). The platform sends it URL-safe Base64 encoded
(`bridge.wire.encodings`). Its docs disagree with its own examples on whether
numbers are strings, so every number is accepted as either.
"""

from __future__ import annotations

import enum
from typing import Annotated

import msgspec

from bridge.wire.upload import documented

PersistentId = Annotated[
    str,
    msgspec.Meta(min_length=1, description="The task's persistentId; the key of the record."),
]
Number = Annotated[
    str | int | float,
    msgspec.Meta(description='A number, sent as a number or as a string (for example "3").'),
]


class ProcessingCode(enum.IntEnum):
    SOME_RUNNING = 1
    SOME_FAILED = 2
    ALL_SUCCEEDED = 3


class Separate(enum.StrEnum):
    ONE_NOTIFICATION = "0"
    ONE_OF_SEVERAL = "1"


class ProcessingOutput(msgspec.Struct, kw_only=True, frozen=True, gc=False):
    """One file a command produced."""

    fsize: Number | None = None
    hash: str | None = None
    key: str | None = None
    url: str | None = None
    duration: Number | None = None
    bit_rate: Number | None = None
    resolution: str | None = None


# Not a subclass of ProcessingOutput, though it has its fields: a subclass's own fields come
# after its base's, which would reorder the properties of the published schema (docs/contract/).
# tests/unit/wire/test_processing.py checks that the two keep the same output fields.
class ProcessingItem(msgspec.Struct, rename={"cost_time": "costTime"}, kw_only=True, frozen=True):
    """The result of one command of the task."""

    cmd: str | None = None
    code: Number | None = None
    cost_time: Number | None = None
    desc: str | None = None
    error: str | None = None
    fsize: Number | None = None
    hash: str | None = None
    key: str | None = None
    url: str | None = None
    duration: Number | None = None
    bit_rate: Number | None = None
    resolution: str | None = None
    detail: list[ProcessingOutput] | None = None


class ProcessingNotification(msgspec.Struct, kw_only=True, frozen=True):
    """A notification, whole: the value of a record on the media-processing topic."""

    id: PersistentId
    code: Annotated[Number | None, documented(ProcessingCode)] = None
    desc: str | None = None
    separate: Annotated[Number | None, documented(Separate)] = None
    inputkey: str | None = None
    inputbucket: str | None = None
    inputfsize: Number | None = None
    items: list[ProcessingItem] | None = None
