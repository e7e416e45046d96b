"""`bridge reconcile` end to end: `bridge serve`, a real broker, and the fake video API."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from bridge.kinds import VIDEO_UPLOAD
from bridge.settings import load_settings
from bridge.tools import reconcile as runs
from bridge.tools.run_stats import RunStats
from bridge.tools.windows import Window
from tests.fake_vod_api import FAST_API, Catalogue, FakeVideoApi, video, video_id
from tests.kafka_tools import create_topics, java_partition, read_all, unique_topic
from tests.servers import BridgeProcess, bridge_env, fresh_settings

pytestmark = pytest.mark.kafka

ACCESS_KEY = "ak-reconcile-test"
SECRET_KEY = "sk-reconcile-test-0123456789"
CREDENTIAL_HINT = "check BRIDGE_VOD_ACCESS_KEY, BRIDGE_VOD_SECRET_KEY and BRIDGE_VOD_AUTH_SCHEME"


class Run(NamedTuple):
    code: int
    stdout: str
    stderr: str
    stats: dict[str, Any]

    @property
    def last_line(self) -> str:
        return self.stderr.strip().splitlines()[-1]


def reconcile(settings: dict[str, str], *args: str) -> Run:
    done = subprocess.run(
        [sys.executable, "-m", "bridge", "reconcile", *args],
        env=bridge_env(settings),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    stats: dict[str, Any] = {}
    for line in done.stderr.splitlines():
        if line.startswith("{") and json.loads(line)["event"] == "reconciliation run finished":
            stats = json.loads(line)
    return Run(done.returncode, done.stdout, done.stderr, stats)


async def reconcile_here(
    settings: dict[str, str], start: datetime, end: datetime, *, dry_run: bool = False
) -> tuple[RunStats, list[dict[str, Any]]]:
    """The same run in this process, with its --dry-run listing: no interpreter to start."""
    out = io.StringIO()
    environ = {f"BRIDGE_{name.upper()}": value for name, value in settings.items()}
    stats = await runs.reconcile(
        load_settings(environ), Window(start, end), dry_run=dry_run, out=out
    )
    return stats, [json.loads(line) for line in out.getvalue().splitlines()]


def window_args(start: datetime, end: datetime) -> list[str]:
    return ["--since", start.isoformat(), "--until", end.isoformat()]


def catalogue_of(count: int, start: datetime) -> Catalogue:
    """`count` videos uploaded 3 s apart from `start` on."""
    first = int(start.timestamp())
    return Catalogue([video(n, first + 3 * n) for n in range(count)])


def by_key(records: list[Any]) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {}
    for record in records:
        found.setdefault(record.key.decode(), []).append(record)
    return found


def reconciled(records: list[Any]) -> list[Any]:
    return [r for r in records if ("ce_origin", b"reconciliation") in r.headers]


@pytest.fixture
def window() -> Iterator[tuple[datetime, datetime]]:
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    yield start, start + timedelta(hours=1)


async def test_reconcile_produces_exactly_what_the_callbacks_missed(
    kafka_bootstrap: str, tmp_path: Path, window: tuple[datetime, datetime]
) -> None:
    start, end = window
    catalogue = catalogue_of(1000, start)
    items = catalogue.items()
    missed = {video_id(item) for n, item in enumerate(items) if n % 20 == 7}
    delivered = [item for item in items if video_id(item) not in missed]
    settings = fresh_settings(kafka_bootstrap, allow_unauthenticated="true")
    topic = settings["topic_video_upload"]
    await create_topics(kafka_bootstrap, topic, partitions=3)
    # First in the topic, a record of a missed video from before the window and its slack
    # (within the broker's retention): not read, so the video is still produced.
    old = next(item for item in items if video_id(item) in missed)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        long_ago = int((start - timedelta(hours=1)).timestamp() * 1000)
        await producer.send_and_wait(topic, old, key=video_id(old).encode(), timestamp_ms=long_ago)
    finally:
        await producer.stop()

    with BridgeProcess(tmp_path / "bridge.log", **settings) as bridge:
        async with httpx.AsyncClient() as client:
            for offset in range(0, len(delivered), 50):
                body = VIDEO_UPLOAD.body_for(delivered[offset : offset + 50])
                answer = await client.post(
                    bridge.url + "/callbacks/video-upload",
                    content=body,
                    headers={"Content-Type": "application/json"},
                )
                assert answer.status_code == 200, answer.text

    with FakeVideoApi(catalogue, access_key=ACCESS_KEY, secret_key=SECRET_KEY) as api:
        settings.update(api.client_settings(), **FAST_API)

        dry, listing = await reconcile_here(settings, start, end, dry_run=True)
        assert (dry.complete, dry.produced) == (True, 50)
        assert sorted(line["videoId"] for line in listing) == sorted(missed)
        assert {line["reason"] for line in listing} == {"missing"}
        assert len(await read_all(kafka_bootstrap, topic)) == 951

        first = reconcile(settings, *window_args(start, end))
        assert first.code == 0, first.stderr
        assert {k: first.stats[k] for k in ("videos_listed", "already_present", "produced")} == {
            "videos_listed": 1000,
            "already_present": 950,
            "produced": 50,
        }
        assert (first.stats["api_calls"], first.stats["api_errors"]) == (21, 0)
        assert first.stats["complete"] is True
        records = await read_all(kafka_bootstrap, topic)
        produced = reconciled(records)
        assert len(records) == 1001
        assert sorted(r.key.decode() for r in produced) == sorted(missed)
        expected = {video_id(item): item for item in items}
        for record in produced:
            key = record.key.decode()
            headers = dict(record.headers)
            assert record.value == expected[key]
            assert headers["ce_subject"] == record.key
            assert headers["ce_type"] == b"com.cdnetworks.cloudvod.video.uploaded"
            assert headers["ce_specversion"] == b"1.0"
            assert headers["content-type"] == b"application/json"
            assert record.partition == java_partition(record.key, 3)
        # The callback path's records carry no origin header.
        assert len([r for r in records if "ce_origin" in dict(r.headers)]) == 50

        second, _ = await reconcile_here(settings, start, end)
        assert (second.complete, second.produced, second.already_present) == (True, 0, 1000)
        assert len(await read_all(kafka_bootstrap, topic)) == 1001

        edited_id = video_id(delivered[3])
        edited = catalogue.update(edited_id, updateTime=str(int(time.time())), videoName="renamed")
        third, newer = await reconcile_here(settings, start, end, dry_run=True)
        fourth, _ = await reconcile_here(settings, start, end)
        fifth, _ = await reconcile_here(settings, start, end)

    assert newer == [{"videoId": edited_id, "reason": "newer"}]
    assert (third.produced, fourth.produced, fifth.produced) == (1, 1, 0)
    records = await read_all(kafka_bootstrap, topic)
    assert len(records) == 1002
    latest = by_key(records)[edited_id]
    assert [r.value for r in latest] == [delivered[3], edited]


async def test_rate_limit_answers_slow_the_run_and_it_completes(
    kafka_bootstrap: str, window: tuple[datetime, datetime], caplog: pytest.LogCaptureFixture
) -> None:
    start, end = window
    topic = unique_topic("video")
    await create_topics(kafka_bootstrap, topic)
    catalogue = catalogue_of(200, start)
    with FakeVideoApi(catalogue, access_key=ACCESS_KEY, secret_key=SECRET_KEY, scheme="cnc") as api:
        api.throttle(5)
        settings = {
            "kafka_bootstrap_servers": kafka_bootstrap,
            "topic_video_upload": topic,
            **api.client_settings(),
            **FAST_API,
        }
        with caplog.at_level(logging.WARNING, logger="bridge.vod"):
            stats, _ = await reconcile_here(settings, start, end)

        assert api.answers[429] == 5
    waits = [
        (record.getMessage(), getattr(record, "retry_in_seconds", None))
        for record in caplog.records
    ]
    assert waits == [
        ("video API call failed; retrying", wait) for wait in (0.01, 0.02, 0.04, 0.08, 0.16)
    ]
    assert stats.complete is True
    assert (stats.produced, stats.api_calls, stats.api_rate_limited) == (200, 10, 5)
    assert sorted(r.key.decode() for r in await read_all(kafka_bootstrap, topic)) == sorted(
        video_id(item) for item in catalogue.items()
    )


async def test_a_wrong_secret_fails_in_one_line_and_produces_nothing(
    kafka_bootstrap: str, window: tuple[datetime, datetime]
) -> None:
    start, end = window
    topic = unique_topic("video")
    await create_topics(kafka_bootstrap, topic)
    with FakeVideoApi(catalogue_of(10, start), access_key=ACCESS_KEY, secret_key=SECRET_KEY) as api:
        settings = {
            "kafka_bootstrap_servers": kafka_bootstrap,
            "topic_video_upload": topic,
            **api.client_settings(),
            "vod_secret_key": "not-the-secret-key",
            **FAST_API,
        }
        run = reconcile(settings, *window_args(start, end))

    assert run.code == 1
    assert run.last_line == (
        "bridge: reconcile failed: the video API refused the call: code 401: "
        f"Signature does not match; {CREDENTIAL_HINT}"
    )
    assert run.stats["complete"] is False
    assert await read_all(kafka_bootstrap, topic) == []
