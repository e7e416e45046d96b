"""The published contract: generated from the code, committed, and true to what is produced."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from bridge.contract import (
    ContractError,
    asyncapi,
    cloud_event,
    decode_record,
    decode_video_record,
    documents,
    value_schema,
)
from bridge.kinds import MATERIAL_UPLOAD, MEDIA_PROCESSING, VIDEO_TRANSCODE, VIDEO_UPLOAD
from bridge.records import Context, decode_callback, records_for
from bridge.wire.processing import ProcessingNotification
from bridge.wire.transcoding import TranscodedVideo
from tests.platform_samples import (
    NOTIFICATION_BASE64,
    NOTIFICATION_JSON,
    PERSISTENT_ID,
    TRANSCODE_BASE64,
    TRANSCODE_JSON,
    TRANSCODED_VIDEO_ID,
)
from tests.samples import VIDEO_SAMPLE, item_slices, sample_video

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = ROOT / "docs" / "contract"
ASYNCAPI_SCHEMA = ROOT / ".tools" / "share" / "asyncapi-3.0.0.json"


@pytest.mark.parametrize("name", sorted(documents()))
def test_committed_contract_matches_the_code(name: str) -> None:
    """Regenerate with `bridge schema --write docs/contract` when this fails."""
    assert (CONTRACT / name).read_bytes() == documents()[name]


def validator(kind: Any) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(value_schema(kind))


def test_schema_accepts_the_vendor_sample_items() -> None:
    for item in item_slices(VIDEO_SAMPLE, "videoListInfo"):
        validator(VIDEO_UPLOAD).validate(json.loads(item))


@pytest.mark.parametrize(
    "changes",
    [
        {"serverType": -1, "videoSize": 11153160},
        {"videoClassification": "null", "createTime": 1501578860},
        {"futureField": {"nested": [1]}},
        {"videoName": None, "videoResolutions": None},
    ],
)
def test_schema_accepts_the_quirks(changes: dict[str, object]) -> None:
    validator(VIDEO_UPLOAD).validate(sample_video(**changes) | changes)


@pytest.mark.parametrize(
    ("video", "message"),
    [
        (sample_video(videoId=None), "'videoId' is a required property"),
        (sample_video(videoId=""), "'' should be non-empty"),
        (sample_video(encrypt="0"), "'0' is not valid under any of the given schemas"),
    ],
)
def test_schema_rejects_what_the_bridge_rejects(video: dict[str, object], message: str) -> None:
    with pytest.raises(jsonschema.ValidationError) as caught:
        validator(VIDEO_UPLOAD).validate(video)

    assert caught.value.message == message


def test_asyncapi_document_is_valid_against_the_asyncapi_3_schema() -> None:
    assert ASYNCAPI_SCHEMA.exists(), "the AsyncAPI schema is not installed: run `make tools`"
    specification = json.loads(ASYNCAPI_SCHEMA.read_text())
    checker = jsonschema.Draft7Validator(specification)

    assert [error.message for error in checker.iter_errors(asyncapi())] == []
    broken = asyncapi()
    broken["channels"]["videoUpload"]["messages"] = "not a map"
    assert not checker.is_valid(broken)


def test_asyncapi_describes_every_topic_with_its_key_and_headers() -> None:
    document = asyncapi()

    assert document["asyncapi"] == "3.0.0"
    assert {name: channel["address"] for name, channel in document["channels"].items()} == {
        "videoUpload": "vod.video-upload.v1",
        "materialUpload": "vod.material-upload.v1",
        "videoTranscode": "vod.video-transcode.v1",
        "mediaProcessing": "vod.media-processing.v1",
        "deadLetters": "vod.callbacks.dlq.v1",
    }
    video = document["components"]["messages"]["videoUploaded"]
    assert video["payload"] == {"$ref": "#/components/schemas/Video"}
    assert video["bindings"]["kafka"]["key"]["type"] == "string"
    assert video["headers"]["properties"]["ce_type"]["const"] == (
        "com.cdnetworks.cloudvod.video.uploaded"
    )
    assert "Video" in document["components"]["schemas"]
    assert "VideoResolution" in document["components"]["schemas"]
    assert "at least once" in document["channels"]["videoUpload"]["description"]


def test_record_headers_satisfy_the_published_header_schema() -> None:
    decoded = decode_callback(VIDEO_UPLOAD, VIDEO_SAMPLE)
    context = Context(
        "/callbacks/video-upload", "2026-11-21T10:00:00.000Z", "/cdnetworks/cloud-vod"
    )
    headers_schema = asyncapi()["components"]["messages"]["videoUploaded"]["headers"]

    for record in records_for(VIDEO_UPLOAD, decoded.items, "t", context):
        headers = {name: value.decode() for name, value in record.headers}
        jsonschema.Draft202012Validator(headers_schema).validate(headers)


def test_typed_decoder_reads_value_and_headers() -> None:
    decoded = decode_callback(VIDEO_UPLOAD, VIDEO_SAMPLE)
    context = Context("/callbacks/video-upload", "2026-11-21T10:00:00.000Z", "/src")
    record = records_for(VIDEO_UPLOAD, decoded.items, "t", context)[0]

    uploaded = decode_video_record(record.value, record.headers)

    assert uploaded.video.video_id == "9B0F7BA8BCB9D056D4C24ADDBF821D10"
    assert uploaded.video.size == 11153160
    assert uploaded.video.duration == 36
    assert uploaded.video.uploaded_at is not None
    assert uploaded.video.uploaded_at.isoformat() == "2017-08-01T09:14:26+00:00"
    assert uploaded.video.category is None
    assert uploaded.video.video_resolutions is not None
    assert uploaded.video.video_resolutions[0].server_type == -1
    assert uploaded.event.id == dict(record.headers)["ce_id"].decode()
    assert uploaded.event.type == "com.cdnetworks.cloudvod.video.uploaded"
    assert uploaded.event.time == "2026-11-21T10:00:00.000Z"


def test_typed_decoder_refuses_a_record_without_cloudevents_headers() -> None:
    with pytest.raises(ContractError) as caught:
        cloud_event([("ce_id", b"x")])

    assert str(caught.value) == "Not a bridge record: Object missing required field `source`"


def test_material_schema_requires_the_id() -> None:
    with pytest.raises(jsonschema.ValidationError):
        validator(MATERIAL_UPLOAD).validate({"name": "logo"})
    validator(MATERIAL_UPLOAD).validate({"id": "m-1", "fileSize": 2048, "total": "x"})


@pytest.mark.parametrize(
    ("kind", "channel", "message", "schema", "event_type"),
    [
        (
            VIDEO_TRANSCODE,
            "videoTranscode",
            "videoTranscoded",
            "TranscodedVideo",
            "com.cdnetworks.cloudvod.video.transcoded",
        ),
        (
            MEDIA_PROCESSING,
            "mediaProcessing",
            "processingNotified",
            "ProcessingNotification",
            "com.cdnetworks.media.processing.notified",
        ),
    ],
)
def test_asyncapi_describes_the_kinds_that_are_not_lists(
    kind: Any, channel: str, message: str, schema: str, event_type: str
) -> None:
    document = asyncapi()

    described = document["components"]["messages"][message]
    assert described["payload"] == {"$ref": f"#/components/schemas/{schema}"}
    assert described["headers"]["properties"]["ce_type"]["const"] == event_type
    assert schema in document["components"]["schemas"]
    assert document["channels"][channel]["messages"] == {
        message: {"$ref": f"#/components/messages/{message}"}
    }
    assert (
        f"each value is {kind.layout.described} exactly as"
        in (document["channels"][channel]["description"])
    )


def test_schemas_accept_the_examples_and_name_the_documented_enums() -> None:
    data = json.loads(TRANSCODE_JSON)["data"]
    data["videoId"] = data.pop("videoId ")  # the schema gives names without whitespace
    validator(VIDEO_TRANSCODE).validate(data)
    validator(MEDIA_PROCESSING).validate(json.loads(NOTIFICATION_JSON))
    validator(MEDIA_PROCESSING).validate({"id": "p", "code": 7, "separate": "2"})  # undocumented

    properties = value_schema(MEDIA_PROCESSING)["$defs"]["ProcessingNotification"]["properties"]
    assert properties["code"]["description"] == (
        "Documented values: 1 (SOME_RUNNING), 2 (SOME_FAILED), 3 (ALL_SUCCEEDED). "
        "Other values are accepted."
    )
    assert properties["separate"]["description"] == (
        "Documented values: '0' (ONE_NOTIFICATION), '1' (ONE_OF_SEVERAL). "
        "Other values are accepted."
    )
    url = value_schema(VIDEO_TRANSCODE)["$defs"]["VideoUrl"]["properties"]["urlType"]
    assert url["description"] == "Documented values: 'PC' (PC). Other values are accepted."
    with pytest.raises(jsonschema.ValidationError) as caught:
        validator(MEDIA_PROCESSING).validate({"code": 3})
    assert caught.value.message == "'id' is a required property"


def test_typed_decoders_read_every_kind_with_the_docs_padded_key() -> None:
    context = Context("/callbacks/video-transcode", "2026-12-01T10:00:00.000Z", "/src")
    [item] = decode_callback(VIDEO_TRANSCODE, TRANSCODE_BASE64).items
    [record] = records_for(VIDEO_TRANSCODE, [item], "t", context)

    transcoded = decode_record(VIDEO_TRANSCODE, record.value, record.headers)

    assert isinstance(transcoded.value, TranscodedVideo)
    assert transcoded.value.video_id == TRANSCODED_VIDEO_ID
    assert transcoded.value.video_url is not None
    assert [url.url_type for url in transcoded.value.video_url] == ["PC", "mobile"]
    assert transcoded.event.type == "com.cdnetworks.cloudvod.video.transcoded"
    [item] = decode_callback(MEDIA_PROCESSING, NOTIFICATION_BASE64).items
    [record] = records_for(MEDIA_PROCESSING, [item], "t", context)
    notified = decode_record(MEDIA_PROCESSING, record.value, record.headers)
    assert isinstance(notified.value, ProcessingNotification)
    assert (notified.value.id, notified.value.code, notified.value.separate) == (
        PERSISTENT_ID,
        3,
        0,
    )
    assert notified.value.items is not None
    assert notified.value.items[0].cost_time == 21
    with pytest.raises(ContractError) as caught:
        decode_record(MEDIA_PROCESSING, b'{"code":3}', record.headers)
    assert str(caught.value) == (
        "Not a media-processing record: Object missing required field `id`"
    )
