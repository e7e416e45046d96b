"""The contract with the consumers of the topics: schemas, an AsyncAPI document, typed decoding.

Everything here is generated from the wire structs in `bridge.wire.upload`, so the
published contract cannot drift from what the bridge validates.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Generic, TypeVar

import msgspec

from bridge import __version__
from bridge.kinds import KINDS, MATERIAL_UPLOAD, VIDEO_UPLOAD, CallbackKind
from bridge.settings import Settings
from bridge.wire import upload

T = TypeVar("T", bound=msgspec.Struct)


class ContractError(ValueError):
    """A record that does not carry what the contract promises."""


class CloudEvent(msgspec.Struct, frozen=True, kw_only=True):
    """The CloudEvents attributes of a record, from its `ce_*` headers."""

    id: str
    source: str
    type: str
    time: str
    subject: str
    specversion: str = "1.0"
    traceparent: str | None = None
    # Extension attribute: "reconciliation" on records `bridge reconcile` produced.
    origin: str | None = None


class Received(msgspec.Struct, Generic[T], frozen=True):
    """A record of any kind's topic, typed: its CloudEvents attributes and its value
    (an instance of the kind's `item_type`)."""

    event: CloudEvent
    value: T


class VideoUploaded(msgspec.Struct, frozen=True):
    event: CloudEvent
    video: upload.Video


class MaterialUploaded(msgspec.Struct, frozen=True):
    event: CloudEvent
    material: upload.Material


def cloud_event(headers: Sequence[tuple[str, bytes]]) -> CloudEvent:
    """The `ce_*` headers of a record (and `traceparent`), checked for presence."""
    found = {name: value.decode() for name, value in headers}
    fields = {
        name.removeprefix("ce_"): value for name, value in found.items() if name.startswith("ce_")
    }
    if "traceparent" in found:
        fields["traceparent"] = found["traceparent"]
    try:
        return msgspec.convert(fields, CloudEvent)
    except msgspec.ValidationError as error:
        raise ContractError(f"Not a bridge record: {error}") from None


def decode_record(
    kind: CallbackKind, value: bytes, headers: Sequence[tuple[str, bytes]]
) -> Received[Any]:
    """A record of `kind`'s topic, typed. Unknown fields of the value are ignored.

    Key names with stray whitespace (the vendor's `"videoId "`) are read as
    the bridge reads them.
    """
    try:
        return Received(cloud_event(headers), kind.item.decode(value))
    except msgspec.ValidationError as error:
        raise ContractError(f"Not a {kind.name} record: {error}") from None


def decode_video_record(value: bytes, headers: Sequence[tuple[str, bytes]]) -> VideoUploaded:
    """A record of the video topic, typed. Unknown fields of the value are ignored."""
    try:
        return VideoUploaded(cloud_event(headers), VIDEO_UPLOAD.item.decode(value))
    except msgspec.ValidationError as error:
        raise ContractError(f"Not a video: {error}") from None


def decode_material_record(value: bytes, headers: Sequence[tuple[str, bytes]]) -> MaterialUploaded:
    try:
        return MaterialUploaded(cloud_event(headers), MATERIAL_UPLOAD.item.decode(value))
    except msgspec.ValidationError as error:
        raise ContractError(f"Not a material: {error}") from None


# -- published documents -------------------------------------------------------------


def value_schema(kind: CallbackKind) -> dict[str, Any]:
    """The JSON Schema (2020-12) of a record value of `kind`."""
    generated: dict[str, Any] = msgspec.json.schema(kind.item_type)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **generated}


_CLOUD_EVENT_HEADERS: dict[str, tuple[str, dict[str, Any]]] = {
    "ce_specversion": ("CloudEvents version: always 1.0.", {"const": "1.0"}),
    "ce_id": (
        "Digest of the value bytes: a resent identical item gets the same id. Drop duplicates "
        "by it.",
        {"pattern": "^[0-9a-f]{32}$"},
    ),
    "ce_source": ("Where the event comes from (BRIDGE_EVENT_SOURCE).", {}),
    "ce_type": ("The event type.", {}),
    "ce_time": ("When the bridge received the callback, RFC 3339 in UTC.", {"format": "date-time"}),
    "ce_subject": ("The record key (each channel says which field).", {"minLength": 1}),
    "content-type": ("Always application/json.", {"const": "application/json"}),
    "traceparent": ("W3C trace context of the callback request, when it carried one.", {}),
    "ce_origin": (
        "CloudEvents extension: `reconciliation` when `bridge reconcile` produced the record "
        "from the video API because no callback had brought it; absent on the callback path.",
        {"const": "reconciliation"},
    ),
}
_OPTIONAL_HEADERS = ("traceparent", "ce_origin")

_DEAD_LETTER_HEADERS = {
    "dlq_reason": "Why the input could not be forwarded, with the JSON path of the fault.",
    "dlq_path": "JSON path of the fault, when there is one.",
    "dlq_route": "The route that received it, e.g. /callbacks/video-upload.",
    "dlq_received_at": "When it was received, RFC 3339 in UTC.",
    "dlq_status": "The HTTP status answered (200 for an item of a partly accepted callback).",
    "dlq_scope": (
        "`body`: the whole request body as received (Base64 if it was sent so); `item`: one "
        "element of the callback's list."
    ),
    "content-type": "The request's Content-Type, as sent.",
    "dlq_request_id": "The request id (X-Request-ID), to find the request in the logs.",
    "traceparent": "W3C trace context of the request, when it carried one.",
    "dlq_replay_of": "On replay markers only: the partition:offset of the replayed dead letter.",
}


def _headers_schema(descriptions: dict[str, str], extra: dict[str, dict[str, Any]]) -> Any:
    return {
        "type": "object",
        "properties": {
            name: {"type": "string", "description": text, **extra.get(name, {})}
            for name, text in descriptions.items()
        },
    }


def _event_message(kind: CallbackKind) -> dict[str, Any]:
    headers = _headers_schema(
        {name: text for name, (text, _) in _CLOUD_EVENT_HEADERS.items()},
        {name: rule for name, (_, rule) in _CLOUD_EVENT_HEADERS.items()},
    )
    headers["properties"]["ce_type"]["const"] = kind.event_type
    headers["required"] = [name for name in _CLOUD_EVENT_HEADERS if name not in _OPTIONAL_HEADERS]
    name = kind.item_type.__name__
    return {
        "name": kind.event_type,
        "title": " ".join(kind.event_type.split(".")[-2:]).capitalize(),
        "contentType": "application/json",
        "headers": headers,
        "payload": {"$ref": f"#/components/schemas/{name}"},
        "bindings": {
            "kafka": {
                "key": {
                    "type": "string",
                    "description": f"The {kind.key_field} of the value, UTF-8.",
                },
                "bindingVersion": "0.5.0",
            }
        },
    }


def asyncapi(settings: Settings | None = None) -> dict[str, Any]:
    """An AsyncAPI 3 document describing every topic the bridge writes."""
    settings = settings or Settings()
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for kind in KINDS:
        channel = _camel(kind.name)
        message = _message_name(kind)
        messages[message] = _event_message(kind)
        generated = msgspec.json.schema(kind.item_type)
        schemas.update(generated["$defs"])
        channels[channel] = {
            "address": kind.topic_of(settings),
            "title": f"{kind.title}s",
            "description": (
                f"Records of the {kind.title}s posted to {kind.route}, keyed by {kind.key_field}; "
                f"each value is {kind.layout.described} exactly as the platform sent it (the "
                "decoded bytes when it sent URL-safe Base64). Records with the same key go to "
                "the same partition (murmur2, as the Java client), so each key's records are in "
                "order. Delivery is at least once: a callback the platform resends, or one the "
                "bridge answered 503 but Kafka still stored, appears again with the same value "
                "and the same ce_id."
            ),
            "messages": {message: {"$ref": f"#/components/messages/{message}"}},
        }
        operations[f"receive{channel[0].upper()}{channel[1:]}"] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{channel}"},
            "summary": f"Subscribe with your own consumer group to get every {kind.title}.",
        }
    messages["deadLetter"] = {
        "name": "dead-letter",
        "title": "Input the bridge could not forward",
        "contentType": "application/octet-stream",
        "description": "The raw bytes as received: a whole body, or one item of a callback.",
        "headers": _headers_schema(_DEAD_LETTER_HEADERS, {}),
        "payload": {"type": "string", "description": "The raw bytes as received."},
        "bindings": {"kafka": {"key": {"type": "null"}, "bindingVersion": "0.5.0"}},
    }
    channels["deadLetters"] = {
        "address": settings.topic_dlq,
        "title": "Dead letters",
        "description": (
            "Authentic input that could not be forwarded: not JSON, wrong content type, wrong "
            "shape, or items without a valid key. Inspect with `bridge dlq list`, resend with "
            "`bridge dlq replay`."
        ),
        "messages": {"deadLetter": {"$ref": "#/components/messages/deadLetter"}},
    }
    operations["receiveDeadLetters"] = {
        "action": "receive",
        "channel": {"$ref": "#/channels/deadLetters"},
        "summary": "Watch what could not be forwarded.",
    }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Video callback bridge topics",
            "version": __version__,
            "description": (
                "Records produced from CDNetworks Cloud VoD callbacks and media-processing "
                "notifications. Headers follow the "
                "CloudEvents Kafka protocol binding in binary mode. Topic names are the defaults "
                "and can be changed per deployment."
            ),
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }


def _message_name(kind: CallbackKind) -> str:
    """`videoUploaded` for `com.cdnetworks.cloudvod.video.uploaded`."""
    noun, verb = kind.event_type.split(".")[-2:]
    return noun + verb.capitalize()


def _camel(name: str) -> str:
    first, *rest = name.split("-")
    return first + "".join(part.capitalize() for part in rest)


def documents() -> dict[str, bytes]:
    """The published files, by name, as committed under docs/contract/."""
    files = {"asyncapi.json": asyncapi()}
    for kind in KINDS:
        files[f"{kind.name}.schema.json"] = value_schema(kind)
    return {
        name: msgspec.json.format(msgspec.json.encode(doc), indent=2) + b"\n"
        for name, doc in files.items()
    }
