"""Key names with stray whitespace: found for the key and by the typed decoders alike."""

from __future__ import annotations

import msgspec
import pytest

from bridge.wire.decoders import ItemDecoder
from bridge.wire.transcoding import TranscodedVideo
from bridge.wire.upload import Video

VIDEOS = ItemDecoder(Video)


@pytest.mark.parametrize(
    "value",
    [
        b'{"videoId ":"v-1"}',
        b'{" videoId":"v-1"}',
        b'{"\\tvideoId\\r\\n":"v-1"}',
        b'{"videoId " : "v-1"}',
        b'{"videoId"\n:"v-1"}',
    ],
    ids=["trailing-space", "leading-space", "tab-crlf", "space-before-colon", "plain-newline"],
)
def test_the_key_is_found_whatever_whitespace_surrounds_its_name(value: bytes) -> None:
    assert VIDEOS.decode(value).video_id == "v-1"


def test_every_level_is_read_without_the_whitespace() -> None:
    value = (
        b'{"videoId ":"v-1","videoUrl":[{"urlType ":"PC"," sdUrl":"http://x/sd.mp4"}],'
        b'"encrypt\\t":1}'
    )

    video = ItemDecoder(TranscodedVideo).decode(value)

    assert video.video_id == "v-1"
    assert video.encrypt == 1
    assert video.video_url is not None
    assert (video.video_url[0].url_type, video.video_url[0].sd_url) == ("PC", "http://x/sd.mp4")


def test_padded_names_beside_the_exact_ones_are_unknown_fields() -> None:
    video = VIDEOS.decode(b'{"videoId":"v-1","videoName ":"n","encrypt ":"not checked"}')

    assert (video.video_id, video.video_name, video.encrypt) == ("v-1", None, None)


def test_whitespace_inside_values_is_left_alone() -> None:
    video = VIDEOS.decode(b'{"videoId ":"v-1","videoName":" a \\": b ","videoDescription":"x "}')

    assert (video.video_name, video.video_description) == (' a ": b ', "x ")


def test_errors_keep_the_json_path_with_the_names_trimmed() -> None:
    with pytest.raises(msgspec.ValidationError) as caught:
        VIDEOS.decode(b'{"videoId ":"v-1","videoResolutions ":[{"height ":"tall"}]}')

    assert str(caught.value) == (
        "Expected `int | null`, got `str` - at `$.videoResolutions[0].height`"
    )


def test_a_missing_key_is_still_missing() -> None:
    with pytest.raises(msgspec.ValidationError) as caught:
        VIDEOS.decode(b'{"video Id ":"v-1"}')

    assert str(caught.value) == "Object missing required field `videoId`"


@pytest.mark.parametrize("depth", [500, 900])
def test_regression_a_deep_item_without_its_key_is_invalid_not_a_crash(depth: int) -> None:
    """Rebuilding the names of a deep item in Python ended in RecursionError: a 500."""
    deep = b"[" * depth + b"]" * depth

    for value in (b'{"x":' + deep + b"}", b'{"videoId ":"v","x":' + deep + b',"encrypt":"x"}'):
        with pytest.raises(msgspec.ValidationError) as caught:
            VIDEOS.decode(value)

        assert str(caught.value) in (
            "Object missing required field `videoId`",
            "Expected `int | null`, got `str` - at `$.encrypt`",
        )


def test_regression_a_number_too_long_for_python_keeps_its_path() -> None:
    """The second reading turned a 4301-digit `encrypt` into an error at `$[...]`."""
    with pytest.raises(msgspec.ValidationError) as caught:
        VIDEOS.decode(b'{"videoId":"v","encrypt":' + b"9" * 4301 + b"}")

    assert str(caught.value) == "Integer value out of range - at `$.encrypt`"


def test_not_json_is_a_decode_error() -> None:
    with pytest.raises(msgspec.DecodeError):
        VIDEOS.decode(b'{"videoId ": 4F0A}')
