"""The HTTP layer with a recording stand-in for Kafka; tests/e2e/test_callbacks.py has Kafka."""

import asyncio
import json
import re
from collections.abc import AsyncIterator

import httpx
import pytest

from bridge.http.app import Bridge
from bridge.settings import Settings
from tests.fakes import BlockingPublisher, RecordingPublisher, client_of
from tests.samples import (
    SAMPLE_CE_IDS,
    SAMPLE_VIDEO_IDS,
    VIDEO_SAMPLE,
    item_slices,
    sample_video,
    success_answer,
    video_body,
)

SETTINGS = Settings(max_body_bytes=64 * 1024, retry_after_seconds=7, allow_unauthenticated=True)
JSON = {"content-type": "application/json"}


@pytest.fixture
def publisher() -> RecordingPublisher:
    return RecordingPublisher()


@pytest.fixture
async def client(publisher: RecordingPublisher) -> AsyncIterator[httpx.AsyncClient]:
    async with client_of(Bridge(SETTINGS, publisher)) as client:
        yield client


async def test_vendor_sample_is_answered_200_after_both_records_are_stored(
    client: httpx.AsyncClient, publisher: RecordingPublisher
) -> None:
    response = await client.post("/callbacks/video-upload", content=VIDEO_SAMPLE, headers=JSON)

    assert response.status_code == 200
    assert response.json() == success_answer(2)
    stored = publisher.on("vod.video-upload.v1")
    assert [record.key for record in stored] == [key.encode() for key in SAMPLE_VIDEO_IDS]
    assert [record.value for record in stored] == item_slices(VIDEO_SAMPLE, "videoListInfo")
    assert publisher.on("vod.callbacks.dlq.v1") == []


async def test_the_same_callback_twice_gives_the_same_event_ids(
    client: httpx.AsyncClient, publisher: RecordingPublisher
) -> None:
    for _ in range(2):
        await client.post("/callbacks/video-upload", content=VIDEO_SAMPLE, headers=JSON)

    ids = [dict(record.headers)["ce_id"] for record in publisher.records]
    assert ids == SAMPLE_CE_IDS * 2


async def test_token_in_path_reaches_the_same_handler(
    client: httpx.AsyncClient, publisher: RecordingPublisher
) -> None:
    response = await client.post(
        "/callbacks/video-upload/some-token", content=VIDEO_SAMPLE, headers=JSON
    )

    assert response.status_code == 200
    assert len(publisher.records) == 2


async def test_partial_acceptance_forwards_valid_items_and_dead_letters_the_rest(
    client: httpx.AsyncClient, publisher: RecordingPublisher
) -> None:
    body = video_body(sample_video(), sample_video(videoId=None))

    response = await client.post("/callbacks/video-upload", content=body, headers=JSON)

    assert response.status_code == 200
    assert response.json() == {
        **success_answer(1, dead_lettered=1),
        "errors": [
            {
                "path": "$.data.videoListInfo[1]",
                "message": "Object missing required field `videoId` - at `$.data.videoListInfo[1]`",
            }
        ],
    }
    assert len(publisher.on("vod.video-upload.v1")) == 1
    [letter] = publisher.on("vod.callbacks.dlq.v1")
    assert letter.value == item_slices(body, "videoListInfo")[1]
    assert dict(letter.headers)["dlq_scope"] == b"item"


async def test_not_json_is_400_and_the_raw_body_is_dead_lettered(
    client: httpx.AsyncClient, publisher: RecordingPublisher
) -> None:
    response = await client.post("/callbacks/video-upload", content=b"{oops", headers=JSON)

    assert response.status_code == 400
    assert response.json() == {
        "code": 400,
        "message": "Body is not valid JSON: JSON is malformed: "
        "object keys must be strings (byte 1); "
        "nor URL-safe Base64: byte 0 ('{') is not a URL-safe Base64 character",
    }
    [letter] = publisher.records
    assert (letter.topic, letter.value) == ("vod.callbacks.dlq.v1", b"{oops")
    headers = dict(letter.headers)
    assert headers["dlq_status"] == b"400"
    assert headers["dlq_scope"] == b"body"
    assert headers["dlq_route"] == b"/callbacks/video-upload"
    assert headers["content-type"] == b"application/json"


async def test_wrong_shape_is_422_with_the_json_path(
    client: httpx.AsyncClient, publisher: RecordingPublisher
) -> None:
    body = video_body(sample_video(videoId=""))

    response = await client.post("/callbacks/video-upload", content=body, headers=JSON)

    assert response.status_code == 422
    assert response.json() == {
        "code": 422,
        "message": "Expected `str` of length >= 1 - at `$.data.videoListInfo[0].videoId`",
        "path": "$.data.videoListInfo[0].videoId",
    }
    [letter] = publisher.records
    assert letter.value == body
    assert dict(letter.headers)["dlq_path"] == b"$.data.videoListInfo[0].videoId"


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "text/html", None])
async def test_wrong_content_type_is_415_and_dead_lettered(
    client: httpx.AsyncClient, publisher: RecordingPublisher, content_type: str | None
) -> None:
    headers = {} if content_type is None else {"content-type": content_type}

    response = await client.post("/callbacks/video-upload", content=VIDEO_SAMPLE, headers=headers)

    assert response.status_code == 415
    assert response.json()["message"] == (
        f"Content-Type must be application/json or text/plain, got {content_type or 'none'}"
    )
    [letter] = publisher.records
    assert letter.value == VIDEO_SAMPLE


@pytest.mark.parametrize(
    "content_type", ["application/json; charset=utf-8", "Application/JSON;charset=UTF-8"]
)
async def test_json_with_charset_is_accepted(client: httpx.AsyncClient, content_type: str) -> None:
    response = await client.post(
        "/callbacks/video-upload", content=VIDEO_SAMPLE, headers={"content-type": content_type}
    )

    assert response.status_code == 200


async def test_body_over_the_limit_is_413_and_nothing_is_written(
    client: httpx.AsyncClient, publisher: RecordingPublisher
) -> None:
    big = video_body(*[sample_video(videoId=f"v{i}") for i in range(80)])
    assert len(big) > SETTINGS.max_body_bytes

    response = await client.post("/callbacks/video-upload", content=big, headers=JSON)

    assert response.status_code == 413
    assert response.json()["message"] == (
        f"Body of {len(big)} bytes exceeds the limit of 65536 bytes"
    )
    assert publisher.records == []


async def test_streamed_body_over_the_limit_is_413(
    client: httpx.AsyncClient, publisher: RecordingPublisher
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(100):
            yield b" " * 1024

    response = await client.post("/callbacks/video-upload", content=chunks(), headers=JSON)

    assert response.status_code == 413
    assert response.json()["message"] == "Body exceeds the limit of 65536 bytes"
    assert publisher.records == []


async def test_kafka_unavailable_is_503_with_retry_after(
    client: httpx.AsyncClient, publisher: RecordingPublisher
) -> None:
    publisher.refuse_with = "Kafka did not acknowledge within 10 s"

    response = await client.post("/callbacks/video-upload", content=VIDEO_SAMPLE, headers=JSON)

    assert response.status_code == 503
    assert response.headers["retry-after"] == "7"
    assert response.json() == {"code": 503, "message": "Kafka did not acknowledge within 10 s"}


async def test_bad_input_while_kafka_is_unavailable_is_503_not_4xx(
    client: httpx.AsyncClient, publisher: RecordingPublisher
) -> None:
    """A 4xx would tell the sender to give up on bytes the bridge could not keep."""
    publisher.refuse_with = "Not connected to Kafka yet; retry later"

    response = await client.post("/callbacks/video-upload", content=b"{oops", headers=JSON)

    assert response.status_code == 503


async def test_material_callback_goes_to_its_own_topic(
    client: httpx.AsyncClient, publisher: RecordingPublisher
) -> None:
    body = json.dumps(
        {
            "code": 200,
            "data": {"materialList": [{"id": "m-1", "fileSize": 10}], "total": "1"},
            "message": "success",
        }
    ).encode()

    response = await client.post("/callbacks/material-upload", content=body, headers=JSON)

    assert response.status_code == 200
    [record] = publisher.on("vod.material-upload.v1")
    assert record.key == b"m-1"


async def test_health_and_readiness(
    client: httpx.AsyncClient, publisher: RecordingPublisher
) -> None:
    assert (await client.get("/healthz")).status_code == 200
    assert (await client.get("/readyz")).status_code == 200

    publisher.ready = False

    response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"code": 503, "message": "not ready: not connected to Kafka"}


async def test_wrong_method_and_unknown_route(client: httpx.AsyncClient) -> None:
    assert (await client.get("/callbacks/video-upload")).status_code == 405
    assert (await client.post("/callbacks/unknown", content=b"{}", headers=JSON)).status_code == 404


async def test_a_flood_beyond_the_in_flight_bound_gets_503_never_500() -> None:
    publisher = BlockingPublisher()
    bridge = Bridge(
        Settings(allow_unauthenticated=True, max_requests_in_flight=4, retry_after_seconds=3),
        publisher,
    )
    async with client_of(bridge) as client:

        async def send() -> httpx.Response:
            return await client.post("/callbacks/video-upload", content=VIDEO_SAMPLE, headers=JSON)

        held = [asyncio.create_task(send()) for _ in range(4)]
        async with publisher.arrived:
            await publisher.arrived.wait_for(lambda: publisher.waiting == 4)
        refused = await asyncio.gather(*(send() for _ in range(6)))
        publisher.release.set()
        admitted = await asyncio.gather(*held)

    assert [r.status_code for r in admitted] == [200] * 4
    assert [r.status_code for r in refused] == [503] * 6
    assert refused[0].headers["retry-after"] == "3"
    assert refused[0].json() == {
        "code": 503,
        "message": "More than 4 callbacks in flight; retry later",
    }
    assert bridge.gate.inside == 0


async def test_draining_answers_503_and_is_not_ready(publisher: RecordingPublisher) -> None:
    bridge = Bridge(SETTINGS, publisher)
    async with client_of(bridge) as client:
        bridge.drain()

        callback = await client.post("/callbacks/video-upload", content=VIDEO_SAMPLE, headers=JSON)
        ready = await client.get("/readyz")

    assert callback.status_code == 503
    assert callback.json() == {"code": 503, "message": "Shutting down; retry later"}
    assert ready.status_code == 503
    assert ready.json() == {"code": 503, "message": "not ready: shutting down"}
    assert publisher.records == []


async def test_metrics_count_what_happened(publisher: RecordingPublisher) -> None:
    bridge = Bridge(SETTINGS, publisher)
    async with client_of(bridge) as client:
        await client.post("/callbacks/video-upload", content=VIDEO_SAMPLE, headers=JSON)
        partial = video_body(sample_video(), sample_video(videoId=None))
        await client.post("/callbacks/video-upload", content=partial, headers=JSON)
        await client.post("/callbacks/video-upload", content=b"nope", headers=JSON)
        exposition = (await client.get("/metrics")).text

    sample = bridge.metrics.registry.get_sample_value
    assert (
        sample("bridge_http_requests_total", {"route": "/callbacks/video-upload", "status": "200"})
        == 2
    )
    assert (
        sample("bridge_http_requests_total", {"route": "/callbacks/video-upload", "status": "400"})
        == 1
    )
    assert (
        sample(
            "bridge_records_dead_lettered_total",
            {"route": "/callbacks/video-upload", "scope": "item"},
        )
        == 1
    )
    assert (
        sample(
            "bridge_records_dead_lettered_total",
            {"route": "/callbacks/video-upload", "scope": "body"},
        )
        == 1
    )
    assert (
        sample("bridge_http_request_duration_seconds_count", {"route": "/callbacks/video-upload"})
        == 3
    )
    assert sample("bridge_http_requests_in_flight") == 0
    assert "bridge_http_requests_total" in exposition


async def test_request_id_is_taken_echoed_and_kept_with_dead_letters(
    client: httpx.AsyncClient, publisher: RecordingPublisher
) -> None:
    given = await client.post(
        "/callbacks/video-upload", content=b"nope", headers={**JSON, "X-Request-ID": "abc-123"}
    )
    made = await client.post("/callbacks/video-upload", content=VIDEO_SAMPLE, headers=JSON)

    assert given.headers["x-request-id"] == "abc-123"
    assert dict(publisher.records[0].headers)["dlq_request_id"] == b"abc-123"
    assert re.fullmatch(r"[0-9a-f]{12}-[0-9a-f]+", made.headers["x-request-id"])


async def test_a_body_that_never_finishes_gets_408() -> None:
    publisher = RecordingPublisher()
    bridge = Bridge(Settings(allow_unauthenticated=True, body_timeout_seconds=0.2), publisher)

    async def trickle() -> AsyncIterator[bytes]:
        yield b"{"
        await asyncio.Event().wait()  # the rest never comes
        yield b"}"  # pragma: no cover

    async with client_of(bridge) as client:
        response = await client.post("/callbacks/video-upload", content=trickle(), headers=JSON)

    assert response.status_code == 408
    assert response.json() == {"code": 408, "message": "Body not received within 0.2 s"}
    assert publisher.records == []
