"""Hostile and generated callback bodies, with what the bridge must make of each.

The oracle is built independently of the bridge: bodies are assembled from
items serialised one by one, so the exact bytes of each item, its key (as
Python's `json` reads it) and the fault a bad item must produce are known
before the bridge sees them.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import msgspec
from hypothesis import strategies as st

from bridge.kinds import VIDEO_UPLOAD


def too_deep() -> int:
    """JSON nested this deep is refused wherever the decoder is called from.

    Decoding recurses once per level, within the interpreter's recursion limit
    (1000 in the bridge; test runners such as hypothesis raise it).
    """
    return sys.getrecursionlimit()


def nested(depth: int, opener: bytes = b"[") -> bytes:
    """A JSON value nested `depth` levels deep: `[[[0]]]` or `{"a":{"a":0}}`."""
    closer = b"]" if opener == b"[" else b"}"
    return opener * depth + b"0" + closer * depth


INT64 = st.integers(-(2**63), 2**63 - 1)
JSON_SCALARS = (
    st.none() | st.booleans() | INT64 | st.floats(allow_nan=False, allow_infinity=False) | st.text()
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=12,
)
KNOWN_FIELDS = frozenset(
    field.encode_name for field in msgspec.structs.fields(VIDEO_UPLOAD.item_type)
)
UNKNOWN_NAMES = st.text(max_size=12).filter(lambda name: name not in KNOWN_FIELDS)
NUMERIC_STRINGS = st.none() | st.text() | INT64
VALID_FIELDS = {
    "videoName": st.none() | st.text(),
    "encrypt": st.none() | INT64,
    "videoSize": NUMERIC_STRINGS,
    "updateTime": NUMERIC_STRINGS,
    "videoClassification": st.none() | st.sampled_from(["null", "sports"]),
    "videoState": NUMERIC_STRINGS,
    "videoResolutions": st.none()
    | st.lists(
        st.fixed_dictionaries(
            {}, optional={"clarity": INT64, "serverType": INT64, "fileSize": INT64}
        ),
        max_size=3,
    ),
}


@dataclass(frozen=True)
class Piece:
    """One item of a generated body: its exact bytes and what the bridge must make of it."""

    raw: bytes
    key: str | None  # the record key, when the item is forwardable
    fault: str | None  # the fault message, `{path}` standing for the item's place

    def fault_at(self, index: int) -> str:
        assert self.fault is not None
        return self.fault.replace("{path}", f"$.data.videoListInfo[{index}]")


def encode_object(draw: st.DrawFn, fields: Sequence[tuple[str, object]]) -> bytes:
    """A JSON object with the fields in a drawn order, escaped or not, spaced or not."""
    ordered = draw(st.permutations(fields))
    ascii_only = draw(st.booleans())
    space = draw(st.sampled_from(["", " ", "\n  "]))
    members = [
        json.dumps(name, ensure_ascii=ascii_only)
        + ":"
        + space
        + json.dumps(value, ensure_ascii=ascii_only)
        for name, value in ordered
    ]
    return ("{" + ("," + space).join(members) + "}").encode()


@st.composite
def good_items(draw: st.DrawFn) -> Piece:
    video_id = draw(st.text(min_size=1))
    known = draw(st.fixed_dictionaries({}, optional=VALID_FIELDS))
    unknown = draw(st.dictionaries(UNKNOWN_NAMES, JSON_VALUES, max_size=3))
    raw = encode_object(draw, [("videoId", video_id), *known.items(), *unknown.items()])
    return Piece(raw, json.loads(raw)["videoId"], None)


_NOT_OBJECTS: list[tuple[object, str]] = [
    (None, "null"),
    (True, "bool"),
    (7, "int"),
    (1.5, "float"),
    ("x", "str"),
    ([], "array"),
]


@st.composite
def bad_items(draw: st.DrawFn) -> Piece:
    """An item the bridge must dead-letter, with the exact reason it must give."""
    kind = draw(st.sampled_from(["not-object", "no-id", "empty-id", "int-id", "typed-field"]))
    unknown = list(draw(st.dictionaries(UNKNOWN_NAMES, JSON_VALUES, max_size=3)).items())
    if kind == "not-object":
        value, name = draw(st.sampled_from(_NOT_OBJECTS))
        raw = json.dumps(value).encode()
        return Piece(raw, None, f"Expected `object`, got `{name}` - at `{{path}}`")
    if kind == "no-id":
        return Piece(
            encode_object(draw, unknown),
            None,
            "Object missing required field `videoId` - at `{path}`",
        )
    if kind == "empty-id":
        raw = encode_object(draw, [("videoId", ""), *unknown])
        return Piece(raw, None, "Expected `str` of length >= 1 - at `{path}.videoId`")
    if kind == "int-id":
        raw = encode_object(draw, [("videoId", draw(INT64)), *unknown])
        return Piece(raw, None, "Expected `str`, got `int` - at `{path}.videoId`")
    raw = encode_object(draw, [("videoId", "V"), ("encrypt", draw(st.text())), *unknown])
    return Piece(raw, None, "Expected `int | null`, got `str` - at `{path}.encrypt`")


def body_of(pieces: list[Piece], separator: bytes = b",") -> bytes:
    """A video upload callback around the pieces, each kept byte for byte."""
    items = separator.join(piece.raw for piece in pieces)
    return (
        b'{"code":200,"data":{"videoListInfo":['
        + items
        + b'],"videoTotal":"%d"},"message":"success"}' % len(pieces)
    )


INVALID_UTF8 = [b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xc0\xaf", b"\xf8\x88\x80\x80\x80"]
