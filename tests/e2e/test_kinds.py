"""The transcoding and processing kinds, and Base64 bodies: `bridge serve` and a real broker.

One bridge serves the whole module; each test reads only the records that
arrived after it started (by offset), so the counts are exact.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.kafka_tools import read_all
from tests.platform_samples import (
    NOTIFICATION_BASE64,
    PERSISTENT_ID,
    TRANSCODE_BASE64,
    TRANSCODE_JSON,
    TRANSCODE_UNQUOTED,
    TRANSCODED_VIDEO_ID,
    base64url,
    notification,
    object_at,
)
from tests.samples import (
    SAMPLE_VIDEO_IDS,
    VIDEO_SAMPLE,
    item_slices,
    sample_video,
    success_answer,
)
from tests.servers import BridgeProcess, fresh_settings

pytestmark = pytest.mark.kafka

SOURCE = "/cdnetworks/cloud-vod"


@pytest.fixture(scope="module")
def bridge(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BridgeProcess]:
    settings = fresh_settings(kafka_bootstrap, allow_unauthenticated="true", topic_partitions="3")
    log = tmp_path_factory.mktemp("kinds") / "bridge.log"
    with BridgeProcess(log, **settings) as process:
        yield process


class Topic:
    """A topic's records from the moment this was made on."""

    def __init__(self, bridge: BridgeProcess, bootstrap: str, variable: str) -> None:
        self.name = bridge.env[variable]
        self.bootstrap = bootstrap
        self.seen: set[tuple[int, int]] = set()

    async def start(self) -> Topic:
        self.seen = {(r.partition, r.offset) for r in await read_all(self.bootstrap, self.name)}
        return self

    async def new(self) -> list[Any]:
        records = await read_all(self.bootstrap, self.name)
        return [r for r in records if (r.partition, r.offset) not in self.seen]


async def topic(bridge: BridgeProcess, bootstrap: str, variable: str) -> Topic:
    return await Topic(bridge, bootstrap, variable).start()


async def post(
    bridge: BridgeProcess, route: str, body: bytes, content_type: str = "application/json"
) -> httpx.Response:
    async with httpx.AsyncClient(base_url=bridge.url, timeout=30) as client:
        return await client.post(route, content=body, headers={"content-type": content_type})


def digest(value: bytes) -> bytes:
    """The ce_id the contract promises: BLAKE2b-128 of the value bytes, in hex, from
    coreutils' `b2sum` rather than from the code under test."""
    done = subprocess.run(
        ["b2sum", "--length", "128"],  # noqa: S607
        input=value,
        capture_output=True,
        check=True,
    )
    return done.stdout.split()[0]


def assert_event(record: Any, *, key: str, value: bytes, event_type: str) -> None:
    headers = dict(record.headers)
    assert (record.key, record.value) == (key.encode(), value)
    assert headers["ce_id"] == digest(value)
    assert headers["ce_type"] == event_type.encode()
    assert headers["ce_subject"] == key.encode()
    assert headers["ce_source"] == SOURCE.encode()
    assert headers["ce_specversion"] == b"1.0"
    assert headers["content-type"] == b"application/json"
    assert set(headers) == {
        "ce_id",
        "ce_type",
        "ce_subject",
        "ce_source",
        "ce_specversion",
        "ce_time",
        "content-type",
    }


@pytest.mark.parametrize(
    ("body", "content_type"),
    [(TRANSCODE_JSON, "application/json"), (TRANSCODE_BASE64, "text/plain; charset=UTF-8")],
    ids=["json", "base64"],
)
async def test_a_transcoding_callback_is_one_record_keyed_by_the_docs_padded_video_id(
    bridge: BridgeProcess, kafka_bootstrap: str, body: bytes, content_type: str
) -> None:
    transcodes = await topic(bridge, kafka_bootstrap, "BRIDGE_TOPIC_VIDEO_TRANSCODE")

    response = await post(bridge, "/callbacks/video-transcode", body, content_type)

    assert (response.status_code, response.json()) == (200, success_answer(1))
    [record] = await transcodes.new()
    assert_event(
        record,
        key=TRANSCODED_VIDEO_ID,
        value=object_at(TRANSCODE_JSON, "data"),  # with its "videoId " as sent
        event_type="com.cdnetworks.cloudvod.video.transcoded",
    )


async def test_processing_notifications_in_both_separate_forms(
    bridge: BridgeProcess, kafka_bootstrap: str
) -> None:
    processing = await topic(bridge, kafka_bootstrap, "BRIDGE_TOPIC_MEDIA_PROCESSING")
    first: dict[str, object] = {
        "cmd": "avthumb/mp4",
        "code": 3,
        "key": "out/a.mp4",
        "fsize": 5064917,
    }
    second: dict[str, object] = {
        "cmd": "avthumb/m3u8",
        "code": "3",
        "key": "out/b.m3u8",
        "duration": "36.036",
    }
    # separate=0: one notification for the batch; separate=1: one per video.
    once = notification(id="p-once", separate=0, items=[first, second])
    each = [
        notification(id=f"p-each-{n}", separate="1", items=[i])
        for n, i in enumerate([first, second])
    ]

    answers = [
        await post(bridge, "/callbacks/media-processing", base64url(once), "text/plain"),
        *[
            await post(bridge, "/callbacks/media-processing", base64url(one, padded=False) + b"\n")
            for one in each
        ],
    ]

    assert [(a.status_code, a.json()) for a in answers] == [(200, success_answer(1))] * 3
    records = sorted(await processing.new(), key=lambda record: record.key)
    assert [record.key for record in records] == [b"p-each-0", b"p-each-1", b"p-once"]
    for record, value in zip(records, [*each, once], strict=True):
        assert_event(
            record,
            key=record.key.decode(),
            value=value,
            event_type="com.cdnetworks.media.processing.notified",
        )


async def test_the_docs_unquoted_example_is_400_and_kept_byte_for_byte(
    bridge: BridgeProcess, kafka_bootstrap: str
) -> None:
    transcodes = await topic(bridge, kafka_bootstrap, "BRIDGE_TOPIC_VIDEO_TRANSCODE")
    letters = await topic(bridge, kafka_bootstrap, "BRIDGE_TOPIC_DLQ")

    response = await post(bridge, "/callbacks/video-transcode", TRANSCODE_UNQUOTED)

    where = TRANSCODE_UNQUOTED.index(TRANSCODED_VIDEO_ID.encode()) + 1
    assert (response.status_code, response.json()) == (
        400,
        {
            "code": 400,
            "message": f"Body is not valid JSON: JSON is malformed: expected ',' or '}}' (byte "
            f"{where}); nor URL-safe Base64: byte 0 ('{{') is not a URL-safe Base64 character",
        },
    )
    [letter] = await letters.new()
    assert letter.value == TRANSCODE_UNQUOTED
    headers = dict(letter.headers)
    assert (headers["dlq_route"], headers["dlq_status"], headers["dlq_scope"]) == (
        b"/callbacks/video-transcode",
        b"400",
        b"body",
    )
    assert await transcodes.new() == []
    async with httpx.AsyncClient(base_url=bridge.url, timeout=30) as client:
        metrics = (await client.get("/metrics")).text
    assert (
        'bridge_records_dead_lettered_total{route="/callbacks/video-transcode",scope="body"} 1.0'
        in metrics
    )


async def test_a_base64_upload_gives_the_same_records_as_its_json(
    bridge: BridgeProcess, kafka_bootstrap: str
) -> None:
    videos = await topic(bridge, kafka_bootstrap, "BRIDGE_TOPIC_VIDEO_UPLOAD")

    as_json = await post(bridge, "/callbacks/video-upload", VIDEO_SAMPLE)
    as_json_records = await videos.new()
    videos.seen |= {(r.partition, r.offset) for r in as_json_records}
    as_base64 = await post(bridge, "/callbacks/video-upload", base64url(VIDEO_SAMPLE))

    assert as_json.json() == as_base64.json() == success_answer(2)

    def by_key(records: list[Any]) -> list[tuple[bytes, bytes, bytes]]:
        return sorted((r.key, r.value, dict(r.headers)["ce_id"]) for r in records)

    expected = sorted(
        (key.encode(), value, digest(value))
        for key, value in zip(
            SAMPLE_VIDEO_IDS, item_slices(VIDEO_SAMPLE, "videoListInfo"), strict=True
        )
    )
    assert by_key(as_json_records) == by_key(await videos.new()) == expected


async def test_a_dead_lettered_base64_body_is_kept_as_received(
    bridge: BridgeProcess, kafka_bootstrap: str
) -> None:
    letters = await topic(bridge, kafka_bootstrap, "BRIDGE_TOPIC_DLQ")
    body = base64url(
        json.dumps({"code": 200, "data": {"videoListInfo": [sample_video(videoId="")]}}).encode()
    )

    response = await post(bridge, "/callbacks/video-upload", body)

    assert response.status_code == 422
    assert response.json()["path"] == "$.data.videoListInfo[0].videoId"
    [letter] = await letters.new()
    assert letter.value == body


def test_send_and_consume_by_kind_as_in_the_readme(bridge: BridgeProcess) -> None:
    sent = bridge.command(
        "send", "--kind", "media-processing", "examples/media-processing-notification.b64"
    )

    assert (sent.returncode, sent.stdout) == (
        0,
        f"200 {json.dumps(success_answer(1), separators=(',', ':'))}\n",
    )
    consumed = bridge.command(
        "consume",
        "--kind",
        "media-processing",
        "--from-beginning",
        "--key",
        PERSISTENT_ID,
        "--max-records",
        "1",
    )
    assert consumed.returncode == 0, consumed.stderr
    [line] = [json.loads(text) for text in consumed.stdout.splitlines()]
    assert line["topic"] == bridge.env["BRIDGE_TOPIC_MEDIA_PROCESSING"]
    assert line["value"] == json.loads(base64url_decoded(NOTIFICATION_BASE64))


def base64url_decoded(encoded: bytes) -> bytes:
    return subprocess.run(
        ["basenc", "--base64url", "--decode"], input=encoded, capture_output=True, check=True
    ).stdout
