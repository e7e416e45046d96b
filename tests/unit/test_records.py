import json

import msgspec
import pytest

from bridge.errors import NotJson, WrongShape
from bridge.kinds import MATERIAL_UPLOAD, VIDEO_UPLOAD
from bridge.records import (
    Context,
    dead_letters_for_faults,
    decode_callback,
    event_id,
    records_for,
)
from tests.samples import (
    SAMPLE_CE_IDS,
    SAMPLE_VIDEO_IDS,
    VIDEO_SAMPLE,
    item_slices,
    sample_video,
    video_body,
)

CONTEXT = Context(
    route="/callbacks/video-upload",
    received_at="2026-11-21T10:00:00.000Z",
    source="/cdnetworks/cloud-vod",
)


def test_vendor_sample_items_are_forwarded_as_the_exact_bytes_sent() -> None:
    decoded = decode_callback(VIDEO_UPLOAD, VIDEO_SAMPLE)

    assert [item.key for item in decoded.items] == SAMPLE_VIDEO_IDS
    assert [item.value for item in decoded.items] == item_slices(VIDEO_SAMPLE, "videoListInfo")
    assert decoded.faults == []


def test_records_carry_key_value_and_cloudevents_headers() -> None:
    decoded = decode_callback(VIDEO_UPLOAD, VIDEO_SAMPLE)
    traced = msgspec.structs.replace(
        CONTEXT, traceparent=b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    )

    first = records_for(VIDEO_UPLOAD, decoded.items, "videos", traced)[0]

    assert first.topic == "videos"
    assert first.key == b"9B0F7BA8BCB9D056D4C24ADDBF821D10"
    assert first.value == decoded.items[0].value
    assert dict(first.headers) == {
        "ce_id": SAMPLE_CE_IDS[0],
        "ce_subject": b"9B0F7BA8BCB9D056D4C24ADDBF821D10",
        "ce_specversion": b"1.0",
        "ce_type": b"com.cdnetworks.cloudvod.video.uploaded",
        "ce_source": b"/cdnetworks/cloud-vod",
        "ce_time": b"2026-11-21T10:00:00.000Z",
        "content-type": b"application/json",
        "traceparent": b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    }


def test_event_id_is_a_digest_of_the_value_bytes() -> None:
    # printf '{"videoId":"a"}' | b2sum -l 128, and with a space after the colon
    assert event_id(b'{"videoId":"a"}') == "a5aaecdd5a3ca3345f8704bcaea0eec7"
    assert event_id(b'{"videoId": "a"}') == "ff0068d3341dba6c1c12d831b27a807a"


@pytest.mark.parametrize(
    ("changes", "field", "value"),
    [
        (
            {"videoResolutions": [{"clarity": -99, "serverType": -1}]},
            "videoResolutions",
            [{"clarity": -99, "serverType": -1}],
        ),
        ({"videoClassification": "null"}, "videoClassification", "null"),
        ({"videoSize": "11153160"}, "videoSize", "11153160"),
        ({"videoSize": 11153160}, "videoSize", 11153160),
        ({"videoDuration": "36", "videoState": "0", "transcodeState": "5"}, "transcodeState", "5"),
        ({"uploadTime": "1501578866", "createTime": 1501578860}, "createTime", 1501578860),
        (
            {"imageUrl": "http://ovptest.haplat.net//live/x.jpg"},
            "imageUrl",
            "http://ovptest.haplat.net//live/x.jpg",
        ),
        ({"videoSourceCode": 99, "encrypt": 7}, "videoSourceCode", 99),
        ({"futureField": {"nested": [1, 2]}}, "futureField", {"nested": [1, 2]}),
        ({"videoName": None, "createUser": None}, "videoId", "9B0F7BA8BCB9D056D4C24ADDBF821D10"),
    ],
    ids=[
        "serverType-minus-one",
        "string-null",
        "number-as-string",
        "number-as-number",
        "states-as-strings",
        "times",
        "double-slash-url",
        "undocumented-enum-values",
        "unknown-field",
        "missing-optional-fields",
    ],
)
def test_vendor_quirks_are_accepted_and_kept(
    changes: dict[str, object], field: str, value: object
) -> None:
    body = video_body(sample_video(**changes))

    decoded = decode_callback(VIDEO_UPLOAD, body)

    assert decoded.faults == []
    assert json.loads(decoded.items[0].value)[field] == value


def test_item_without_video_id_is_a_fault_and_the_rest_is_forwarded() -> None:
    body = video_body(sample_video(), sample_video(videoId=None), sample_video(videoId="X2"))

    decoded = decode_callback(VIDEO_UPLOAD, body)

    assert [item.key for item in decoded.items] == ["9B0F7BA8BCB9D056D4C24ADDBF821D10", "X2"]
    [fault] = decoded.faults
    assert fault.path == "$.data.videoListInfo[1]"
    assert fault.message == (
        "Object missing required field `videoId` - at `$.data.videoListInfo[1]`"
    )
    assert fault.value == item_slices(body, "videoListInfo")[1]


@pytest.mark.parametrize(
    ("body", "message", "path"),
    [
        (
            video_body(sample_video(videoId="")),
            "Expected `str` of length >= 1 - at `$.data.videoListInfo[0].videoId`",
            "$.data.videoListInfo[0].videoId",
        ),
        (
            video_body(sample_video(videoId=12)),
            "Expected `str`, got `int` - at `$.data.videoListInfo[0].videoId`",
            "$.data.videoListInfo[0].videoId",
        ),
        (
            video_body(sample_video(encrypt="0")),
            "Expected `int | null`, got `str` - at `$.data.videoListInfo[0].encrypt`",
            "$.data.videoListInfo[0].encrypt",
        ),
        (
            video_body(sample_video(videoResolutions=[{"height": "768"}])),
            "Expected `int | null`, got `str` - at "
            "`$.data.videoListInfo[0].videoResolutions[0].height`",
            "$.data.videoListInfo[0].videoResolutions[0].height",
        ),
        (
            video_body("not an object"),  # type: ignore[arg-type]
            "Expected `object`, got `str` - at `$.data.videoListInfo[0]`",
            "$.data.videoListInfo[0]",
        ),
        (b'{"code":200,"message":"success"}', "Object missing required field `data` - at `$`", "$"),
        (
            b'{"code":200,"data":{"videoListInfo":{}}}',
            "Expected `array`, got `object` - at `$.data.videoListInfo`",
            "$.data.videoListInfo",
        ),
        (b"[]", "Expected `object`, got `array` - at `$`", "$"),
    ],
    ids=[
        "empty-id",
        "numeric-id",
        "wrong-type",
        "nested-wrong-type",
        "item-not-object",
        "no-data",
        "list-not-array",
        "not-an-object",
    ],
)
def test_wrong_shape_names_the_json_path(body: bytes, message: str, path: str) -> None:
    with pytest.raises(WrongShape) as caught:
        decode_callback(VIDEO_UPLOAD, body)

    assert caught.value.message == message
    assert caught.value.path == path
    assert caught.value.status == 422


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            b"not json",
            "Body is not valid JSON: JSON is malformed: invalid character (byte 4); "
            "nor URL-safe Base64: byte 3 (' ') is not a URL-safe Base64 character",
        ),
        (
            b'{"code":200,',
            "Body is not valid JSON: Input data was truncated; "
            "nor URL-safe Base64: byte 0 ('{') is not a URL-safe Base64 character",
        ),
        (
            b"",
            "Body is not valid JSON: Input data was truncated; "
            "nor URL-safe Base64: the body is empty",
        ),
        (
            b'{"a":"\xff"}',
            "Body is not valid JSON: invalid UTF-8 at byte 6; "
            "nor URL-safe Base64: byte 0 ('{') is not a URL-safe Base64 character",
        ),
        (
            b'{"data":{"videoListInfo":[{"videoId":"\xc3"}]}}',
            "Body is not valid JSON: invalid UTF-8 at byte 38; "
            "nor URL-safe Base64: byte 0 ('{') is not a URL-safe Base64 character",
        ),
    ],
)
def test_not_json_is_refused_with_the_reason(body: bytes, message: str) -> None:
    with pytest.raises(NotJson) as caught:
        decode_callback(VIDEO_UPLOAD, body)

    assert caught.value.message == message
    assert caught.value.status == 400


def test_empty_list_forwards_nothing() -> None:
    decoded = decode_callback(VIDEO_UPLOAD, video_body())

    assert decoded.items == []
    assert decoded.faults == []


def test_material_items_are_keyed_by_id() -> None:
    body = (
        b'{"code":200,"data":{"materialList":[{"id":"m-1","name":"logo","suffix":"png",'
        b'"fileSize":2048,"url":"http://x/logo.png","createUser":"u","createTime":1501578866}],'
        b'"total":"1"},"message":"success"}'
    )

    decoded = decode_callback(MATERIAL_UPLOAD, body)

    assert [item.key for item in decoded.items] == ["m-1"]
    assert decoded.items[0].value == item_slices(body, "materialList")[0]
    record = records_for(MATERIAL_UPLOAD, decoded.items, "materials", CONTEXT)[0]
    assert dict(record.headers)["ce_type"] == b"com.cdnetworks.cloudvod.material.uploaded"


def test_dead_letters_for_faulty_items_say_why_and_where() -> None:
    body = video_body(sample_video(), sample_video(videoId=None))
    decoded = decode_callback(VIDEO_UPLOAD, body)

    [letter] = dead_letters_for_faults(decoded.faults, topic="dlq", context=CONTEXT)

    assert letter.topic == "dlq"
    assert letter.key is None
    assert letter.value == item_slices(body, "videoListInfo")[1]
    assert dict(letter.headers) == {
        "dlq_reason": b"Object missing required field `videoId` - at `$.data.videoListInfo[1]`",
        "dlq_path": b"$.data.videoListInfo[1]",
        "dlq_route": b"/callbacks/video-upload",
        "dlq_received_at": b"2026-11-21T10:00:00.000Z",
        "dlq_status": b"200",
        "dlq_scope": b"item",
        "content-type": b"application/json",
    }
