"""The platform's transcoding callback and processing notification, as the examples hold them.

Each comes as JSON and as the URL-safe Base64 encoding of those bytes, made
by coreutils' `basenc`, not by the bridge. The docs' own transcoding example
writes the key `"videoId "` (trailing space) and the id unquoted: the quoted
form is the example file, the unquoted one is kept here as the docs print it.
"""

from __future__ import annotations

import functools
import json
import subprocess

from tests.samples import EXAMPLES

TRANSCODE_JSON = (EXAMPLES / "video-transcode-callback.json").read_bytes()
TRANSCODE_BASE64 = (EXAMPLES / "video-transcode-callback.b64").read_bytes()
NOTIFICATION_JSON = (EXAMPLES / "media-processing-notification.json").read_bytes()
NOTIFICATION_BASE64 = (EXAMPLES / "media-processing-notification.b64").read_bytes()
TRANSCODED_VIDEO_ID = "9B0F7BA8BCB9D056D4C24ADDBF821D10"
PERSISTENT_ID = "20105464540f197414d51a861240d921ef206"

# As the vendor's page prints it: not JSON, since the id is not quoted.
TRANSCODE_UNQUOTED = TRANSCODE_JSON.replace(
    f'"videoId ": "{TRANSCODED_VIDEO_ID}"'.encode(), f'"videoId ": {TRANSCODED_VIDEO_ID}'.encode()
)


def base64url(data: bytes, *, padded: bool = True) -> bytes:
    """URL-safe Base64 by coreutils, on one line without a newline."""
    encoded = _basenc(data)
    return encoded if padded else encoded.rstrip(b"=")


@functools.cache
def _basenc(data: bytes) -> bytes:
    return subprocess.run(
        ["basenc", "--base64url", "--wrap=0"], input=data, capture_output=True, check=True
    ).stdout


def object_at(body: bytes, key: str) -> bytes:
    """The exact bytes of the object under the top-level `key`, found with the stdlib parser."""
    text = body.decode()
    start = text.index("{", text.index(f'"{key}"'))
    _, end = json.JSONDecoder().raw_decode(text, start)
    return body[start:end]


def whole_object(body: bytes) -> bytes:
    """The body's one JSON object, without the whitespace around it."""
    text = body.decode()
    start = len(text) - len(text.lstrip())
    _, end = json.JSONDecoder().raw_decode(text, start)
    return body[start:end]


def notification(*, separate: object, items: list[dict[str, object]], **changes: object) -> bytes:
    """The example notification with other items and `separate`, compact JSON."""
    value: dict[str, object] = json.loads(NOTIFICATION_JSON)
    value.update(separate=separate, items=items, **changes)
    return json.dumps(value).encode()
