"""The callback path end to end: `bridge serve` as a process, a real broker, records read back."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.broker import LocalBroker
from tests.kafka_tools import java_partition, read_all, unique_topic
from tests.samples import (
    SAMPLE_CE_IDS,
    SAMPLE_VIDEO_IDS,
    VIDEO_SAMPLE,
    item_slices,
    sample_video,
    success_answer,
    video_body,
)
from tests.servers import BridgeProcess

pytestmark = pytest.mark.kafka

JSON = {"content-type": "application/json"}


class Topics:
    def __init__(self) -> None:
        self.video = unique_topic("video")
        self.material = unique_topic("material")
        self.dlq = unique_topic("dlq")

    def settings(self, bootstrap: str) -> dict[str, str]:
        return {
            "kafka_bootstrap_servers": bootstrap,
            "topic_video_upload": self.video,
            "topic_material_upload": self.material,
            "topic_dlq": self.dlq,
            "create_topics": "true",
            "topic_partitions": "3",
            "allow_unauthenticated": "true",
        }


@pytest.fixture
def topics() -> Topics:
    return Topics()


@pytest.fixture
def bridge(kafka_bootstrap: str, topics: Topics, tmp_path: Path) -> Iterator[BridgeProcess]:
    with BridgeProcess(tmp_path / "bridge.log", **topics.settings(kafka_bootstrap)) as process:
        yield process


def headers_of(record: Any) -> dict[str, bytes]:
    return dict(record.headers)


async def post(
    bridge: BridgeProcess,
    body: bytes,
    route: str = "/callbacks/video-upload",
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    async with httpx.AsyncClient(base_url=bridge.url, timeout=30) as client:
        return await client.post(route, content=body, headers=headers or JSON)


async def test_vendor_sample_gives_two_records_exactly_as_sent(
    bridge: BridgeProcess, topics: Topics, kafka_bootstrap: str
) -> None:
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

    response = await post(bridge, VIDEO_SAMPLE, headers={**JSON, "traceparent": traceparent})

    assert response.status_code == 200
    assert response.json() == success_answer(2)
    records = sorted(await read_all(kafka_bootstrap, topics.video), key=lambda r: r.key)
    assert [record.key.decode() for record in records] == sorted(SAMPLE_VIDEO_IDS)
    by_key = {record.key.decode(): record for record in records}
    for video_id, value, ce_id in zip(
        SAMPLE_VIDEO_IDS, item_slices(VIDEO_SAMPLE, "videoListInfo"), SAMPLE_CE_IDS, strict=True
    ):
        record = by_key[video_id]
        assert record.value == value
        assert record.partition == java_partition(video_id.encode(), 3)  # the Java client's
        headers = headers_of(record)
        assert headers["ce_id"] == ce_id
        assert headers["ce_subject"] == video_id.encode()
        assert headers["ce_specversion"] == b"1.0"
        assert headers["ce_type"] == b"com.cdnetworks.cloudvod.video.uploaded"
        assert headers["ce_source"] == b"/cdnetworks/cloud-vod"
        assert headers["content-type"] == b"application/json"
        assert headers["traceparent"] == traceparent.encode()
        received = time.strptime(headers["ce_time"].decode(), "%Y-%m-%dT%H:%M:%S.%fZ")
        assert abs(time.mktime(received) - time.mktime(time.gmtime())) < 300
    assert await read_all(kafka_bootstrap, topics.dlq) == []


async def test_the_same_callback_sent_twice_gets_the_same_event_ids(
    bridge: BridgeProcess, topics: Topics, kafka_bootstrap: str
) -> None:
    for _ in range(2):
        assert (await post(bridge, VIDEO_SAMPLE)).status_code == 200

    records = await read_all(kafka_bootstrap, topics.video)

    ids_by_key: dict[bytes, list[bytes]] = {}
    for record in records:
        ids_by_key.setdefault(record.key, []).append(headers_of(record)["ce_id"])
    assert len(records) == 4
    assert all(len(ids) == 2 and ids[0] == ids[1] for ids in ids_by_key.values())


async def test_quirks_are_accepted_and_unknown_fields_kept(
    bridge: BridgeProcess, topics: Topics, kafka_bootstrap: str
) -> None:
    quirky = sample_video(
        videoId="QUIRKS",
        videoClassification="null",
        videoSize=11153160,
        createTime="1501578800",
        videoResolutions=[{"clarity": -99, "serverType": -1, "fileSize": 5579209}],
        vendorAddedLater={"still": "here"},
    )
    body = video_body(quirky, total="1")

    response = await post(bridge, body)

    assert response.status_code == 200
    [record] = await read_all(kafka_bootstrap, topics.video)
    assert record.value == item_slices(body, "videoListInfo")[0]
    assert json.loads(record.value)["vendorAddedLater"] == {"still": "here"}


async def test_item_without_video_id_is_dead_lettered_and_the_rest_forwarded(
    bridge: BridgeProcess, topics: Topics, kafka_bootstrap: str
) -> None:
    body = video_body(sample_video(videoId="GOOD"), sample_video(videoId=None))

    response = await post(bridge, body)

    assert response.status_code == 200
    assert response.json()["accepted"] == 1
    assert response.json()["deadLettered"] == 1
    [forwarded] = await read_all(kafka_bootstrap, topics.video)
    assert forwarded.key == b"GOOD"
    [letter] = await read_all(kafka_bootstrap, topics.dlq)
    assert letter.value == item_slices(body, "videoListInfo")[1]
    assert headers_of(letter)["dlq_reason"] == (
        b"Object missing required field `videoId` - at `$.data.videoListInfo[1]`"
    )
    assert headers_of(letter)["dlq_scope"] == b"item"


async def test_not_json_is_400_and_kept_in_the_dead_letter_topic(
    bridge: BridgeProcess, topics: Topics, kafka_bootstrap: str
) -> None:
    response = await post(bridge, b"code=200&data=oops")

    assert response.status_code == 400
    assert response.json()["message"].startswith("Body is not valid JSON: ")
    [letter] = await read_all(kafka_bootstrap, topics.dlq)
    assert letter.value == b"code=200&data=oops"
    assert headers_of(letter)["dlq_status"] == b"400"
    assert headers_of(letter)["dlq_route"] == b"/callbacks/video-upload"
    assert await read_all(kafka_bootstrap, topics.video) == []


async def test_wrong_shape_is_422_naming_the_path_and_kept(
    bridge: BridgeProcess, topics: Topics, kafka_bootstrap: str
) -> None:
    body = video_body(sample_video(videoResolutions="none"))

    response = await post(bridge, body)

    assert response.status_code == 422
    assert response.json() == {
        "code": 422,
        "message": "Expected `array | null`, got `str` - at "
        "`$.data.videoListInfo[0].videoResolutions`",
        "path": "$.data.videoListInfo[0].videoResolutions",
    }
    [letter] = await read_all(kafka_bootstrap, topics.dlq)
    assert letter.value == body


async def test_material_callback_end_to_end(
    bridge: BridgeProcess, topics: Topics, kafka_bootstrap: str
) -> None:
    body = (
        b'{"code":200,"data":{"materialList":[{"id":"M-1","name":"intro","suffix":"mp4",'
        b'"fileSize":2048,"url":"http://x.haplat.net/intro.mp4","createUser":"u",'
        b'"createTime":1501578866},{"id":"M-2"}],"total":"2"},"message":"success"}'
    )

    response = await post(bridge, body, route="/callbacks/material-upload")

    assert response.status_code == 200
    records = sorted(await read_all(kafka_bootstrap, topics.material), key=lambda r: r.key)
    assert [record.key for record in records] == [b"M-1", b"M-2"]
    assert [record.value for record in records] == item_slices(body, "materialList")
    assert headers_of(records[0])["ce_type"] == b"com.cdnetworks.cloudvod.material.uploaded"


async def test_broker_down_gives_503_in_time_and_recovery_without_restart(
    own_broker: LocalBroker, topics: Topics, tmp_path: Path
) -> None:
    settings = topics.settings(own_broker.bootstrap) | {"produce_timeout_seconds": "3"}
    posts = iter(range(1_000_000))

    def next_body() -> tuple[str, bytes]:
        """A callback of one video of its own, so that what landed can be told apart."""
        video_id = f"RECOVERY{next(posts):08d}"
        return video_id, video_body(sample_video(videoId=video_id))

    acknowledged: list[str] = []
    with BridgeProcess(tmp_path / "bridge.log", **settings) as bridge:
        video_id, body = next_body()
        assert (await post(bridge, body)).status_code == 200
        acknowledged.append(video_id)

        own_broker.stop()
        started = time.monotonic()
        response = await post(bridge, next_body()[1])
        elapsed = time.monotonic() - started

        assert response.status_code == 503
        assert response.headers["retry-after"] == "5"
        assert elapsed < 3 + 2  # the configured timeout, plus HTTP overhead

        own_broker.start()
        statuses = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            video_id, body = next_body()
            statuses.append((await post(bridge, body)).status_code)
            if statuses[-1] == 200:
                acknowledged.append(video_id)
                break
        assert statuses[-1] == 200
        assert set(statuses) <= {200, 503}
        assert bridge.exit_code() is None

    landed = {record.key.decode() for record in await read_all(own_broker.bootstrap, topics.video)}
    # Every acknowledged video is there; a 503'd attempt may have landed too (at least once).
    assert set(acknowledged) <= landed


async def test_missing_topics_stop_start_up_with_one_line(
    kafka_bootstrap: str, topics: Topics, tmp_path: Path
) -> None:
    settings = topics.settings(kafka_bootstrap) | {"create_topics": "false"}
    bridge = BridgeProcess(tmp_path / "bridge.log", **settings)

    with pytest.raises(RuntimeError, match="bridge exited with"):
        bridge.start()

    assert bridge.wait() != 0
    expected = (
        f"kafka topics missing: {', '.join(sorted([topics.dlq, topics.material, topics.video]))}"
        "; create them or set BRIDGE_CREATE_TOPICS=true"
    )
    assert expected in bridge.log()
    assert "Traceback" not in bridge.log()
