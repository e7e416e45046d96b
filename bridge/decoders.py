"""Decoding the vendor's JSON into the wire structs, forgiving stray whitespace in key names.

The vendor's own example writes `"videoId "` (with a trailing space). A key
name with JSON whitespace before or after it is read as the name without it,
at any depth, by the bridge and by the typed decoders for consumers alike, so
both agree on every record. The bytes forwarded are never rewritten.
"""

from __future__ import annotations

import re
from typing import Any, Generic, TypeVar

import msgspec

T = TypeVar("T")

# A string followed by a colon (so: a key) that starts or ends with JSON
# whitespace. It may also match inside a string value; that only costs the
# slower path, which is correct for any input.
_PADDED_KEY = re.compile(rb'"(?:[ \t\r\n][^"\\]*|[^"\\]*[ \t\r\n])"[ \t\r\n]*:')
_JSON_WHITESPACE = " \t\r\n"


class ItemDecoder(Generic[T]):
    """Like `msgspec.json.Decoder(type)`, with key names read without surrounding whitespace."""

    def __init__(self, type: type[T]) -> None:  # noqa: A002 - msgspec's own parameter name
        self.type = type
        self._exact = msgspec.json.Decoder(type)

    def decode(self, value: bytes) -> T:
        """Raises `msgspec.ValidationError` (with the JSON path) or `msgspec.DecodeError`."""
        if _PADDED_KEY.search(value) is None:
            return self._exact.decode(value)
        return msgspec.convert(_trimmed(msgspec.json.decode(value)), self.type)


def _trimmed(value: Any) -> Any:
    if isinstance(value, dict):
        return {key.strip(_JSON_WHITESPACE): _trimmed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_trimmed(item) for item in value]
    return value
