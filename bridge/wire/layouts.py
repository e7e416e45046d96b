"""Where a callback body keeps the items that become records.

The platform's callbacks come in three shapes: a list under `data` (the
upload callbacks), one object as `data` (the transcoding callback), and a
body that is itself the item (media-processing notifications). A layout finds
the items' raw bytes, says where they sit for error messages, and builds a
body around items for a replay.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import msgspec


class Layout(Protocol):
    @property
    def path(self) -> str:
        """Where the items sit in the body, as a JSON path."""
        ...

    @property
    def described(self) -> str:
        """What one record's value is, for the published contract."""
        ...

    def items(self, body: bytes) -> list[msgspec.Raw]:
        """The items' raw bytes; raises msgspec's errors when the body is not the shape."""
        ...

    def item_path(self, index: int) -> str: ...

    def body_for(self, items: list[bytes], message: str) -> bytes:
        """A body around `items`, kept byte for byte, as the platform would send it."""
        ...


@dataclass(frozen=True, slots=True)
class ItemList:
    """`data.<field>` is a list of items, and `data.<total_field>` their count."""

    field: str
    total_field: str
    total_is_string: bool  # as the vendor documents it
    envelope: msgspec.json.Decoder[Any]
    items_of: Callable[[Any], list[msgspec.Raw]]

    @property
    def path(self) -> str:
        return f"$.data.{self.field}"

    @property
    def described(self) -> str:
        return f"one element of `{self.path}`"

    def items(self, body: bytes) -> list[msgspec.Raw]:
        return self.items_of(self.envelope.decode(body))

    def item_path(self, index: int) -> str:
        return f"{self.path}[{index}]"

    def body_for(self, items: list[bytes], message: str) -> bytes:
        total = f'"{len(items)}"' if self.total_is_string else str(len(items))
        head = f'{{"code":200,"data":{{"{self.field}":['.encode()
        tail = f'],"{self.total_field}":{total}}},"message":{_string(message)}}}'
        return head + b",".join(items) + tail.encode()


class _ObjectEnvelope(msgspec.Struct, kw_only=True, frozen=True):
    data: msgspec.Raw
    code: int | None = None
    message: str | None = None


_object_envelope = msgspec.json.Decoder(_ObjectEnvelope)
_raw = msgspec.json.Decoder(msgspec.Raw)


@dataclass(frozen=True, slots=True)
class DataObject:
    """`data` is one object, the one item of the body."""

    path: str = "$.data"
    described: str = "the object `$.data`"

    def items(self, body: bytes) -> list[msgspec.Raw]:
        return [_object_envelope.decode(body).data]

    def item_path(self, index: int) -> str:
        return self.path

    def body_for(self, items: list[bytes], message: str) -> bytes:
        [item] = items
        return b'{"code":200,"data":' + item + b',"message":' + _string(message).encode() + b"}"


@dataclass(frozen=True, slots=True)
class WholeBody:
    """The body is the item."""

    path: str = "$"
    described: str = "the whole body"

    def items(self, body: bytes) -> list[msgspec.Raw]:
        return [_raw.decode(body)]

    def item_path(self, index: int) -> str:
        return self.path

    def body_for(self, items: list[bytes], message: str) -> bytes:
        [item] = items
        return item


def _string(text: str) -> str:
    return msgspec.json.encode(text).decode()
