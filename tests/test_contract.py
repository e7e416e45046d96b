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
    decode_video_record,
    documents,
    value_schema,
)
from bridge.kinds import MATERIAL_UPLOAD, VIDEO_UPLOAD
from bridge.records import Context, decode_callback, records_for
from tests.samples import VIDEO_SAMPLE, item_slices, sample_video

ROOT = Path(__file__).resolve().parents[1]
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
