"""The encodings a callback body may arrive in: JSON, or URL-safe Base64 of JSON.

The platform sends some callbacks as JSON and others (media-processing
notifications, and the transcoding callback by its docs' example) as the
URL-safe Base64 encoding of the same JSON. The two never overlap: a JSON
object starts with `{` (or whitespace), which is not a Base64 character, and
the Base64 of a JSON object starts with `e` (for `{`) or `I`, `C`, `D` (for
leading whitespace), which no JSON text starts with. So a body is read as
JSON first, and only a body that is not valid JSON is read as Base64 (padded
or not; surrounding whitespace such as a trailing newline is allowed, nothing
inside).
"""

from __future__ import annotations

import base64
import re

_ALPHABET = re.compile(rb"[A-Za-z0-9_-]*")
_WHITESPACE = b" \t\r\n"


class NotBase64(ValueError):
    """The body is not URL-safe Base64; the message says where it fails."""


def from_base64(body: bytes) -> bytes:
    """The bytes that a URL-safe Base64 body encodes."""
    start = len(body) - len(body.lstrip(_WHITESPACE))
    text = body.strip(_WHITESPACE)
    if not text:
        raise NotBase64("the body is empty")
    unpadded = text.rstrip(b"=")
    padding = len(text) - len(unpadded)
    end = _ALPHABET.match(unpadded)
    assert end is not None  # noqa: S101 - the pattern matches the empty string
    if end.end() < len(unpadded):
        where = start + end.end()
        raise NotBase64(f"byte {where} ({_shown(body[where])}) is not a URL-safe Base64 character")
    if len(unpadded) % 4 == 1:
        raise NotBase64(f"its length ({len(unpadded)} characters) is not a possible Base64 length")
    if padding and (padding > 2 or len(text) % 4):
        raise NotBase64(f"wrong padding: {padding} '=' after {len(unpadded)} characters")
    return base64.urlsafe_b64decode(unpadded + b"=" * (-len(unpadded) % 4))


def _shown(byte: int) -> str:
    return repr(chr(byte)) if 0x20 <= byte < 0x7F else f"0x{byte:02x}"
