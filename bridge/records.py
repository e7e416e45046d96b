"""From a callback body to the Kafka records that carry it. Pure: no I/O.

Each item becomes one record whose value is the item's bytes exactly as the
platform sent them, with CloudEvents headers (Kafka binding, binary mode).
Input that cannot be forwarded becomes a dead letter holding the raw bytes.
"""

from __future__ import annotations

import binascii
import functools
import hashlib

import msgspec

from bridge.errors import CallbackError, NotJson, WrongShape, at_path, located
from bridge.kinds import CallbackKind
from bridge.wire.encodings import NotBase64, from_base64

Headers = list[tuple[str, bytes]]


# Structs rather than named tuples: several are made per callback, and a struct is made
# in a seventh of the time. None of them can be part of a reference cycle: gc=False.


class OutgoingRecord(msgspec.Struct, frozen=True, gc=False):
    topic: str
    key: bytes | None
    value: bytes
    headers: Headers


class Item(msgspec.Struct, frozen=True, gc=False):
    key: str
    value: bytes


class Fault(msgspec.Struct, frozen=True, gc=False):
    """An item that could not be forwarded, and why."""

    value: bytes
    message: str
    path: str


class Decoded(msgspec.Struct, frozen=True, gc=False):
    items: list[Item]
    faults: list[Fault]


class Context(msgspec.Struct, frozen=True, gc=False):
    """What a request adds to each of its records."""

    route: str
    received_at: str  # RFC 3339
    source: str
    traceparent: bytes | None = None
    request_id: bytes | None = None


def decode_callback(kind: CallbackKind, body: bytes) -> Decoded:
    """Split a body into forwardable items and faulty ones.

    A body that is not JSON is read as URL-safe Base64 of JSON (see
    `bridge.wire.encodings`); the items are then slices of the decoded bytes.
    Raises `NotJson` or `WrongShape` when the body as a whole is unusable:
    neither encoding, not the documented shape, or not one forwardable item in it.
    """
    try:
        return _decode_json(kind, body)
    except NotJson as as_json:
        try:
            decoded = from_base64(body)
        except NotBase64 as error:
            raise NotJson(f"{as_json.message}; nor URL-safe Base64: {error}") from None
        refusal = as_json.message
    try:
        return _decode_json(kind, decoded)
    except NotJson as error:
        inner = error.message.removeprefix(_NOT_JSON)
        raise NotJson(f"{refusal}; nor URL-safe Base64 of JSON: decoded, {inner}") from None


_NOT_JSON = "Body is not valid JSON: "


def _decode_json(kind: CallbackKind, body: bytes) -> Decoded:
    try:
        # msgspec skips unknown fields without checking their UTF-8, and those
        # bytes are forwarded: check the whole body so every value is valid JSON.
        # ASCII, the usual case, is UTF-8 and is told without building a str.
        if not body.isascii():
            body.decode()
    except UnicodeDecodeError as error:
        raise NotJson(f"{_NOT_JSON}invalid UTF-8 at byte {error.start}") from None
    try:
        found = kind.layout.items(body)
    except msgspec.ValidationError as error:  # before DecodeError: it is a subclass
        raise _shape_error(error, "$") from None
    except msgspec.DecodeError as error:
        raise NotJson(f"{_NOT_JSON}{error}") from None
    except RecursionError:
        # msgspec recurses per level of nesting; a body nested about a thousand
        # levels deep would otherwise end the request as a 500.
        raise NotJson(f"{_NOT_JSON}nested too deeply") from None
    items: list[Item] = []
    faults: list[Fault] = []
    for index, raw in enumerate(found):
        value = bytes(raw)
        try:
            items.append(Item(kind.key_of(kind.item.decode(value)), value))
        except msgspec.ValidationError as error:
            faults.append(_fault(value, error, kind.layout.item_path(index)))
    if faults and not items:
        first = faults[0]
        raise WrongShape(first.message, path=first.path)
    return Decoded(items, faults)


def _fault(value: bytes, error: msgspec.ValidationError, item_path: str) -> Fault:
    """Re-root msgspec's item-relative path (`$.videoId`) at the item's place in the body."""
    reason, at = located(error)
    path = item_path + (at or "$").removeprefix("$")
    return Fault(value, at_path(reason, path), path)


def _shape_error(error: msgspec.ValidationError, root: str) -> WrongShape:
    reason, at = located(error)
    path = at or root
    return WrongShape(at_path(reason, path), path=path)


def event_id(value: bytes) -> str:
    """Deterministic: a resent identical item gets the same id, so consumers can drop it."""
    return _event_id(value).decode()


def _event_id(value: bytes) -> bytes:
    """`event_id` as the header carries it, without a detour through `str`."""
    return binascii.hexlify(hashlib.blake2b(value, digest_size=16).digest())


@functools.cache
def _fixed_headers(event_type: str, source: str) -> Headers:
    """The headers that are the same on every record of a kind, encoded once."""
    return [
        ("ce_specversion", b"1.0"),
        ("ce_type", event_type.encode()),
        ("ce_source", source.encode()),
    ]


def records_for(
    kind: CallbackKind, items: list[Item], topic: str, context: Context
) -> list[OutgoingRecord]:
    common: Headers = [
        *_fixed_headers(kind.event_type, context.source),
        ("ce_time", context.received_at.encode()),
        ("content-type", b"application/json"),
    ]
    if context.traceparent is not None:
        common.append(("traceparent", context.traceparent))
    records = []
    for item in items:
        key = item.key.encode()
        headers = [("ce_id", _event_id(item.value)), ("ce_subject", key), *common]
        records.append(OutgoingRecord(topic, key, item.value, headers))
    return records


def dead_letter_record(
    value: bytes,
    *,
    topic: str,
    reason: str,
    path: str | None,
    status: int,
    scope: str,
    context: Context,
    content_type: str | None,
) -> OutgoingRecord:
    """A record keeping input that could not be forwarded, with headers saying why."""
    headers: Headers = [
        ("dlq_reason", reason.encode()),
        ("dlq_route", context.route.encode()),
        ("dlq_received_at", context.received_at.encode()),
        ("dlq_status", str(status).encode()),
        ("dlq_scope", scope.encode()),
        ("content-type", (content_type or "").encode()),
    ]
    if path is not None:
        headers.append(("dlq_path", path.encode()))
    if context.traceparent is not None:
        headers.append(("traceparent", context.traceparent))
    if context.request_id is not None:
        headers.append(("dlq_request_id", context.request_id))
    return OutgoingRecord(topic, None, value, headers)


def dead_letter_for_body(
    body: bytes, error: CallbackError, *, topic: str, context: Context, content_type: str | None
) -> OutgoingRecord:
    return dead_letter_record(
        body,
        topic=topic,
        reason=error.message,
        path=error.path,
        status=error.status,
        scope="body",
        context=context,
        content_type=content_type,
    )


def dead_letters_for_faults(
    faults: list[Fault], *, topic: str, context: Context
) -> list[OutgoingRecord]:
    return [
        dead_letter_record(
            fault.value,
            topic=topic,
            reason=fault.message,
            path=fault.path,
            status=200,
            scope="item",
            context=context,
            content_type="application/json",
        )
        for fault in faults
    ]
