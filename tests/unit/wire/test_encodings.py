"""URL-safe Base64 bodies: what is read as Base64, and the reason when a body is not."""

from __future__ import annotations

import pytest

from bridge.wire.encodings import NotBase64, from_base64
from tests.platform_samples import NOTIFICATION_BASE64, NOTIFICATION_JSON, base64url


@pytest.mark.parametrize("padded", [True, False])
@pytest.mark.parametrize("around", [b"", b"\n", b"\r\n", b"  \n"])
@pytest.mark.parametrize("length", [0, 1, 2, 3, 4, 100])
def test_padded_or_not_with_or_without_a_newline(padded: bool, around: bytes, length: int) -> None:
    data = NOTIFICATION_JSON[: length or None]
    encoded = base64url(data, padded=padded) + around

    assert from_base64(encoded) == data


def test_the_example_file_is_the_base64_of_the_json_file() -> None:
    assert NOTIFICATION_BASE64 == base64url(NOTIFICATION_JSON) + b"\n"
    assert from_base64(NOTIFICATION_BASE64) == NOTIFICATION_JSON


def test_url_safe_characters_decode_to_their_bytes() -> None:
    # 0xfb 0xff 0xbf is "-_-_" in the URL-safe alphabet ("+/+/" in the standard one).
    assert base64url(b"\xfb\xff\xbf") == b"-_-_"
    assert from_base64(b"-_-_") == b"\xfb\xff\xbf"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "the body is empty"),
        (b" \n", "the body is empty"),
        (b'{"a":1}', "byte 0 ('{') is not a URL-safe Base64 character"),
        (b"\neyJh+IjoxfQ", "byte 5 ('+') is not a URL-safe Base64 character"),
        (b"eyJh/IjoxfQ", "byte 4 ('/') is not a URL-safe Base64 character"),
        (b"eyJhIjox\nfQ", "byte 8 (0x0a) is not a URL-safe Base64 character"),
        (b"eyJh\xffIjox", "byte 4 (0xff) is not a URL-safe Base64 character"),
        (b"eyJhI", "its length (5 characters) is not a possible Base64 length"),
        (b"eyJhIjo=x", "byte 7 ('=') is not a URL-safe Base64 character"),
        (b"eyJhIjoxfQ===", "wrong padding: 3 '=' after 10 characters"),
        (b"eyJhIjoxfQ=", "wrong padding: 1 '=' after 10 characters"),
    ],
)
def test_a_body_that_is_not_base64_says_where(body: bytes, reason: str) -> None:
    with pytest.raises(NotBase64) as caught:
        from_base64(body)

    assert str(caught.value) == reason
