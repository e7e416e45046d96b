"""The README's example, as written: send the vendor sample, then read the records back."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.kafka_tools import read_all
from tests.samples import SAMPLE_VIDEO_IDS, VIDEO_SAMPLE, item_slices
from tests.servers import BridgeProcess, fresh_settings


@pytest.fixture
def bridge(kafka_bootstrap: str, tmp_path: Path) -> Iterator[BridgeProcess]:
    settings = fresh_settings(kafka_bootstrap, allow_unauthenticated="true")
    with BridgeProcess(tmp_path / "bridge.log", **settings) as process:
        yield process


@pytest.mark.kafka
def test_send_then_consume_as_in_the_readme(bridge: BridgeProcess) -> None:
    sent = bridge.command("send", "examples/video-upload-callback.json")

    assert sent.returncode == 0, sent.stderr
    assert sent.stdout == ('200 {"code":200,"message":"success","accepted":2,"deadLettered":0}\n')

    consumed = bridge.command("consume", "--from-beginning", "--max-records", "2")

    assert consumed.returncode == 0, consumed.stderr
    lines = [json.loads(line) for line in consumed.stdout.splitlines()]
    assert sorted(line["key"] for line in lines) == sorted(SAMPLE_VIDEO_IDS)
    values = {line["key"]: line["value"] for line in lines}
    for video_id, raw in zip(
        SAMPLE_VIDEO_IDS, item_slices(VIDEO_SAMPLE, "videoListInfo"), strict=True
    ):
        assert values[video_id] == json.loads(raw)
    assert all(line["headers"]["ce_subject"] == line["key"] for line in lines)


@pytest.mark.kafka
@pytest.mark.parametrize("header", ["X-Gateway-Token", ""], ids=["custom-header", "in-the-path"])
def test_send_puts_the_token_where_the_bridge_reads_it(
    kafka_bootstrap: str, tmp_path: Path, header: str
) -> None:
    settings = fresh_settings(
        kafka_bootstrap, auth_tokens="cli-token-0123456789", auth_header=header
    )
    with BridgeProcess(tmp_path / "bridge.log", **settings) as bridge:
        refused = bridge.command("send", "examples/video-upload-callback.json")
        sent = bridge.command(
            "send", "examples/video-upload-callback.json", "--token", "cli-token-0123456789"
        )

    assert refused.stdout == '401 {"code":401,"message":"Missing callback credentials"}\n'
    assert sent.returncode == 0, sent.stderr
    assert sent.stdout == ('200 {"code":200,"message":"success","accepted":2,"deadLettered":0}\n')
    landed = asyncio.run(read_all(kafka_bootstrap, settings["topic_video_upload"]))
    assert sorted(record.key.decode() for record in landed) == sorted(SAMPLE_VIDEO_IDS)
