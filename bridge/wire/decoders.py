"""Decoding the vendor's JSON into the wire structs, forgiving stray whitespace in key names.

The vendor's own example writes `"videoId "` (with a trailing space). An item
that does not decode as sent is decoded again with every key name, at any
depth, read without the JSON whitespace around it; so a padded key is found,
and its value checked, wherever the item needs it. An item that decodes as
sent is taken as it is (at no extra cost): a padded name it holds besides is
an unknown field, ignored like any other. The bridge and the typed decoders
for consumers share this class, so they agree on every record, and the bytes
forwarded are never rewritten.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

import msgspec

T = TypeVar("T")

_JSON_WHITESPACE = " \t\r\n"


class ItemDecoder(Generic[T]):
    """Like `msgspec.json.Decoder(type)`, reading padded key names when the exact ones fail."""

    def __init__(self, type: type[T]) -> None:  # noqa: A002 - msgspec's own parameter name
        self.type = type
        self._exact = msgspec.json.Decoder(type)

    def decode(self, value: bytes) -> T:
        """Raises `msgspec.ValidationError` (with the JSON path) or `msgspec.DecodeError`."""
        try:
            return self._exact.decode(value)
        except msgspec.ValidationError as error:
            try:
                trimmed, changed = _trimmed(msgspec.json.decode(value))
            except (msgspec.DecodeError, RecursionError):
                # Too deep, or numbers too long, to rebuild in Python: read as sent.
                raise error from None
            if not changed:
                raise error from None
        return msgspec.convert(trimmed, self.type)


def _trimmed(value: Any) -> tuple[Any, bool]:
    """`value` with every key name stripped, and whether any was padded."""
    if isinstance(value, dict):
        result, changed = {}, False
        for key, item in value.items():
            name = key.strip(_JSON_WHITESPACE)
            result[name], inner = _trimmed(item)
            changed = changed or inner or name != key
        return result, changed
    if isinstance(value, list):
        pairs = [_trimmed(item) for item in value]
        return [item for item, _ in pairs], any(inner for _, inner in pairs)
    return value, False
