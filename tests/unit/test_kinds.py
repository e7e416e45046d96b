"""The kind table, the two kinds that are not lists, and Base64 bodies of every kind."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest
import yaml  # type: ignore[import-untyped]

from bridge.errors import NotJson, WrongShape
from bridge.http.app import topics_of
from bridge.kinds import KINDS, MEDIA_PROCESSING, VIDEO_TRANSCODE, VIDEO_UPLOAD, CallbackKind
from bridge.records import Context, decode_callback, records_for
from bridge.settings import Settings
from tests.platform_samples import (
    NOTIFICATION_BASE64,
    NOTIFICATION_JSON,
    PERSISTENT_ID,
    TRANSCODE_BASE64,
    TRANSCODE_JSON,
    TRANSCODE_UNQUOTED,
    TRANSCODED_VIDEO_ID,
    base64url,
    notification,
    object_at,
    whole_object,
)
from tests.samples import SAMPLE_VIDEO_IDS, VIDEO_SAMPLE

ROOT = Path(__file__).resolve().parents[2]
CONTEXT = Context("/callbacks/x", "2026-12-01T10:00:00.000Z", "/cdnetworks/cloud-vod")


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.name)
def test_each_kind_has_its_topic_setting_documented_and_in_the_chart(kind: CallbackKind) -> None:
    default = kind.topic_of(Settings())
    values = yaml.safe_load((ROOT / "helm" / "video-callback-bridge" / "values.yaml").read_text())

    assert default == f"vod.{kind.name}.v1"
    assert f"| `{kind.topic_variable}` | `{default}` |" in (ROOT / "README.md").read_text()
    assert values["config"][kind.topic_setting] == default
    assert f"`{kind.route}`" in (ROOT / "docs" / "consumers.md").read_text()


def test_start_up_checks_the_topic_of_every_kind() -> None:
    assert topics_of(Settings()) == [
        "vod.video-upload.v1",
        "vod.material-upload.v1",
        "vod.video-transcode.v1",
        "vod.media-processing.v1",
        "vod.callbacks.dlq.v1",
    ]


def test_kinds_have_distinct_names_topics_and_event_types() -> None:
    for attribute in ("name", "topic_setting", "event_type"):
        assert len({getattr(kind, attribute) for kind in KINDS}) == len(KINDS)


@pytest.mark.parametrize("body", [TRANSCODE_JSON, TRANSCODE_BASE64], ids=["json", "base64"])
def test_a_transcoding_callback_is_one_record_of_its_data_object(body: bytes) -> None:
    decoded = decode_callback(VIDEO_TRANSCODE, body)

    [item] = decoded.items
    assert decoded.faults == []
    assert item.key == TRANSCODED_VIDEO_ID  # from the docs' "videoId " with its space
    assert item.value == object_at(TRANSCODE_JSON, "data")
    [record] = records_for(VIDEO_TRANSCODE, decoded.items, "transcodes", CONTEXT)
    headers = dict(record.headers)
    assert headers["ce_type"] == b"com.cdnetworks.cloudvod.video.transcoded"
    assert headers["ce_subject"] == TRANSCODED_VIDEO_ID.encode()


@pytest.mark.parametrize("body", [NOTIFICATION_JSON, NOTIFICATION_BASE64], ids=["json", "base64"])
def test_a_processing_notification_is_one_record_of_the_whole_object(body: bytes) -> None:
    decoded = decode_callback(MEDIA_PROCESSING, body)

    [item] = decoded.items
    assert item.key == PERSISTENT_ID
    assert item.value == whole_object(NOTIFICATION_JSON)
    [record] = records_for(MEDIA_PROCESSING, decoded.items, "processing", CONTEXT)
    assert dict(record.headers)["ce_type"] == b"com.cdnetworks.media.processing.notified"


@pytest.mark.parametrize(
    "separate",
    [0, "0", 1, "1"],
)
def test_both_separate_forms_are_forwarded(separate: object) -> None:
    item = {"cmd": "avthumb/mp4", "code": 3, "key": "out/a.mp4", "duration": 36.036}
    body = notification(separate=separate, items=[item])

    [forwarded] = decode_callback(MEDIA_PROCESSING, base64url(body, padded=False)).items

    assert (forwarded.key, forwarded.value) == (PERSISTENT_ID, body)


def test_the_unquoted_id_of_the_docs_is_not_json() -> None:
    with pytest.raises(NotJson) as caught:
        decode_callback(VIDEO_TRANSCODE, TRANSCODE_UNQUOTED)

    # The id is read as the number 9, and its second character is where the JSON breaks.
    where = TRANSCODE_UNQUOTED.index(TRANSCODED_VIDEO_ID.encode()) + 1
    assert caught.value.message == (
        f"Body is not valid JSON: JSON is malformed: expected ',' or '}}' (byte {where}); "
        "nor URL-safe Base64: byte 0 ('{') is not a URL-safe Base64 character"
    )


@pytest.mark.parametrize(
    ("kind", "body", "message", "path"),
    [
        (
            VIDEO_TRANSCODE,
            b'{"code":200,"data":[{"videoId":"v"}],"message":"success"}',
            "Expected `object`, got `array` - at `$.data`",
            "$.data",
        ),
        (
            VIDEO_TRANSCODE,
            b'{"code":200,"data":{"videoId":""}}',
            "Expected `str` of length >= 1 - at `$.data.videoId`",
            "$.data.videoId",
        ),
        (
            VIDEO_TRANSCODE,
            b'{"code":200,"message":"success"}',
            "Object missing required field `data` - at `$`",
            "$",
        ),
        (
            MEDIA_PROCESSING,
            b'{"code":3,"items":[]}',
            "Object missing required field `id` - at `$`",
            "$",
        ),
        (
            MEDIA_PROCESSING,
            b'{"id":"p-1","items":[{"cmd":7}]}',
            "Expected `str | null`, got `int` - at `$.items[0].cmd`",
            "$.items[0].cmd",
        ),
        (MEDIA_PROCESSING, b"[]", "Expected `object`, got `array` - at `$`", "$"),
    ],
    ids=["data-a-list", "empty-id", "no-data", "no-id", "wrong-type", "not-an-object"],
)
def test_wrong_shapes_name_the_json_path(
    kind: CallbackKind, body: bytes, message: str, path: str
) -> None:
    for sent in (body, base64url(body)):
        with pytest.raises(WrongShape) as caught:
            decode_callback(kind, sent)

        assert (caught.value.message, caught.value.path) == (message, path)


def test_a_base64_upload_gives_the_same_records_as_its_json() -> None:
    as_json = decode_callback(VIDEO_UPLOAD, VIDEO_SAMPLE)
    as_base64 = decode_callback(VIDEO_UPLOAD, base64url(VIDEO_SAMPLE, padded=False) + b"\n")

    assert as_base64 == as_json
    assert [item.key for item in as_base64.items] == SAMPLE_VIDEO_IDS


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            base64url(b'{"code":200,'),
            "Body is not valid JSON: JSON is malformed: invalid character (byte 0); "
            "nor URL-safe Base64 of JSON: decoded, Input data was truncated",
        ),
        (
            base64url(b'{"a":"\xff"}'),
            "Body is not valid JSON: JSON is malformed: invalid character (byte 0); "
            "nor URL-safe Base64 of JSON: decoded, invalid UTF-8 at byte 6",
        ),
        (
            b"eyJh+Ijox",
            "Body is not valid JSON: JSON is malformed: invalid character (byte 0); "
            "nor URL-safe Base64: byte 4 ('+') is not a URL-safe Base64 character",
        ),
    ],
    ids=["truncated-inside", "invalid-utf8-inside", "standard-alphabet"],
)
def test_neither_json_nor_base64_names_both_attempts(body: bytes, message: str) -> None:
    with pytest.raises(NotJson) as caught:
        decode_callback(VIDEO_UPLOAD, body)

    assert (caught.value.message, caught.value.status) == (message, 400)


def test_replay_bodies_decode_back_to_their_items() -> None:
    for kind, body in ((VIDEO_TRANSCODE, TRANSCODE_JSON), (MEDIA_PROCESSING, NOTIFICATION_JSON)):
        [item] = decode_callback(kind, body).items

        assert decode_callback(kind, kind.body_for([item.value])).items == [item]
    wrapped = json.loads(VIDEO_TRANSCODE.body_for([b'{"videoId":"v"}'], message="replay"))
    assert wrapped == {"code": 200, "data": {"videoId": "v"}, "message": "replay"}


def test_example_files_are_the_base64_of_their_json() -> None:
    assert TRANSCODE_BASE64 == base64url(TRANSCODE_JSON) + b"\n"
    assert NOTIFICATION_BASE64 == base64url(NOTIFICATION_JSON) + b"\n"
    assert msgspec.json.decode(TRANSCODE_JSON)["data"]["videoId "] == TRANSCODED_VIDEO_ID


def test_the_local_cluster_creates_every_default_topic_of_the_bridge() -> None:
    """`make kafka-cluster-up` makes the topics a bridge with bridge.env starts on."""
    script = (Path(__file__).resolve().parents[2] / "deploy/kafka/cluster.sh").read_text()
    listed = script.split("${KAFKA_CLUSTER_TOPICS:-", 1)[1].split("}", 1)[0].split(",")
    defaults = Settings()

    assert listed == [
        *(getattr(defaults, kind.topic_setting) for kind in KINDS),
        defaults.topic_dlq,
    ]
