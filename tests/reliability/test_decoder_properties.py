"""Property-based tests of `decode_callback`: whatever the bytes, a forwardable split or a 4xx."""

from __future__ import annotations

import json
import sys

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bridge.errors import CallbackError, NotJson, WrongShape
from bridge.kinds import KINDS, VIDEO_UPLOAD, CallbackKind
from bridge.records import decode_callback
from bridge.wire.layouts import ItemList
from tests.reliability.hostile import (
    INVALID_UTF8,
    Piece,
    bad_items,
    body_of,
    good_items,
    nested,
    too_deep,
)
from tests.reliability.report import count_case
from tests.samples import VIDEO_SAMPLE

DECODER = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)


def decode_or_refuse(kind: CallbackKind, body: bytes) -> CallbackError | None:
    """The decoder's verdict: None when it split the body, else the 4xx it raised."""
    try:
        decode_callback(kind, body)
    except (NotJson, WrongShape) as error:
        assert 400 <= error.status < 500
        assert error.message
        return error
    return None


@DECODER
@given(kind=st.sampled_from(KINDS), body=st.binary(max_size=4096))
def test_any_bytes_are_split_or_refused_with_a_4xx(kind: CallbackKind, body: bytes) -> None:
    verdict = decode_or_refuse(kind, body)

    count_case("decoder", "random bytes", 200 if verdict is None else verdict.status)
    assert verdict is not None or body.strip().startswith(b"{")


@DECODER
@given(
    kind=st.sampled_from(KINDS),
    position=st.integers(0, len(VIDEO_SAMPLE)),
    junk=st.binary(min_size=1, max_size=64),
    cut=st.booleans(),
)
def test_mangled_samples_are_split_or_refused_with_a_4xx(
    kind: CallbackKind, position: int, junk: bytes, cut: bool
) -> None:
    body = VIDEO_SAMPLE[:position] + junk + (b"" if cut else VIDEO_SAMPLE[position:])

    verdict = decode_or_refuse(kind, body)

    count_case("decoder", "mangled sample", 200 if verdict is None else verdict.status)


@DECODER
@given(
    pieces=st.lists(good_items() | bad_items(), max_size=8),
    separator=st.sampled_from([b",", b" , ", b",\n"]),
)
def test_generated_callbacks_split_exactly_into_items_and_faults(
    pieces: list[Piece], separator: bytes
) -> None:
    body = body_of(pieces, separator)
    good = [piece for piece in pieces if piece.fault is None]
    bad = [(index, piece) for index, piece in enumerate(pieces) if piece.fault is not None]

    if bad and not good:
        with pytest.raises(WrongShape) as refused:
            decode_callback(VIDEO_UPLOAD, body)
        index, first = bad[0]
        assert refused.value.message == first.fault_at(index)
        count_case("decoder", "generated callbacks", 422)
        return
    decoded = decode_callback(VIDEO_UPLOAD, body)
    assert [(item.key, item.value) for item in decoded.items] == [(p.key, p.raw) for p in good]
    assert [(fault.value, fault.message) for fault in decoded.faults] == [
        (piece.raw, piece.fault_at(index)) for index, piece in bad
    ]
    count_case("decoder", "generated callbacks", 200)


@DECODER
@given(cut=st.integers(0, len(VIDEO_SAMPLE.rstrip()) - 1))
def test_truncated_json_is_400(cut: int) -> None:
    with pytest.raises(NotJson) as refused:
        decode_callback(VIDEO_UPLOAD, VIDEO_SAMPLE[:cut])

    assert refused.value.message.startswith("Body is not valid JSON: ")
    count_case("decoder", "truncated JSON", 400)


@DECODER
@given(position=st.integers(0, len(VIDEO_SAMPLE)), invalid=st.sampled_from(INVALID_UTF8))
def test_invalid_utf8_is_400_naming_its_byte(position: int, invalid: bytes) -> None:
    body = VIDEO_SAMPLE[:position] + invalid + VIDEO_SAMPLE[position:]

    with pytest.raises(NotJson) as refused:
        decode_callback(VIDEO_UPLOAD, body)

    assert refused.value.message.startswith(
        f"Body is not valid JSON: invalid UTF-8 at byte {position}; nor URL-safe Base64: "
    )
    count_case("decoder", "invalid UTF-8", 400)


def deep_body(kind: CallbackKind, value: bytes, where: str) -> bytes:
    key = kind.key_field.encode()
    items = kind.layout.path.rsplit(".", 1)[1].encode()
    return {
        "body": value,
        "envelope": b'{"data":{"' + items + b'":[]},"x":' + value + b"}",
        "item": b'{"data":{"' + items + b'":[' + value + b"]}}",
        "field": b'{"data":{"' + items + b'":[{"' + key + b'":"k","x":' + value + b"}]}}",
    }[where]


@DECODER
@given(
    kind=st.sampled_from([kind for kind in KINDS if isinstance(kind.layout, ItemList)]),
    depth=st.integers(1, 200_000),
    opener=st.sampled_from([b"[", b'{"a":']),
    where=st.sampled_from(["body", "envelope", "item", "field"]),
)
@example(kind=VIDEO_UPLOAD, depth=100_000, opener=b"[", where="field")
@example(kind=VIDEO_UPLOAD, depth=100_000, opener=b'{"a":', where="body")
@example(kind=VIDEO_UPLOAD, depth=3000, opener=b"[", where="item")
def test_regression_deep_nesting_is_400_not_a_crash(
    kind: CallbackKind, depth: int, opener: bytes, where: str
) -> None:
    verdict = decode_or_refuse(kind, deep_body(kind, nested(depth, opener), where))

    count_case("decoder", "deep nesting", 200 if verdict is None else verdict.status)
    if where == "body" and opener == b"[":  # the envelope must be an object: no need to look in
        assert verdict is not None
        assert verdict.message == "Expected `object`, got `array` - at `$`"
    elif depth >= too_deep():
        assert verdict is not None
        assert verdict.status == 400
        assert verdict.message.startswith("Body is not valid JSON: nested too deeply; ")


@DECODER
@given(
    digits=st.integers(20, 6000), field=st.sampled_from(["encrypt", "videoSize", "unknownField"])
)
def test_huge_numbers_are_kept_as_sent_or_refused_where_typed(digits: int, field: str) -> None:
    item = b'{"videoId":"N","' + field.encode() + b'":' + b"9" * digits + b"}"
    body = b'{"data":{"videoListInfo":[' + item + b"]}}"

    # A typed field takes integers as long as Python converts them (4300 digits by default).
    if field == "unknownField" or digits <= sys.get_int_max_str_digits():
        [forwarded] = decode_callback(VIDEO_UPLOAD, body).items
        assert forwarded.value == item
        count_case("decoder", "huge numbers", 200)
        return
    with pytest.raises(WrongShape) as refused:
        decode_callback(VIDEO_UPLOAD, body)
    assert refused.value.message == (
        f"Integer value out of range - at `$.data.videoListInfo[0].{field}`"
    )
    count_case("decoder", "huge numbers", 422)


@DECODER
@given(ids=st.lists(st.text(min_size=1, max_size=8), min_size=2, max_size=4))
def test_duplicate_keys_give_the_key_json_parsers_read(ids: list[str]) -> None:
    members = ",".join(f'"videoId":{json.dumps(video_id)}' for video_id in ids)
    item = ("{" + members + "}").encode()

    [forwarded] = decode_callback(VIDEO_UPLOAD, b'{"data":{"videoListInfo":[' + item + b"]}}").items

    assert forwarded.key == json.loads(item)["videoId"] == ids[-1]
    assert forwarded.value == item
    count_case("decoder", "duplicate keys", 200)


@DECODER
@given(length=st.integers(0, 1_000_000), char=st.sampled_from(["a", "é", "\\u00e9", "\\\\", '\\"']))
def test_very_long_strings_are_forwarded_byte_for_byte(length: int, char: str) -> None:
    text = (char * length).encode()
    item = b'{"videoId":"L","videoName":"' + text + b'","x":"' + text + b'"}'

    [forwarded] = decode_callback(VIDEO_UPLOAD, b'{"data":{"videoListInfo":[' + item + b"]}}").items

    assert forwarded.value == item
    count_case("decoder", "long strings", 200)
